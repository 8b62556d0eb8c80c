/**
 * Bad input on every route of the route table gets a 4xx in the error shape with a message saying what to fix, never
 * a 500: malformed JSON, unknown body fields, path parameters that break the naming rules, unknown query parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../../../functions/api/routes.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { callRoute, givenRunningVersion, makeDeps, type RouteModule } from '../../../fakes/index.js';

const GOOD: Record<string, string> = {
  project: 'fraud-detection',
  model: 'iris',
  version: '1',
  environment: 'local',
  id: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
  name: 'api-token',
  action: 'artifact:upload',
};
const BAD: Record<string, string> = {
  project: 'Bad Project!',
  model: 'x',
  version: 'one',
  environment: 'NOPE_',
  id: 'not-a-ulid',
  name: '../etc',
  action: 'explode',
};

const load = (entry: string) => import(`../../../../functions/api/${entry}.ts`) as Promise<RouteModule>;
const paramsOf = (path: string, values: Record<string, string>) =>
  Object.fromEntries((path.match(/\{([^}]+)\}/g) ?? []).map((p) => [p.slice(1, -1), values[p.slice(1, -1)]!]));

const expectClientError = (
  res: { status: number; body: { error?: { code?: string; message?: string } } },
  what: string,
) => {
  expect(res.status, what).toBeGreaterThanOrEqual(400);
  expect(res.status, what).toBeLessThan(500);
  expect(res.body.error?.code, what).toEqual(expect.any(String));
  expect(res.body.error?.message?.length ?? 0, what).toBeGreaterThan(5);
};

describe('Every route: bad input is a 4xx that says what to fix, never a 500', () => {
  beforeAll(async () => {
    const deps = makeDeps();
    await givenRunningVersion(deps);
    useDeps(deps);
  });
  afterAll(() => useDeps(undefined));

  for (const r of API_ROUTES.filter((x) => x.path !== '/healthz' && x.path !== '/v1/openapi.json')) {
    const params = r.path.match(/\{[^}]+\}/g) ?? [];
    describe(`${r.method} ${r.path}`, () => {
      for (const p of params) {
        const name = p.slice(1, -1);
        it(`refuses a bad {${name}}`, async () => {
          const res = await callRoute(await load(r.entry), {
            pathParameters: { ...paramsOf(r.path, GOOD), [name]: BAD[name]! },
            ...(['POST', 'PUT', 'PATCH'].includes(r.method) && { body: {} }),
          });
          expectClientError(res, `${r.method} ${r.path} with ${name}=${BAD[name]}`);
        });
      }
      if (['POST', 'PUT', 'PATCH'].includes(r.method)) {
        it('refuses malformed JSON', async () => {
          const res = await callRoute(await load(r.entry), {
            pathParameters: paramsOf(r.path, GOOD),
            body: '{"half": ',
            headers: { 'content-type': 'application/json' },
          });
          expectClientError(res, 'malformed JSON');
          expect(res.body.error.message).toContain('not valid JSON');
        });
        it('refuses an unknown body field, naming it', async () => {
          const res = await callRoute(await load(r.entry), {
            pathParameters: paramsOf(r.path, GOOD),
            body: { surprise: true },
          });
          expectClientError(res, 'unknown field');
          expect(res.body.error.message).toContain('surprise');
        });
      }
      if (r.method === 'GET' && !params.length) {
        it('refuses an unknown query parameter', async () => {
          const res = await callRoute(await load(r.entry), { query: { colour: 'blue' } });
          expectClientError(res, 'unknown query parameter');
        });
      }
    });
  }
});
