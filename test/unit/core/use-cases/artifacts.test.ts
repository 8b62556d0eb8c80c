import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, UnprocessableError } from '../../../../core/errors.js';
import {
  completeArtifact,
  DOWNLOAD_URL_TTL_SECONDS,
  getArtifact,
  requestArtifactUpload,
  UPLOAD_URL_TTL_SECONDS,
} from '../../../../core/use-cases/artifacts.js';
import { createVersion } from '../../../../core/use-cases/catalog.js';
import {
  type FakeDeps,
  givenModel,
  givenVersion,
  MODEL_KEY,
  makeDeps,
  rejectionOf,
  sha256Hex,
  uploadFiles,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
const v1 = versionKey(1);
const PREFIX = 'artifacts/fraud-detection/iris/1/';

beforeEach(async () => {
  deps = makeDeps();
  await givenModel(deps);
  await createVersion(deps, MODEL_KEY, {});
});

describe('Use case: requestArtifactUpload', () => {
  it('should answer one presigned PUT URL per file, under the version prefix, expiring in an hour', async () => {
    // Act
    const out = await requestArtifactUpload(deps, v1, {
      files: [
        { path: 'model.onnx', size: 1234, contentType: 'application/octet-stream' },
        { path: 'data/weights.bin' },
      ],
    });

    // Assess
    expect(out.uploads).toEqual([
      {
        path: 'model.onnx',
        method: 'PUT',
        url: `https://merlin-test-artifacts.s3.test.amazonaws.com/${PREFIX}model.onnx?X-Amz-Expires=3600&X-Amz-Method=PUT`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': '1234' },
      },
      {
        path: 'data/weights.bin',
        method: 'PUT',
        url: `https://merlin-test-artifacts.s3.test.amazonaws.com/${PREFIX}data/weights.bin?X-Amz-Expires=3600&X-Amz-Method=PUT`,
        headers: {},
      },
    ]);
    expect(out.expiresAt).toBe('2025-01-01T01:00:00.000Z');
    expect(deps.artifacts.presignedPuts.map((p) => [p.key, p.expiresInSeconds])).toEqual([
      [`${PREFIX}model.onnx`, UPLOAD_URL_TTL_SECONDS],
      [`${PREFIX}data/weights.bin`, UPLOAD_URL_TTL_SECONDS],
    ]);
  });

  it('should refuse a file named twice with 422 DUPLICATE_FILE and presign nothing', async () => {
    const error = await rejectionOf(
      requestArtifactUpload(deps, v1, { files: [{ path: 'model.onnx' }, { path: 'a.txt' }, { path: 'model.onnx' }] }),
    );

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('DUPLICATE_FILE');
    expect(error.message).toBe('file "model.onnx" is named twice');
    expect(deps.artifacts.presignedPuts).toHaveLength(0);
  });

  it('should refuse a complete artifact with 409 ARTIFACT_IMMUTABLE', async () => {
    // Prepare
    const files = uploadFiles(deps, v1, { 'model.onnx': 'bytes' });
    await completeArtifact(deps, v1, { files });

    // Act
    const error = await rejectionOf(requestArtifactUpload(deps, v1, { files: [{ path: 'extra.txt' }] }));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('ARTIFACT_IMMUTABLE');
    expect(error.message).toContain('fraud-detection/iris version 1 is complete and immutable');
  });

  it('should answer NotFoundError for a missing version', async () => {
    const error = await rejectionOf(requestArtifactUpload(deps, versionKey(7), { files: [{ path: 'model.onnx' }] }));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('fraud-detection/iris version 7 not found');
  });
});

describe('Use case: completeArtifact', () => {
  it('should verify the files and record the manifest sorted by path, marking the artifact complete', async () => {
    // Prepare
    const files = uploadFiles(deps, v1, { 'model.onnx': 'onnx-bytes', 'b/config.json': '{}', 'a.txt': 'hello' });
    deps.clock.advanceSeconds(30);

    // Act
    const version = await completeArtifact(deps, v1, { files });

    // Assess
    expect(version.artifact).toEqual({
      uri: `s3://merlin-test-artifacts/${PREFIX}`,
      status: 'complete',
      files: [
        { path: 'a.txt', size: 5, sha256: sha256Hex('hello') },
        { path: 'b/config.json', size: 2, sha256: sha256Hex('{}') },
        { path: 'model.onnx', size: 10, sha256: sha256Hex('onnx-bytes') },
      ],
      completedAt: '2025-01-01T00:00:30.000Z',
    });
    expect(version.revision).toBe(2);
    expect(version.updatedAt).toBe('2025-01-01T00:00:30.000Z');
    expect(deps.versions.peek(v1)).toEqual(version);
  });

  it('should accept an upper-case sha256 and record it in lower case', async () => {
    const [file] = uploadFiles(deps, v1, { 'model.onnx': 'x' });

    const version = await completeArtifact(deps, v1, { files: [{ ...file!, sha256: file!.sha256.toUpperCase() }] });

    expect(version.artifact.files[0]?.sha256).toBe(sha256Hex('x'));
  });

  it('should refuse with 422 ARTIFACT_MISMATCH listing every problem, and record nothing', async () => {
    // Prepare: one file missing, one of the wrong size, one with the wrong digest, one fine
    uploadFiles(deps, v1, { 'model.onnx': 'right', 'vocab.txt': 'abc', 'labels.txt': 'cats' });
    const wrongDigest = sha256Hex('dogs');

    // Act
    const error = await rejectionOf(
      completeArtifact(deps, v1, {
        files: [
          { path: 'model.onnx', size: 5, sha256: sha256Hex('right') },
          { path: 'vocab.txt', size: 4, sha256: sha256Hex('abc') },
          { path: 'missing.bin', size: 1, sha256: sha256Hex('z') },
          { path: 'labels.txt', size: 4, sha256: wrongDigest },
        ],
      }),
    );

    // Assess
    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('ARTIFACT_MISMATCH');
    expect(error.message).toBe(
      `artifact verification failed: labels.txt: sha256 is ${sha256Hex('cats')}, expected ${wrongDigest}; ` +
        'missing.bin: not uploaded; vocab.txt: size is 3 bytes, expected 4',
    );
    expect(error.details).toEqual({
      files: [
        { path: 'labels.txt', problem: `sha256 is ${sha256Hex('cats')}, expected ${wrongDigest}` },
        { path: 'missing.bin', problem: 'not uploaded' },
        { path: 'vocab.txt', problem: 'size is 3 bytes, expected 4' },
      ],
    });
    expect(deps.versions.count('put')).toBe(1); // only the createVersion of beforeEach
    expect(deps.versions.peek(v1)?.artifact).toMatchObject({ status: 'pending', files: [] });
  });

  it('should require the model file in the manifest with 422 MODEL_FILE_MISSING', async () => {
    const files = uploadFiles(deps, v1, { 'other.onnx': 'x' });

    const error = await rejectionOf(completeArtifact(deps, v1, { files }));

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('MODEL_FILE_MISSING');
    expect(error.message).toContain('the manifest must include the model file "model.onnx"');
    expect(error.details).toEqual({ modelFile: 'model.onnx' });
    expect(deps.versions.peek(v1)?.artifact.status).toBe('pending');
  });

  it('should look for a version-specific modelFile', async () => {
    const v2 = await createVersion(deps, MODEL_KEY, { modelFile: 'nested/clf.onnx' });
    const key = versionKey(v2.version);

    const missing = await rejectionOf(
      completeArtifact(deps, key, { files: uploadFiles(deps, key, { 'model.onnx': 'x' }) }),
    );
    const done = await completeArtifact(deps, key, {
      files: uploadFiles(deps, key, { 'model.onnx': 'x', 'nested/clf.onnx': 'y' }),
    });

    expect(missing.message).toContain('"nested/clf.onnx"');
    expect(done.artifact.files.map((f) => f.path)).toEqual(['model.onnx', 'nested/clf.onnx']);
  });

  it('should not require a model file for a custom model (modelFile "")', async () => {
    await givenModel(deps, { model: { project: 'fraud-detection', model: 'my-server' }, type: 'custom' });
    const v = await createVersion(
      deps,
      { project: 'fraud-detection', model: 'my-server' },
      { custom: { command: ['./run.sh'], protocol: 'v2' } },
    );
    const key = { project: 'fraud-detection', model: 'my-server', version: v.version };

    const done = await completeArtifact(deps, key, { files: uploadFiles(deps, key, { 'run.sh': '#!/bin/sh' }) });

    expect(done.artifact.status).toBe('complete');
  });

  it('should refuse a file named twice with DUPLICATE_FILE', async () => {
    const [file] = uploadFiles(deps, v1, { 'model.onnx': 'x' });

    const error = await rejectionOf(completeArtifact(deps, v1, { files: [file!, file!] }));

    expect(error.code).toBe('DUPLICATE_FILE');
  });

  it('should be idempotent: the same manifest again answers the recorded version without writing', async () => {
    // Prepare
    const files = uploadFiles(deps, v1, { 'model.onnx': 'x', 'a.txt': 'y' });
    const first = await completeArtifact(deps, v1, { files });
    const puts = deps.versions.count('put');
    deps.clock.advanceSeconds(60);

    // Act: same files, other order, upper-case digest
    const again = await completeArtifact(deps, v1, {
      files: [{ ...files[1]!, sha256: files[1]!.sha256.toUpperCase() }, files[0]!],
    });

    // Assess
    expect(again).toEqual(first);
    expect(deps.versions.count('put')).toBe(puts);
  });

  it('should refuse a different manifest after completion with 409 ARTIFACT_IMMUTABLE', async () => {
    const files = uploadFiles(deps, v1, { 'model.onnx': 'x' });
    await completeArtifact(deps, v1, { files });
    const extra = uploadFiles(deps, v1, { 'extra.txt': 'z' });

    const error = await rejectionOf(completeArtifact(deps, v1, { files: [...files, ...extra] }));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('ARTIFACT_IMMUTABLE');
    expect(deps.versions.peek(v1)?.artifact.files.map((f) => f.path)).toEqual(['model.onnx']);
  });

  it('should refuse when a concurrent completion won the race (re-checked inside the update)', async () => {
    // Prepare: between our read and our write, another caller completes the artifact
    const files = uploadFiles(deps, v1, { 'model.onnx': 'x' });
    deps.versions.intercept('put', async () => {
      const stored = deps.versions.peek(v1)!;
      deps.versions.seed({
        ...stored,
        artifact: {
          ...stored.artifact,
          status: 'complete',
          files: [{ path: 'other', size: 1, sha256: sha256Hex('o') }],
        },
        revision: stored.revision + 1,
      });
    });

    // Act
    const error = await rejectionOf(completeArtifact(deps, v1, { files }));

    // Assess
    expect(error.code).toBe('ARTIFACT_IMMUTABLE');
    expect(deps.versions.peek(v1)?.artifact.files.map((f) => f.path)).toEqual(['other']);
  });
});

describe('Use case: getArtifact', () => {
  it('should answer the manifest with a presigned GET URL per file', async () => {
    const version = await givenVersion(deps, { files: { 'model.onnx': 'x', 'a.txt': 'y' } });

    const artifact = await getArtifact(deps, versionKey(version.version));

    expect(artifact.status).toBe('complete');
    expect(artifact.files).toEqual([
      {
        path: 'a.txt',
        size: 1,
        sha256: sha256Hex('y'),
        url: `https://merlin-test-artifacts.s3.test.amazonaws.com/artifacts/fraud-detection/iris/2/a.txt?X-Amz-Expires=${DOWNLOAD_URL_TTL_SECONDS}&X-Amz-Method=GET`,
      },
      expect.objectContaining({ path: 'model.onnx', url: expect.stringContaining('/iris/2/model.onnx?') }),
    ]);
  });

  it('should answer a pending artifact with no files', async () => {
    const artifact = await getArtifact(deps, v1);

    expect(artifact).toEqual({ uri: `s3://merlin-test-artifacts/${PREFIX}`, status: 'pending', files: [] });
  });
});
