import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DependencyError } from '../../../../core/errors.js';
import * as createProject from '../../../../functions/api/create-project.js';
import * as createVersion from '../../../../functions/api/create-version.js';
import * as getHealth from '../../../../functions/api/get-health.js';
import * as getProject from '../../../../functions/api/get-project.js';
import * as listProjects from '../../../../functions/api/list-projects.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { errorResponse, HttpError } from '../../../../functions/shared/http-errors.js';
import { callRoute, type FakeDeps, givenModel, makeDeps } from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
  useDeps(deps);
});
afterEach(() => {
  useDeps(undefined);
  vi.restoreAllMocks();
});

describe('Use case: the HTTP error shape', () => {
  it('should answer {"error":{code,message,details?},"requestId"} as JSON', async () => {
    // Act
    const res = await callRoute(getProject, { pathParameters: { project: 'ghost' }, requestId: 'req-42' });

    // Assess
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({
      error: { code: 'NOT_FOUND', message: 'project "ghost" not found', details: { project: 'ghost' } },
      requestId: 'req-42',
    });
  });

  it('should map each error class to exactly one status', () => {
    const statusOf = (e: unknown) => errorResponse(e, 'r').statusCode;
    vi.spyOn(console, 'error').mockImplementation(() => undefined);

    expect(statusOf(new DependencyError('down'))).toBe(503);
    expect(statusOf(new HttpError(413, 'PAYLOAD_TOO_LARGE', 'big'))).toBe(413);
    expect(statusOf(new TypeError('x'))).toBe(500);
    expect(JSON.parse(errorResponse(new DependencyError('down'), undefined).body!)).toEqual({
      error: { code: 'DEPENDENCY_UNAVAILABLE', message: 'down' },
      requestId: null,
    });
  });
});

describe('Use case: parsing the request body', () => {
  it('should answer 400 "not valid JSON" for a malformed JSON body', async () => {
    const res = await callRoute(createProject, {
      body: '{"name": "fraud"',
      headers: { 'content-type': 'application/json' },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toMatch(/^request body is not valid JSON: /);
  });

  it('should answer 400 for malformed JSON without a content-type', async () => {
    const res = await callRoute(createProject, { body: 'name=fraud' });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('not valid JSON');
  });

  it('should answer 415 for a non-JSON body sent as text/plain, whatever the header case', async () => {
    const res = await callRoute(createProject, { body: 'fraud-detection', headers: { 'Content-Type': 'text/plain' } });

    expect(res.status).toBe(415);
    expect(res.body.error).toEqual({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'send the body as JSON with content-type: application/json (got text/plain)',
    });
  });

  it('should treat application/json with parameters and +json types as JSON (400, not 415)', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      const res = await callRoute(createProject, { body: '{oops', headers: { 'content-type': type } });
      expect(res.status).toBe(400);
    }
  });

  it('should accept a JSON body whatever the content-type says (curl -d)', async () => {
    const res = await callRoute(createProject, {
      body: '{"name":"fraud-detection"}',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    expect(res.status).toBe(201);
  });

  it('should decode a base64-encoded body', async () => {
    const res = await callRoute(createProject, {
      body: Buffer.from('{"name":"fraud-detection"}').toString('base64'),
      isBase64Encoded: true,
    });

    expect(res.status).toBe(201);
    expect(res.body.name).toBe('fraud-detection');
  });

  it('should answer 413 for a body over 1 MiB', async () => {
    const res = await callRoute(createProject, {
      body: { name: 'fraud-detection', description: 'x'.repeat(1024 * 1024) },
    });

    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('should answer 400 naming an unknown body field', async () => {
    const res = await callRoute(createProject, { body: { name: 'fraud-detection', owner: 'me' } });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('body.owner: is not a known field');
    expect(res.body.error.details).toEqual({ problems: [{ path: 'body.owner', message: 'is not a known field' }] });
  });

  it('should answer 400 when a required body is missing', async () => {
    const res = await callRoute(createProject, {});

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('a JSON request body is required');
  });

  it('should read a missing optional body as {}', async () => {
    await givenModel(deps);

    const res = await callRoute(createVersion, { pathParameters: { project: 'fraud-detection', model: 'iris' } });

    expect(res.status).toBe(201);
    expect(res.body.version).toBe(1);
  });
});

describe('Use case: shaping the response', () => {
  it('should send the entity revision as a quoted etag and expose etag and location to browsers', async () => {
    const res = await callRoute(createProject, {
      body: { name: 'fraud-detection' },
      headers: { origin: 'https://ui.test' },
    });

    expect(res.headers['etag']).toBe('"1"');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-expose-headers']).toBe('etag,location,idempotent-replayed');
  });

  it('should send no etag for a body without a revision', async () => {
    const res = await callRoute(getHealth);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['etag']).toBeUndefined();
  });

  it('should answer 400 for an unknown query parameter and for limit=1000', async () => {
    const unknown = await callRoute(listProjects, { query: { page: '2' } });
    const tooBig = await callRoute(listProjects, { query: { limit: '1000' } });

    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toBe('query.page: is not a known field');
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toMatch(/^query\.limit: /);
    expect(tooBig.body.error.message).toContain('100');
  });
});

describe('Use case: an unexpected failure', () => {
  it('should answer 500 INTERNAL without internals, and log the error with the request id', async () => {
    // Prepare
    // Powertools' logger writes JSON lines to its own console on stderr.
    const log = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    deps.projects.failNext(
      'get',
      new TypeError("Cannot read properties of undefined (reading 'Item') at /var/task/secret.js"),
    );

    // Act
    const res = await callRoute(getProject, { pathParameters: { project: 'fraud-detection' }, requestId: 'req-500' });

    // Assess
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: { code: 'INTERNAL', message: 'internal error; the request id identifies it in the logs' },
      requestId: 'req-500',
    });
    expect(JSON.stringify(res.body)).not.toMatch(/Item|secret|TypeError/);
    const lines = log.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('unhandled error'));
    log.mockRestore();
    expect(lines).toHaveLength(1);
    const logged = JSON.parse(lines[0]!);
    expect(logged).toMatchObject({
      level: 'ERROR',
      message: 'unhandled error',
      service: 'merlin',
      requestId: 'req-500',
      correlation_id: 'req-500',
    });
    expect(logged.error).toMatchObject({ name: 'TypeError' });
  });

  it('should answer 503 for a DependencyError', async () => {
    deps.projects.failNext('get', new DependencyError('DynamoDB get project failed: ServiceUnavailable'));

    const res = await callRoute(getProject, { pathParameters: { project: 'fraud-detection' } });

    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
  });
});
