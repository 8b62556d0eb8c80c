/**
 * The model server as a process with MODEL_TYPE=xgboost, one per fixture of test/fixtures/models/xgboost (trained
 * and evaluated by xgboost 1.7.4): V1 predictions with missing values sent as null, V2 inference, metadata, and
 * load failures.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectClose,
  readReference,
  XGBOOST_FIXTURES,
  type XGBoostFixture,
  xgboostFixturesDir,
} from '../../unit/serving/xgboost-fixtures.js';
import { validateOip } from './oip/validate.js';
import { call, killAll, post, type ServerProcess, spawnServer, startServer } from './server-process.js';

const env = (name: string, over: Record<string, string> = {}): Record<string, string> => ({
  MODEL_NAME: name,
  MODEL_VERSION: '2',
  MODEL_TYPE: 'xgboost',
  ARTIFACT_URI: `file://${path.join(xgboostFixturesDir, name)}/`,
  ...over,
});

const servers = new Map<XGBoostFixture, ServerProcess>();

beforeAll(async () => {
  const started = await Promise.all(XGBOOST_FIXTURES.map((name) => startServer(env(name))));
  XGBOOST_FIXTURES.forEach((name, i) => {
    servers.set(name, started[i] as ServerProcess);
  });
});

afterAll(async () => {
  await killAll();
});

const server = (name: XGBoostFixture) => servers.get(name) as ServerProcess;

describe.each(XGBOOST_FIXTURES)('Model server: xgboost %s', (name) => {
  const ref = readReference(name);
  const multiOutput = ref.objective === 'multi:softprob';
  const shape = multiOutput ? [-1, ref.num_class] : [-1];

  it('should predict over V1 what xgboost predicted, with null as a missing value', async () => {
    expect(ref.instances.some((row) => row.includes(null))).toBe(true);
    const res = await post(server(name).url(`/v1/models/${name}:predict`), { instances: ref.instances });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('2');
    const body = res.body as { predictions: (number | number[])[]; model_name: string; model_version: string };
    expect(body).toMatchObject({ model_name: name, model_version: '2' });
    expect(body.predictions).toHaveLength(ref.instances.length);
    if (multiOutput) expect(body.predictions.every((p) => Array.isArray(p) && p.length === ref.num_class)).toBe(true);
    expectClose(body.predictions.flat(), ref.predictions.flat());
  });

  it('should accept "inputs" and object rows keyed by the input name', async () => {
    const inputs = await post(server(name).url(`/v1/models/${name}:predict`), { inputs: ref.instances.slice(0, 5) });
    expect(inputs.status).toBe(200);
    const objects = await post(server(name).url(`/v1/models/${name}:predict`), {
      instances: ref.instances.slice(0, 5).map((row) => ({ input: row })),
    });
    expect(objects.status).toBe(200);
    const expected = ref.predictions.slice(0, 5).flat();
    expectClose((inputs.body as { predictions: number[] }).predictions.flat(), expected);
    expectClose((objects.body as { predictions: number[] }).predictions.flat(), expected);
  });

  it('should infer over V2 what xgboost predicted, with null as a missing value', async () => {
    const rows = ref.instances.map((row, i) => ({ row, i }));
    expect(rows.some(({ row }) => row.includes(null))).toBe(true);
    const request = {
      id: `xgb-${name}`,
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [rows.length, ref.num_feature], data: rows.map((r) => r.row) },
      ],
    };
    // null (a missing value) is this server's extension to OIP tensor data, which has no way to send NaN in JSON:
    // the request is valid OIP except for those elements.
    expect(validateOip('inference_request', request).every((e) => /^\$\.inputs\[0\]\.data\[\d+\]/.test(e))).toBe(true);
    const res = await post(server(name).url(`/v2/models/${name}/versions/2/infer`), request);
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    const body = res.body as {
      id: string;
      model_name: string;
      outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    };
    expect(body.id).toBe(`xgb-${name}`);
    expect(body.outputs).toHaveLength(1);
    const [out] = body.outputs;
    expect(out).toMatchObject({
      name: 'predictions',
      datatype: 'FP32',
      shape: multiOutput ? [rows.length, ref.num_class] : [rows.length],
    });
    const expected = rows.flatMap(({ i }) => ref.predictions[i] as number | number[]);
    expectClose(out?.data ?? [], expected);
  });

  it('should publish the metadata: input FP32 [-1, num_feature], output predictions FP32', async () => {
    const v2 = await call(server(name).url(`/v2/models/${name}`));
    expect(v2.status).toBe(200);
    expect(validateOip('metadata_model_response', v2.body)).toEqual([]);
    expect(v2.body).toEqual({
      name,
      versions: ['2'],
      platform: 'xgboost_json',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, ref.num_feature] }],
      outputs: [{ name: 'predictions', datatype: 'FP32', shape }],
    });
    const v1 = await call(server(name).url(`/v1/models/${name}`));
    expect(v1.status).toBe(200);
    expect(v1.body).toEqual({ name, ready: true });
    const ready = await call(server(name).url(`/v2/models/${name}/ready`));
    expect(ready.status).toBe(200);
  });
});

describe('Model server: xgboost requests and logs', () => {
  it('should log the loaded model with its platform, input and output', () => {
    const loaded = server('iris-softprob').logs.find((l) => l.msg === 'model loaded');
    expect(loaded).toMatchObject({
      platform: 'xgboost_json',
      outputs: [{ name: 'predictions', datatype: 'FP32', shape: [-1, 3] }],
    });
  });

  it('should refuse rows of the wrong width, strings and NaN literals with 400 naming the problem', async () => {
    const s = server('iris-softmax');
    const short = await post(s.url('/v1/models/iris-softmax:predict'), { instances: [[1, 2, 3]] });
    expect(short.status).toBe(400);
    expect(short.body).toEqual({
      error:
        "input 'input': instances[0] has shape [3], expected each instance to have shape [4] (model input shape [-1, 4], -1 = any size)",
    });
    const text = await post(s.url('/v1/models/iris-softmax:predict'), { instances: [[1, 'x', 3, 4]] });
    expect(text.status).toBe(400);
    expect(text.body).toEqual({
      error: `input 'input': instances[0][1] is "x", expected a number or null (FP32; null = missing)`,
    });
    const nan = await post(s.url('/v1/models/iris-softmax:predict'), '{"instances": [[1, NaN, 3, 4]]}');
    expect(nan.status).toBe(400);
    expect((nan.body as { error: string }).error).toMatch(/^malformed JSON in request body/);
  });
});

describe('Model server: xgboost with adaptive batching', () => {
  it('should answer concurrent single-row requests, nulls included, with what xgboost predicted', async () => {
    const s = await startServer(env('iris-softprob', { BATCH_MAX_SIZE: '16', BATCH_MAX_LATENCY_MS: '20' }));
    const ref = readReference('iris-softprob');
    const expected = ref.predictions as number[][];
    const answers = await Promise.all(
      ref.instances.map((row) => post(s.url('/v1/models/iris-softprob:predict'), { instances: [row] })),
    );
    answers.forEach((res, i) => {
      expect(res.status).toBe(200);
      expectClose((res.body as { predictions: number[][] }).predictions[0] ?? [], expected[i] ?? []);
    });
  });
});

describe('Model server: examples/xgboost', () => {
  it('should serve the example as its README says, matching xgboost', async () => {
    const dir = fileURLToPath(new URL('../../../examples/xgboost/', import.meta.url));
    const example = JSON.parse(readFileSync(path.join(dir, 'reference.json'), 'utf8')) as {
      instances: (number | null)[][];
      probabilities: number[][];
    };
    const s = await startServer({
      MODEL_NAME: 'iris-xgb',
      MODEL_VERSION: '1',
      MODEL_TYPE: 'xgboost',
      ARTIFACT_URI: `file://${dir}`,
    });
    const res = await post(s.url('/v1/models/iris-xgb:predict'), { instances: example.instances });
    expect(res.status).toBe(200);
    expectClose((res.body as { predictions: number[][] }).predictions.flat(), example.probabilities.flat());
    const v2 = await post(s.url('/v2/models/iris-xgb/infer'), {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: example.instances[0] }],
    });
    expect(v2.status).toBe(200);
    expectClose((v2.body as { outputs: { data: number[] }[] }).outputs[0]?.data ?? [], example.probabilities[0] ?? []);
  });
});

describe('Model server: xgboost load failures', () => {
  it('should exit 1 with the precise reason for an unsupported booster', async () => {
    const s = spawnServer(env('unsupported', { MODEL_FILE: 'gblinear.json' }));
    const { code } = await s.exited;
    expect(code).toBe(1);
    const reason = 'model failed to load: xgboost: booster gblinear is not supported (supported: gbtree, dart)';
    expect(s.logs.at(-1)).toMatchObject({ level: 'error', msg: reason });
    expect(s.messages.find((m) => m.type === 'failed')).toEqual({ type: 'failed', reason });
  });

  it('should exit 1 with the precise reason for an unsupported objective', async () => {
    const s = spawnServer(env('unsupported', { MODEL_FILE: 'rank-pairwise.json' }));
    expect((await s.exited).code).toBe(1);
    expect(s.logs.at(-1)?.msg).toMatch(
      /^model failed to load: xgboost: objective rank:pairwise is not supported \(supported: /,
    );
  });

  it('should look for model.json by default', async () => {
    const s = spawnServer(env('unsupported'));
    expect((await s.exited).code).toBe(1);
    expect(s.logs.at(-1)?.msg).toBe(
      `model failed to load: artifact file model.json not found under file://${path.join(xgboostFixturesDir, 'unsupported')}/`,
    );
  });
});
