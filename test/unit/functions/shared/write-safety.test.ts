import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as createModel from '../../../../functions/api/create-model.js';
import * as createProject from '../../../../functions/api/create-project.js';
import * as createVersion from '../../../../functions/api/create-version.js';
import * as patchProject from '../../../../functions/api/patch-project.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { callRoute, type FakeDeps, makeDeps } from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
  useDeps(deps);
});
afterEach(() => useDeps(undefined));

describe('Write safety: Idempotency-Key on POSTs', () => {
  it('should answer a retry with the same key and body with the same response, doing the work once', async () => {
    const headers = { 'idempotency-key': 'create-fraud-1' };
    const first = await callRoute(createProject, { body: { name: 'fraud' }, headers });
    const retry = await callRoute(createProject, { body: { name: 'fraud' }, headers });

    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.headers.location).toBe('/v1/projects/fraud');
    expect(deps.projects.size).toBe(1);
  });

  it('should treat the same JSON with other formatting or key order as the same body', async () => {
    await callRoute(createProject, {
      body: { name: 'fraud', labels: { a: 'x', b: 'y' } },
      headers: { 'idempotency-key': 'k1' },
    });
    const retry = await callRoute(createProject, {
      body: '{ "labels": {"b":"y","a":"x"}, "name": "fraud" }',
      headers: { 'idempotency-key': 'k1', 'content-type': 'application/json' },
    });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
  });

  it('should refuse the same key with a different body (422) and change nothing', async () => {
    await callRoute(createProject, { body: { name: 'fraud' }, headers: { 'idempotency-key': 'k2' } });
    const other = await callRoute(createProject, { body: { name: 'other' }, headers: { 'idempotency-key': 'k2' } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(deps.projects.size).toBe(1);
  });

  it('should replay a 4xx answer too (the same request fails the same way)', async () => {
    await callRoute(createProject, { body: { name: 'fraud' } });
    const headers = { 'idempotency-key': 'k3' };
    const first = await callRoute(createProject, { body: { name: 'fraud' }, headers });
    const retry = await callRoute(createProject, { body: { name: 'fraud' }, headers });
    expect(first.status).toBe(409);
    expect(retry.status).toBe(409);
    expect(retry.body).toEqual(first.body);
  });

  it('should create one version for retried version creations (no duplicate numbers)', async () => {
    await callRoute(createProject, { body: { name: 'fraud' } });
    await callRoute(createModel, { pathParameters: { project: 'fraud' }, body: { name: 'iris', type: 'onnx' } });
    const req = {
      pathParameters: { project: 'fraud', model: 'iris' },
      body: {},
      headers: { 'idempotency-key': 'v-1' },
    };
    const a = await callRoute(createVersion, req);
    const b = await callRoute(createVersion, req);
    expect(a.body.version).toBe(1);
    expect(b.body.version).toBe(1);
    expect((await deps.models.get({ project: 'fraud', model: 'iris' }))?.latestVersion).toBe(1);
  });

  it('should refuse a malformed key with 400 and let a key be used again once it expired', async () => {
    const bad = await callRoute(createProject, {
      body: { name: 'fraud' },
      headers: { 'idempotency-key': 'has space' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('Idempotency-Key');
    await callRoute(createProject, { body: { name: 'fraud' }, headers: { 'idempotency-key': 'k4' } });
    deps.clock.advanceSeconds(25 * 3600);
    const later = await callRoute(createProject, { body: { name: 'fraud' }, headers: { 'idempotency-key': 'k4' } });
    expect(later.status).toBe(409);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('Write safety: revisions, ETag and If-Match', () => {
  beforeEach(async () => {
    await callRoute(createProject, { body: { name: 'fraud' } });
  });

  it('should change with the current ETag and answer the new one', async () => {
    const res = await callRoute(patchProject, {
      pathParameters: { project: 'fraud' },
      body: { description: 'risk models' },
      headers: { 'if-match': '"1"' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"2"');
    expect(res.body).toMatchObject({ description: 'risk models', revision: 2 });
  });

  it('should answer 412 for a stale If-Match, naming the current revision, and change nothing', async () => {
    await callRoute(patchProject, { pathParameters: { project: 'fraud' }, body: { description: 'one' } });
    const stale = await callRoute(patchProject, {
      pathParameters: { project: 'fraud' },
      body: { description: 'two' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.error).toMatchObject({ code: 'PRECONDITION_FAILED', details: { revision: 2 } });
    expect((await deps.projects.get({ project: 'fraud' }))?.description).toBe('one');
  });

  it('should accept If-Match: * and a weak ETag, and refuse a malformed one with 400', async () => {
    const any = await callRoute(patchProject, {
      pathParameters: { project: 'fraud' },
      body: { labels: { a: 'b' } },
      headers: { 'if-match': '*' },
    });
    expect(any.status).toBe(200);
    const weak = await callRoute(patchProject, {
      pathParameters: { project: 'fraud' },
      body: { labels: { a: 'c' } },
      headers: { 'if-match': 'W/"2"' },
    });
    expect(weak.status).toBe(200);
    const bad = await callRoute(patchProject, {
      pathParameters: { project: 'fraud' },
      body: { labels: {} },
      headers: { 'if-match': 'yesterday' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('If-Match');
  });
});
