/**
 * The model server as a process with MODEL_TYPE=onnx on the `ai.onnx.ml` fixtures of test/fixtures/models/onnx-ml
 * (scikit-learn models in skl2onnx's layout; references computed by scikit-learn in float64): tree ensemble and linear
 * classifiers whose probability output is a ZipMap come out as plain JSON — V1 rows `{"<label>": probability}`, V2 an
 * FP32 [N, C] tensor with the labels as an output parameter — integer and string labels, and a tree regressor.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateOip } from './oip/validate.js';
import { call, fixturesDir, killAll, post, type ServerProcess, startServer } from './server-process.js';

const CLASSIFIERS = ['forest-int', 'tree-string', 'linear-ovr'] as const;
type Classifier = (typeof CLASSIFIERS)[number];

interface ClassifierReference {
  input_name: string;
  classes: (number | string)[];
  instances: number[][];
  labels: (number | string)[];
  probabilities: number[][];
}

const dirOf = (name: string) => path.join(fixturesDir, 'onnx-ml', name);
const readReference = <T>(name: string): T =>
  JSON.parse(readFileSync(path.join(dirOf(name), 'reference.json'), 'utf8'));

/** The models compute in float32, scikit-learn in float64: equal to 1e-5, relatively beyond 1. */
function expectClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((e, i) => {
    const tolerance = 1e-5 * Math.max(1, Math.abs(e));
    if (!(Math.abs((actual[i] as number) - e) <= tolerance)) {
      expect.fail(`element ${i}: got ${actual[i]}, expected ${e} (tolerance ${tolerance})`);
    }
  });
}

const env = (name: string, over: Record<string, string> = {}): Record<string, string> => ({
  MODEL_NAME: name,
  MODEL_VERSION: '1',
  MODEL_TYPE: 'onnx',
  ARTIFACT_URI: `file://${dirOf(name)}/`,
  ...over,
});

const servers = new Map<string, ServerProcess>();
const server = (name: string) => servers.get(name) as ServerProcess;

beforeAll(async () => {
  const names = [...CLASSIFIERS, 'forest-regressor'];
  const started = await Promise.all(names.map((name) => startServer(env(name))));
  names.forEach((name, i) => {
    servers.set(name, started[i] as ServerProcess);
  });
});

afterAll(async () => {
  await killAll();
});

describe.each(CLASSIFIERS)('Model server: ONNX classifier %s (ZipMap output)', (name: Classifier) => {
  const ref = readReference<ClassifierReference>(name);
  const labelType = typeof ref.classes[0] === 'string' ? 'BYTES' : 'INT64';

  it('should predict over V1 the labels and, per row, an object of class probabilities keyed by label', async () => {
    const res = await post(server(name).url(`/v1/models/${name}:predict`), { instances: ref.instances });
    expect(res.status).toBe(200);
    const body = res.body as {
      predictions: { output_label: number | string; output_probability: Record<string, number> }[];
    };
    expect(body.predictions).toHaveLength(ref.instances.length);
    expect(body.predictions.map((p) => p.output_label)).toEqual(ref.labels);
    body.predictions.forEach((p, i) => {
      expect(Object.keys(p.output_probability)).toEqual(ref.classes.map(String));
      expectClose(Object.values(p.output_probability), ref.probabilities[i] as number[]);
    });
  });

  it('should infer over V2 the probabilities as an FP32 [N, C] tensor with the labels as a parameter', async () => {
    const n = ref.instances.length;
    const width = (ref.instances[0] as number[]).length;
    const request = {
      id: `ml-${name}`,
      inputs: [{ name: ref.input_name, datatype: 'FP32', shape: [n, width], data: ref.instances.flat() }],
    };
    const res = await post(server(name).url(`/v2/models/${name}/infer`), request);
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    const body = res.body as {
      id: string;
      outputs: { name: string; datatype: string; shape: number[]; data: unknown[]; parameters?: { labels: string } }[];
    };
    expect(body.id).toBe(`ml-${name}`);
    const [label, probability] = body.outputs;
    expect(label).toMatchObject({ name: 'output_label', datatype: labelType, shape: [n], data: ref.labels });
    expect(label?.parameters).toBeUndefined();
    expect(probability).toMatchObject({ name: 'output_probability', datatype: 'FP32', shape: [n, ref.classes.length] });
    expect(JSON.parse(probability?.parameters?.labels ?? 'null')).toEqual(ref.classes);
    expectClose(probability?.data as number[], ref.probabilities.flat());
  });

  it('should filter V2 outputs by name: only the probabilities', async () => {
    const row = ref.instances[0] as number[];
    const res = await post(server(name).url(`/v2/models/${name}/infer`), {
      inputs: [{ name: ref.input_name, datatype: 'FP32', shape: [1, row.length], data: row }],
      outputs: [{ name: 'output_probability' }],
    });
    expect(res.status).toBe(200);
    const outputs = (res.body as { outputs: { name: string; data: number[] }[] }).outputs;
    expect(outputs.map((o) => o.name)).toEqual(['output_probability']);
    expectClose(outputs[0]?.data ?? [], ref.probabilities[0] as number[]);
  });

  it('should publish the probabilities output as FP32 [-1, C] in the model metadata', async () => {
    const res = await call(server(name).url(`/v2/models/${name}`));
    expect(res.status).toBe(200);
    expect(validateOip('metadata_model_response', res.body)).toEqual([]);
    expect((res.body as { outputs: unknown[] }).outputs).toEqual([
      { name: 'output_label', datatype: labelType, shape: [-1] },
      { name: 'output_probability', datatype: 'FP32', shape: [-1, ref.classes.length] },
    ]);
  });
});

describe('Model server: ONNX tree ensemble regressor', () => {
  const ref = readReference<{ instances: number[][]; predictions: number[] }>('forest-regressor');

  it('should predict over V1 what scikit-learn predicted', async () => {
    const res = await post(server('forest-regressor').url('/v1/models/forest-regressor:predict'), {
      instances: ref.instances,
    });
    expect(res.status).toBe(200);
    const predictions = (res.body as { predictions: number[][] }).predictions;
    expect(predictions.every((p) => p.length === 1)).toBe(true);
    expectClose(predictions.flat(), ref.predictions);
  });
});

describe('Model server: ONNX classifier with adaptive batching', () => {
  it('should give each concurrent caller its own row of labels and probabilities', async () => {
    const name = 'tree-string';
    const ref = readReference<ClassifierReference>(name);
    const s = await startServer(env(name, { BATCH_MAX_SIZE: '16', BATCH_MAX_LATENCY_MS: '20' }));
    const answers = await Promise.all(
      ref.instances.map((row) => post(s.url(`/v1/models/${name}:predict`), { instances: [row] })),
    );
    answers.forEach((res, i) => {
      expect(res.status).toBe(200);
      const [p] = (res.body as { predictions: { output_label: string; output_probability: Record<string, number> }[] })
        .predictions;
      expect(p?.output_label).toBe(ref.labels[i]);
      expectClose(Object.values(p?.output_probability ?? {}), ref.probabilities[i] as number[]);
    });
  });
});
