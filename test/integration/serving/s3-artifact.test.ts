/**
 * Artifacts from S3 (s3rver in-process, as toolchain.md shows): every object under the prefix is downloaded with
 * its relative path, then served.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectMultiInputPredictions, multiDir } from './multi-input.js';
import { irisDir, killAll, post, type ServerProcess, spawnServer, startServer } from './server-process.js';

const S3rver = createRequire(import.meta.url)('s3rver');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'serving-s3-'));
let s3rver: { run(): Promise<{ port: number }>; close(): Promise<void> };
let awsEnv: Record<string, string>;

beforeAll(async () => {
  s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(tmp, 's3') });
  const { port } = await s3rver.run();
  const endpoint = `http://127.0.0.1:${port}`;
  awsEnv = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'models' }));
  const put = (key: string, file: string) =>
    s3.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: readFileSync(file) }));
  await put('demo/iris/3/model.onnx', `${irisDir}model.onnx`);
  await put('demo/iris/3/reference.json', `${irisDir}reference.json`);
  await put('demo/iris/30/model.onnx', `${irisDir}broken/model.onnx`); // a sibling prefix that must not leak in
  await put('demo/multi/1/model.onnx', `${multiDir}model.onnx`);
  await put('demo/multi/1/data/weights.bin', `${multiDir}data/weights.bin`);
  s3.destroy();
});

afterAll(async () => {
  await killAll();
  await s3rver?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('Model server: artifacts on S3', () => {
  let server: ServerProcess;

  it('should download the prefix and serve iris like scikit-learn', async () => {
    const cache = path.join(tmp, 'cache-iris');
    server = await startServer({
      ...awsEnv,
      MODEL_NAME: 'iris',
      MODEL_VERSION: '3',
      ARTIFACT_URI: 's3://models/demo/iris/3', // no trailing slash: still the prefix demo/iris/3/, not demo/iris/30/
      MODEL_CACHE_DIR: cache,
    });
    const reference = JSON.parse(readFileSync(`${irisDir}reference.json`, 'utf8'));
    const res = await post(server.url('/v1/models/iris:predict'), { instances: reference.instances });
    expect(res.status).toBe(200);
    const predictions = (res.body as { predictions: { probabilities: number[]; label: number }[] }).predictions;
    predictions.forEach((p, i) => {
      expect(p.label).toBe(reference.labels[i]);
      p.probabilities.forEach((v, j) => {
        expect(Math.abs(v - reference.probabilities[i][j])).toBeLessThanOrEqual(1e-5);
      });
    });
    expect(server.logs.find((l) => l.msg === 'artifact downloaded')).toMatchObject({
      uri: 's3://models/demo/iris/3/',
      files: 2,
    });
    expect(existsSync(path.join(cache, 'model.onnx'))).toBe(true);
    expect(existsSync(path.join(cache, 'reference.json'))).toBe(true);
    expect(server.stderr()).toBe(''); // no AWS SDK Node-version warning, no onnxruntime noise
  });

  it('should keep relative paths, so external data files are found', async () => {
    const cache = path.join(tmp, 'cache-multi');
    server = await startServer({
      ...awsEnv,
      MODEL_NAME: 'multi',
      MODEL_VERSION: '1',
      ARTIFACT_URI: 's3://models/demo/multi/1/',
      MODEL_CACHE_DIR: cache,
    });
    expect(existsSync(path.join(cache, 'data', 'weights.bin'))).toBe(true);
    await expectMultiInputPredictions(server, 'multi');
  });

  it('should fail with the prefix in the reason when the model file is missing', async () => {
    const failing = spawnServer({
      ...awsEnv,
      MODEL_NAME: 'x',
      MODEL_VERSION: '1',
      ARTIFACT_URI: 's3://models/demo/none/',
    });
    const { code } = await failing.exited;
    expect(code).toBe(1);
    const reason =
      'model failed to load: artifact file model.onnx not found under s3://models/demo/none/ (no objects under that prefix)';
    expect(failing.logs.at(-1)).toMatchObject({ level: 'error', msg: reason });
    expect(failing.messages.at(-1)).toEqual({ type: 'failed', reason });
  });

  it('should name the S3 error for a missing bucket', async () => {
    const failing = spawnServer({
      ...awsEnv,
      MODEL_NAME: 'x',
      MODEL_VERSION: '1',
      ARTIFACT_URI: 's3://no-such-bucket/m/',
    });
    const { code } = await failing.exited;
    expect(code).toBe(1);
    expect(failing.logs.at(-1)?.msg).toMatch(
      /^model failed to load: cannot download artifact from s3:\/\/no-such-bucket\/m\/: NoSuchBucket: /,
    );
  });

  it('should remove a temporary cache directory it created when it exits', async () => {
    const own = await startServer({
      ...awsEnv,
      MODEL_NAME: 'iris',
      MODEL_VERSION: '3',
      ARTIFACT_URI: 's3://models/demo/iris/3/',
    });
    const dir = own.logs.find((l) => l.msg === 'artifact downloaded')?.dir as string;
    expect(path.basename(dir)).toMatch(/^merlin-model-/);
    expect(existsSync(path.join(dir, 'model.onnx'))).toBe(true);
    own.child.kill('SIGTERM');
    expect((await own.exited).code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});
