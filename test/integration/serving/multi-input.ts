/** Checks for the multi-input fixture (test/fixtures/models/multi-input), shared by the file:// and S3 tests. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { fixturesDir, post, type ServerProcess } from './server-process.js';

export const multiDir = `${fixturesDir}multi-input/`;

/** Expected values computed by numpy in generate.py. */
export const multiReference = JSON.parse(readFileSync(`${multiDir}reference.json`, 'utf8')) as {
  x: number[][];
  k: number[];
  y: number[][];
  k2: number[];
  flag: boolean[];
};

export async function expectMultiInputPredictions(server: ServerProcess, model: string): Promise<void> {
  const ref = multiReference;
  // V1, rows keyed by input name; three outputs, so each prediction is an object.
  const v1 = await post(server.url(`/v1/models/${model}:predict`), {
    instances: ref.x.map((x, i) => ({ x, k: ref.k[i] })),
  });
  expect(v1.status).toBe(200);
  expect((v1.body as { predictions: unknown[] }).predictions).toEqual(
    ref.x.map((_, i) => ({ y: ref.y[i], k2: ref.k2[i], flag: ref.flag[i] })),
  );

  // V1, TF-Serving columnar inputs.
  const columnar = await post(server.url(`/v1/models/${model}:predict`), { inputs: { x: ref.x, k: ref.k } });
  expect(columnar.body).toEqual(v1.body);

  // V2 with an INT64 input, a BOOL output, outputs filter in a chosen order.
  const v2 = await post(server.url(`/v2/models/${model}/infer`), {
    inputs: [
      { name: 'k', shape: [ref.k.length], datatype: 'INT64', data: ref.k },
      { name: 'x', shape: [ref.x.length, 2], datatype: 'FP32', data: ref.x.flat() },
    ],
    outputs: [{ name: 'flag' }, { name: 'y' }],
  });
  expect(v2.status).toBe(200);
  expect((v2.body as { outputs: unknown[] }).outputs).toEqual([
    { name: 'flag', datatype: 'BOOL', shape: [3], data: ref.flag },
    { name: 'y', datatype: 'FP32', shape: [3, 2], data: ref.y.flat() },
  ]);
}
