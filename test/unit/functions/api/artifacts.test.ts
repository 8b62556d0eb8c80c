import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as getArtifact from '../../../../functions/api/get-artifact.js';
import * as postArtifactAction from '../../../../functions/api/post-artifact-action.js';
import { useDeps } from '../../../../functions/shared/container.js';
import {
  callRoute,
  type FakeDeps,
  givenVersion,
  makeDeps,
  sha256Hex,
  uploadFiles,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(async () => {
  deps = makeDeps();
  useDeps(deps);
  await givenVersion(deps, { complete: false });
});
afterEach(() => {
  useDeps(undefined);
});

const at = (action: string) => ({ project: 'fraud-detection', model: 'iris', version: '1', action });

describe('Handler: POST …/versions/{v}/artifact:upload', () => {
  it('should answer 200 with one presigned PUT per file', async () => {
    const res = await callRoute(postArtifactAction, {
      pathParameters: at('artifact:upload'),
      body: { files: [{ path: 'model.onnx', size: 10 }, { path: 'labels.txt' }] },
    });

    expect(res.status).toBe(200);
    expect(res.body.uploads.map((u: { path: string; method: string }) => [u.path, u.method])).toEqual([
      ['model.onnx', 'PUT'],
      ['labels.txt', 'PUT'],
    ]);
    expect(res.body.expiresAt).toBe('2025-01-01T01:00:00.000Z');
  });

  it('should answer 400 for a missing body, naming body.files', async () => {
    const res = await callRoute(postArtifactAction, { pathParameters: at('artifact:upload') });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('body.files: is required');
  });

  it('should answer 400 for a path escaping the artifact', async () => {
    const res = await callRoute(postArtifactAction, {
      pathParameters: at('artifact:upload'),
      body: { files: [{ path: '/abs/model.onnx' }] },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body\.files\.0\.path: must be a relative path/);
  });

  it('should answer 422 DUPLICATE_FILE for a file named twice', async () => {
    const res = await callRoute(postArtifactAction, {
      pathParameters: at('artifact:upload'),
      body: { files: [{ path: 'model.onnx' }, { path: 'model.onnx' }] },
    });

    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('DUPLICATE_FILE');
  });

  it('should answer 404 for a missing version', async () => {
    const res = await callRoute(postArtifactAction, {
      pathParameters: { ...at('artifact:upload'), version: '9' },
      body: { files: [{ path: 'model.onnx' }] },
    });

    expect(res.status).toBe(404);
  });
});

describe('Handler: POST …/versions/{v}/artifact:complete', () => {
  it('should answer 200 with the version, its artifact complete', async () => {
    const files = uploadFiles(deps, versionKey(1), { 'model.onnx': 'bytes' });

    const res = await callRoute(postArtifactAction, { pathParameters: at('artifact:complete'), body: { files } });

    expect(res.status).toBe(200);
    expect(res.headers['etag']).toBe('"2"');
    expect(res.body.artifact).toMatchObject({
      status: 'complete',
      files: [{ path: 'model.onnx', size: 5, sha256: sha256Hex('bytes') }],
    });
  });

  it('should answer 422 ARTIFACT_MISMATCH with every problem in details', async () => {
    const res = await callRoute(postArtifactAction, {
      pathParameters: at('artifact:complete'),
      body: { files: [{ path: 'model.onnx', size: 1, sha256: sha256Hex('x') }] },
    });

    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({
      code: 'ARTIFACT_MISMATCH',
      message: 'artifact verification failed: model.onnx: not uploaded',
      details: { files: [{ path: 'model.onnx', problem: 'not uploaded' }] },
    });
  });

  it('should answer 400 for a digest that is not SHA-256 hex', async () => {
    const res = await callRoute(postArtifactAction, {
      pathParameters: at('artifact:complete'),
      body: { files: [{ path: 'model.onnx', size: 1, sha256: 'abc' }] },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('body.files.0.sha256: must be a hex-encoded SHA-256 digest (64 hex digits)');
  });

  it('should answer 409 ARTIFACT_IMMUTABLE for another manifest after completion', async () => {
    const files = uploadFiles(deps, versionKey(1), { 'model.onnx': 'bytes' });
    await callRoute(postArtifactAction, { pathParameters: at('artifact:complete'), body: { files } });
    const more = uploadFiles(deps, versionKey(1), { 'more.txt': 'm' });

    const res = await callRoute(postArtifactAction, {
      pathParameters: at('artifact:complete'),
      body: { files: [...files, ...more] },
    });

    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('ARTIFACT_IMMUTABLE');
  });
});

describe('Handler: other artifact actions', () => {
  it.each(['artifact:delete', 'artifact', 'upload', 'endpoints'])(
    'should answer 404 for the action %j',
    async (action) => {
      const res = await callRoute(postArtifactAction, { pathParameters: at(action), body: { files: [] } });

      expect(res.status).toBe(404);
      expect(res.body.error).toEqual({
        code: 'NOT_FOUND',
        message: `unknown action "${action}"; use artifact:upload or artifact:complete`,
      });
    },
  );
});

describe('Handler: GET …/versions/{v}/artifact', () => {
  it('should answer the manifest with presigned GET URLs', async () => {
    const files = uploadFiles(deps, versionKey(1), { 'model.onnx': 'bytes' });
    await callRoute(postArtifactAction, { pathParameters: at('artifact:complete'), body: { files } });

    const res = await callRoute(getArtifact, {
      pathParameters: { project: 'fraud-detection', model: 'iris', version: '1' },
    });

    expect(res.status).toBe(200);
    expect(res.body.files).toEqual([
      expect.objectContaining({ path: 'model.onnx', url: expect.stringContaining('X-Amz-Method=GET') }),
    ]);
  });
});
