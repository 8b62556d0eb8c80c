import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployVersion } from '../../../../core/use-cases/endpoints.js';
import * as deleteSecret from '../../../../functions/api/delete-secret.js';
import * as deployVersionRoute from '../../../../functions/api/deploy-version.js';
import * as getSecret from '../../../../functions/api/get-secret.js';
import * as listSecrets from '../../../../functions/api/list-secrets.js';
import * as putSecret from '../../../../functions/api/put-secret.js';
import { useDeps } from '../../../../functions/shared/container.js';
import {
  callRoute,
  type FakeDeps,
  givenModel,
  givenVersion,
  makeDeps,
  PROJECT,
  runWorkflow,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(async () => {
  deps = makeDeps();
  useDeps(deps);
  await givenModel(deps);
});
afterEach(() => {
  useDeps(undefined);
});

const TOKEN = 'tok-3f9a1c-very-secret';
const NAME_RULE = 'must be 1-63 characters of letters, digits, ".", "_" and "-", starting with a letter or a digit';
const put = (name: string, body: unknown, project = PROJECT) =>
  callRoute(putSecret, { pathParameters: { project, name }, body });

describe('Handler: PUT /v1/projects/{project}/secrets/{name}', () => {
  it('should answer 201 with metadata, location and etag on create, and 200 on replace', async () => {
    const created = await put('api-token', { value: TOKEN });
    const replaced = await put('api-token', { value: 'rotated' });

    expect(created.status).toBe(201);
    expect(created.headers['location']).toBe(`/v1/projects/${PROJECT}/secrets/api-token`);
    expect(created.headers['etag']).toBe('"1"');
    expect(created.body).toEqual({
      project: PROJECT,
      name: 'api-token',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });
    expect(replaced.status).toBe(200);
    expect(replaced.headers['etag']).toBe('"2"');
    expect(replaced.body).toMatchObject({ name: 'api-token', revision: 2 });
    for (const res of [created, replaced]) {
      expect(JSON.stringify(res.body)).not.toContain(TOKEN);
      expect(JSON.stringify(res.body)).not.toContain('rotated');
      expect(res.body).not.toHaveProperty('value');
    }
  });

  it.each(['-leading', '.dot', 'has space', 'slash%2Fx', 'a'.repeat(64), 'ümlaut'])(
    'should answer 400 with the naming rule for the name %j',
    async (name) => {
      const res = await put(name, { value: TOKEN });

      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: `path.name: ${NAME_RULE}` });
      expect(deps.secrets.size).toBe(0);
    },
  );

  it.each([
    ['no body', undefined, 'a JSON request body is required'],
    ['no value', {}, 'body.value: is required'],
    ['an empty value', { value: '' }, 'body.value: must not be empty'],
    ['a value that is not a string', { value: 42 }, 'body.value: Invalid input: expected string, received number'],
    ['an unknown field', { value: 'x', ttl: 5 }, 'body.ttl: is not a known field'],
    ['a value over 32 KiB', { value: 'x'.repeat(32 * 1024 + 1) }, 'body.value: must be at most 32768 bytes (UTF-8)'],
  ])('should answer 400 for %s', async (_, body, message) => {
    const res = await put('api-token', body);

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(message);
    expect(deps.secrets.size).toBe(0);
  });

  it('should accept a value of exactly 32 KiB', async () => {
    expect((await put('big', { value: 'x'.repeat(32 * 1024) })).status).toBe(201);
  });

  it('should answer 412 for a stale If-Match and replace with the current one', async () => {
    await put('api-token', { value: TOKEN });
    const params = { pathParameters: { project: PROJECT, name: 'api-token' }, body: { value: 'rotated' } };

    const stale = await callRoute(putSecret, { ...params, headers: { 'if-match': '"2"' } });
    const fresh = await callRoute(putSecret, { ...params, headers: { 'if-match': '"1"' } });

    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
    expect(fresh.status).toBe(200);
    expect(fresh.headers['etag']).toBe('"2"');
  });

  it('should answer 404 for an unknown project', async () => {
    const res = await put('api-token', { value: TOKEN }, 'nowhere');

    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe('project "nowhere" not found');
  });
});

describe('Handler: GET /v1/projects/{project}/secrets[/{name}]', () => {
  it('should answer the metadata of a secret, never its value', async () => {
    await put('api-token', { value: TOKEN });

    const res = await callRoute(getSecret, { pathParameters: { project: PROJECT, name: 'api-token' } });

    expect(res.status).toBe(200);
    expect(res.headers['etag']).toBe('"1"');
    expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'name', 'project', 'revision', 'updatedAt']);
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
  });

  it('should answer 404 for an unknown secret and 400 for a bad name', async () => {
    const missing = await callRoute(getSecret, { pathParameters: { project: PROJECT, name: 'nope' } });
    const bad = await callRoute(getSecret, { pathParameters: { project: PROJECT, name: '_nope' } });

    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'NOT_FOUND', details: { project: PROJECT, name: 'nope' } });
    expect(bad.status).toBe(400);
  });

  it('should list metadata page by page', async () => {
    for (const name of ['c', 'a', 'b']) await put(name, { value: `${TOKEN}-${name}` });

    const first = await callRoute(listSecrets, { pathParameters: { project: PROJECT }, query: { limit: '2' } });
    const second = await callRoute(listSecrets, {
      pathParameters: { project: PROJECT },
      query: { limit: '2', cursor: first.body.nextCursor },
    });

    expect(first.status).toBe(200);
    expect(first.body.items.map((s: { name: string }) => s.name)).toEqual(['a', 'b']);
    expect(second.body).toMatchObject({ items: [{ name: 'c' }], nextCursor: null });
    expect(JSON.stringify([first.body, second.body])).not.toContain(TOKEN);
  });
});

describe('Handler: DELETE /v1/projects/{project}/secrets/{name}', () => {
  const del = (name: string) => callRoute(deleteSecret, { pathParameters: { project: PROJECT, name } });

  it('should answer 204 without a body, then 404', async () => {
    await put('api-token', { value: TOKEN });

    const res = await del('api-token');
    const again = await del('api-token');

    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expect(again.status).toBe(404);
  });

  it('should answer 412 for a stale If-Match and keep the secret', async () => {
    await put('api-token', { value: TOKEN });

    const res = await callRoute(deleteSecret, {
      pathParameters: { project: PROJECT, name: 'api-token' },
      headers: { 'if-match': '"3"' },
    });

    expect(res.status).toBe(412);
    expect(deps.secrets.size).toBe(1);
  });

  it('should answer 409 SECRET_IN_USE while a running version endpoint maps it', async () => {
    await put('api-token', { value: TOKEN });
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), { secrets: { API_TOKEN: 'api-token' } });
    await runWorkflow(deps, d.id);

    const res = await del('api-token');

    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('SECRET_IN_USE');
    expect(res.body.error.message).toContain(`${PROJECT}/iris version 1 in environment "local" (API_TOKEN)`);
    expect(res.body.error.details.endpoints[0].endpoint).toBe(
      `/v1/projects/${PROJECT}/models/iris/versions/1/endpoints/local`,
    );
    expect(deps.secrets.size).toBe(1);
  });
});

describe('Handler: POST …/endpoints with secrets', () => {
  const deploy = (body: unknown) =>
    callRoute(deployVersionRoute, {
      pathParameters: { project: PROJECT, model: 'iris', version: '1' },
      body,
    });

  it('should answer 202 with the mapping, never the value, when the secrets exist', async () => {
    await put('api-token', { value: TOKEN });
    await givenVersion(deps);

    const res = await deploy({ secrets: { API_TOKEN: 'api-token' } });

    expect(res.status).toBe(202);
    expect(res.body.request.secrets).toEqual({ API_TOKEN: 'api-token' });
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
  });

  it('should answer 422 SECRET_NOT_FOUND naming the missing secret', async () => {
    await givenVersion(deps);

    const res = await deploy({ secrets: { API_TOKEN: 'api-token' } });

    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'SECRET_NOT_FOUND', details: { missing: ['api-token'] } });
  });

  it('should answer 400 for a bad secret name or variable name in the mapping', async () => {
    await givenVersion(deps);

    const badSecret = await deploy({ secrets: { API_TOKEN: '-x' } });
    const badVariable = await deploy({ secrets: { 'API-TOKEN': 'api-token' } });

    expect(badSecret.status).toBe(400);
    expect(badSecret.body.error.message).toBe(`body.secrets.API_TOKEN: ${NAME_RULE}`);
    expect(badVariable.status).toBe(400);
  });
});
