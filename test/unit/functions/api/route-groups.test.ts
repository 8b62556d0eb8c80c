import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as createProject from '../../../../functions/api/create-project.js';
import * as getHealth from '../../../../functions/api/get-health.js';
import { API_ROUTES, ROUTE_GROUPS, type RouteGroup } from '../../../../functions/api/routes.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { routeGroup } from '../../../../functions/shared/http-handler.js';
import { apiEvent, type FakeDeps, lambdaContext, makeDeps } from '../../../fakes/index.js';

interface GroupModule {
  handler: ((event: unknown, context: unknown) => Promise<{ statusCode?: number; body?: string }>) & {
    routeKeys: string[];
  };
}
const GROUPS_DIR = new URL('../../../../functions/api/groups/', import.meta.url);
const loadGroup = (group: RouteGroup): Promise<GroupModule> => import(new URL(`${group}.ts`, GROUPS_DIR).href);

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
  useDeps(deps);
});
afterEach(() => {
  useDeps(undefined);
});

describe('Route groups: one Lambda per group (functions/api/groups)', () => {
  it('should put every route in exactly one group, each group with a module and at least one route', () => {
    for (const r of API_ROUTES) expect(ROUTE_GROUPS, r.entry).toContain(r.group);
    for (const group of ROUTE_GROUPS) {
      expect(existsSync(new URL(`${group}.ts`, GROUPS_DIR)), group).toBe(true);
      expect(API_ROUTES.filter((r) => r.group === group).length, group).toBeGreaterThan(0);
    }
  });

  it.each([...ROUTE_GROUPS])(
    'should dispatch every route of the %s group to that route and no other',
    async (group) => {
      const { handler } = await loadGroup(group);

      expect([...handler.routeKeys].sort()).toEqual(
        API_ROUTES.filter((r) => r.group === group)
          .map((r) => `${r.method} ${r.path}`)
          .sort(),
      );
      const foreign = API_ROUTES.find((r) => r.group !== group)!;
      const res = await handler(apiEvent({ method: foreign.method, path: foreign.path }), lambdaContext());
      expect(res.statusCode).toBe(404);
      expect(JSON.parse(res.body ?? '{}').error.code).toBe('NOT_FOUND');
    },
  );

  it('should answer through the group exactly as the route handler does (health, create project)', async () => {
    const meta = await loadGroup('meta');
    const projects = await loadGroup('projects');

    const health = await meta.handler(apiEvent({ method: 'GET', path: '/healthz' }), lambdaContext());
    const created = await projects.handler(
      apiEvent({ method: 'POST', path: '/v1/projects', body: { name: 'fraud-detection' } }),
      lambdaContext(),
    );

    expect(health.statusCode).toBe(200);
    expect(JSON.parse(health.body ?? '')).toEqual({ status: 'ok' });
    expect(created.statusCode).toBe(201);
    expect(JSON.parse(created.body ?? '')).toMatchObject({ name: 'fraud-detection' });
    expect(deps.projects.peek({ project: 'fraud-detection' })).toBeDefined();
  });

  it('should refuse to build a group whose routes differ from the table (missing or foreign routes)', () => {
    expect(() => routeGroup('meta', [getHealth])).toThrow(/route group "meta" does not match API_ROUTES: missing GET/);
    expect(() => routeGroup('projects', [createProject, getHealth])).toThrow(/not in the group GET \/healthz/);
  });
});
