/**
 * Adaptive batching in the model server as a process (BATCH_MAX_SIZE, BATCH_MAX_LATENCY_MS): concurrent requests over
 * both protocols, each caller getting exactly its rows, compared with scikit-learn's and numpy's reference values.
 * Whether requests merge depends on timing, so the tests send bursts until /metrics shows a merged call, and check
 * every answer of every burst.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiReference } from './multi-input.js';
import { validateOip } from './oip/validate.js';
import {
  call,
  fixturesDir,
  irisDir,
  irisEnv,
  killAll,
  post,
  type ServerProcess,
  startServer,
} from './server-process.js';

const reference = JSON.parse(readFileSync(`${irisDir}reference.json`, 'utf8')) as {
  instances: number[][];
  probabilities: number[][];
  labels: number[];
};

let iris: ServerProcess;
let multi: ServerProcess;

beforeAll(async () => {
  [iris, multi] = await Promise.all([
    startServer(irisEnv({ BATCH_MAX_SIZE: '16', BATCH_MAX_LATENCY_MS: '5' })),
    startServer({
      MODEL_NAME: 'multi',
      MODEL_VERSION: '1',
      ARTIFACT_URI: `file://${fixturesDir}multi-input/`,
      BATCH_MAX_SIZE: '8',
      BATCH_MAX_LATENCY_MS: '2',
    }),
  ]);
});

afterAll(async () => {
  await killAll();
});

/** Sum and count of a histogram in a Prometheus text. */
function histogram(text: string, name: string): { sum: number; count: number } {
  const value = (suffix: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}_${suffix}{`));
    return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return { sum: value('sum'), count: value('count') };
}

async function merged(server: ServerProcess): Promise<boolean> {
  const h = histogram((await call(server.url('/metrics'))).text, 'merlin_batch_requests');
  return h.sum > h.count;
}

function expectClose(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => {
    expect(Math.abs(v - (expected[i] as number))).toBeLessThanOrEqual(1e-5);
  });
}

/** Request i asks for 1 to 3 reference rows starting at row i mod 8, over V1 (even i) or V2 (odd i). */
function rowsOf(i: number): number[] {
  const n = reference.instances.length;
  return Array.from({ length: 1 + (i % 3) }, (_, k) => (i + k) % n);
}

async function irisRequest(i: number): Promise<void> {
  const rows = rowsOf(i);
  const instances = rows.map((r) => reference.instances[r] as number[]);
  if (i % 2 === 0) {
    const res = await post(iris.url('/v1/models/iris:predict'), { instances });
    expect(res.status).toBe(200);
    const predictions = (res.body as { predictions: { probabilities: number[]; label: number }[] }).predictions;
    expect(predictions).toHaveLength(rows.length);
    predictions.forEach((p, k) => {
      const r = rows[k] as number;
      expectClose(p.probabilities, reference.probabilities[r] as number[]);
      expect(p.label).toBe(reference.labels[r]);
    });
    return;
  }
  const res = await post(iris.url('/v2/models/iris/infer'), {
    id: `req-${i}`,
    inputs: [{ name: 'input', shape: [rows.length, 4], datatype: 'FP32', data: instances.flat() }],
  });
  expect(res.status).toBe(200);
  expect(validateOip('inference_response', res.body)).toEqual([]);
  const body = res.body as { id: string; outputs: { name: string; shape: number[]; data: number[] }[] };
  expect(body.id).toBe(`req-${i}`);
  const [probabilities, label] = body.outputs;
  expect(probabilities?.shape).toEqual([rows.length, 3]);
  expectClose(
    probabilities?.data ?? [],
    rows.flatMap((r) => reference.probabilities[r] as number[]),
  );
  expect(label).toMatchObject({ name: 'label', shape: [rows.length], data: rows.map((r) => reference.labels[r]) });
}

describe('Model server: adaptive batching', () => {
  it('should answer concurrent V1 and V2 requests, each with exactly its rows', async () => {
    for (let burst = 0; burst < 30; burst++) {
      await Promise.all(Array.from({ length: 48 }, (_, i) => irisRequest(i + burst)));
      if (await merged(iris)) break;
    }
    expect(await merged(iris)).toBe(true);
    const text = (await call(iris.url('/metrics'))).text;
    const rows = histogram(text, 'merlin_batch_size');
    const requests = histogram(text, 'merlin_batch_requests');
    expect(rows.count).toBe(requests.count);
    expect(rows.sum).toBeGreaterThanOrEqual(requests.sum);
    expect(text).toMatch(/merlin_batch_size_bucket\{model="iris",version="3",le="16"\} (\d+)/);
    // No merged call holds more than BATCH_MAX_SIZE rows (requests here have at most 3).
    const le16 = Number(/merlin_batch_size_bucket\{model="iris",version="3",le="16"\} (\d+)/.exec(text)?.[1]);
    expect(le16).toBe(rows.count);
    expect(iris.logs.some((l) => l.msg === 'adaptive batching on' && l.maxBatchSize === 16)).toBe(true);
  });

  it('should give each caller the outputs it asked for when merged requests differ', async () => {
    const ask = async (i: number) => {
      const outputs = i % 3 === 0 ? [{ name: 'label' }] : i % 3 === 1 ? [{ name: 'probabilities' }] : undefined;
      const row = i % reference.instances.length;
      const res = await post(iris.url('/v2/models/iris/versions/3/infer'), {
        inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: reference.instances[row] }],
        ...(outputs ? { outputs } : {}),
      });
      expect(res.status).toBe(200);
      const names = (res.body as { outputs: { name: string }[] }).outputs.map((o) => o.name);
      expect(names).toEqual(outputs ? outputs.map((o) => o.name) : ['probabilities', 'label']);
      const label = (res.body as { outputs: { name: string; data: number[] }[] }).outputs.find(
        (o) => o.name === 'label',
      );
      if (label) expect(label.data).toEqual([reference.labels[row]]);
    };
    await Promise.all(Array.from({ length: 48 }, (_, i) => ask(i)));
  });

  it('should batch a multi-input model and run a request whose inputs disagree on the rows alone (400)', async () => {
    const ref = multiReference;
    const good = (i: number) => {
      const r = i % ref.x.length;
      return post(multi.url('/v1/models/multi:predict'), { instances: [{ x: ref.x[r], k: ref.k[r] }] }).then((res) => {
        expect(res.status).toBe(200);
        expect((res.body as { predictions: unknown[] }).predictions).toEqual([
          { y: ref.y[r], k2: ref.k2[r], flag: ref.flag[r] },
        ]);
      });
    };
    const bad = () =>
      post(multi.url('/v2/models/multi/infer'), {
        inputs: [
          { name: 'x', shape: [3, 2], datatype: 'FP32', data: ref.x.flat() },
          { name: 'k', shape: [2], datatype: 'INT64', data: ref.k.slice(0, 2) },
        ],
      }).then((res) => {
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: "inputs 'x' and 'k' must have the same size in dimension 'N': 3 and 2",
        });
      });
    for (let burst = 0; burst < 30; burst++) {
      await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 8 === 3 ? bad() : good(i + burst))));
      if (await merged(multi)) break;
    }
    expect(await merged(multi)).toBe(true);
  });
});
