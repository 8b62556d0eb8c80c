import { afterEach, describe, expect, it, vi } from 'vitest';
import { Batcher, type BatcherHooks, concat, mergeKey, sliceRows } from '../../../serving/batching.js';
import type { Datatype, Tensor, TensorData } from '../../../serving/tensors.js';

const fp32 = (shape: number[], data: number[]): Tensor => ({ datatype: 'FP32', shape, data: Float32Array.from(data) });
const int64 = (shape: number[], data: number[]): Tensor => ({
  datatype: 'INT64',
  shape,
  data: BigInt64Array.from(data.map(BigInt)),
});
const bytes = (shape: number[], data: string[]): Tensor => ({ datatype: 'BYTES', shape, data });
const plain = (t: Tensor | undefined) =>
  t && { datatype: t.datatype, shape: [...t.shape], data: Array.from(t.data as ArrayLike<unknown>) };

/** Rows of x (FP32 [n, 2]) as a request: row i is [base + i, -(base + i)]. */
function request(base: number, rows: number): Map<string, Tensor> {
  const data: number[] = [];
  for (let i = 0; i < rows; i++) data.push(base + i, -(base + i));
  return new Map([['x', fp32([rows, 2], data)]]);
}

interface Call {
  rows: number;
  outputs: readonly string[] | undefined;
  release: () => void;
  fail: (err: Error) => void;
}

/**
 * A row-wise model: `double` = 2x (FP32 [n, 2]), `first` = x[:, 0] as INT64 [n], `tag` = BYTES [n]. Calls are held
 * until released (`auto` releases at once), so a test decides when the model is busy.
 */
function fakeModel(auto = true) {
  const calls: Call[] = [];
  const infer = (inputs: ReadonlyMap<string, Tensor>, outputs?: readonly string[]) =>
    new Promise<Map<string, Tensor>>((resolve, reject) => {
      const x = inputs.get('x') as Tensor;
      const n = x.shape[0] as number;
      const xs = Array.from(x.data as Float32Array);
      const all = new Map<string, Tensor>([
        [
          'double',
          fp32(
            [n, 2],
            xs.map((v) => v * 2),
          ),
        ],
        [
          'first',
          int64(
            [n],
            xs.filter((_, i) => i % 2 === 0),
          ),
        ],
        [
          'tag',
          bytes(
            [n],
            xs.filter((_, i) => i % 2 === 0).map((v) => `row ${v}`),
          ),
        ],
      ]);
      const out = new Map<string, Tensor>();
      for (const name of outputs ?? [...all.keys()]) out.set(name, all.get(name) as Tensor);
      const call: Call = { rows: n, outputs, release: () => resolve(out), fail: reject };
      calls.push(call);
      if (auto) call.release();
    });
  return { calls, infer };
}

/** What the model answers for rows base..base+rows-1 when run alone. */
function expected(base: number, rows: number, outputs = ['double', 'first', 'tag']) {
  const xs: number[] = [];
  for (let i = 0; i < rows; i++) xs.push(base + i);
  const all: Record<string, unknown> = {
    double: { datatype: 'FP32', shape: [rows, 2], data: xs.flatMap((v) => [v * 2, -v * 2]) },
    first: { datatype: 'INT64', shape: [rows], data: xs.map(BigInt) },
    tag: { datatype: 'BYTES', shape: [rows], data: xs.map((v) => `row ${v}`) },
  };
  return outputs.map((name) => [name, all[name]]);
}

const asPlain = (m: Map<string, Tensor>) => [...m].map(([name, t]) => [name, plain(t)]);
const tick = () => new Promise<void>((r) => setImmediate(r));

afterEach(() => {
  vi.useRealTimers();
});

describe('Batcher', () => {
  it('should run a lone request at once, without waiting for maxLatencyMs', async () => {
    const model = fakeModel();
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 });
    const out = await batcher.submit(request(1, 2));
    expect(asPlain(out)).toEqual(expected(1, 2));
    expect(model.calls.map((c) => c.rows)).toEqual([2]);
  });

  it('should merge requests of the same event-loop turn into one call, each caller getting exactly its rows', async () => {
    const model = fakeModel();
    const hooks = { onInference: vi.fn<NonNullable<BatcherHooks['onInference']>>() };
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 }, hooks);
    const results = await Promise.all([
      batcher.submit(request(10, 1)),
      batcher.submit(request(20, 3)),
      batcher.submit(request(30, 2)),
    ]);
    expect(model.calls.map((c) => c.rows)).toEqual([6]);
    expect(results.map(asPlain)).toEqual([expected(10, 1), expected(20, 3), expected(30, 2)]);
    expect(hooks.onInference).toHaveBeenCalledTimes(1);
    expect(hooks.onInference.mock.calls[0]?.slice(1)).toEqual([6, 3, true]);
  });

  it('should queue requests while the model is busy and run them together as soon as it is free', async () => {
    const model = fakeModel(false);
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 });
    const first = batcher.submit(request(0, 1));
    await tick();
    expect(model.calls).toHaveLength(1);
    const queued = [batcher.submit(request(1, 1)), batcher.submit(request(2, 2)), batcher.submit(request(4, 1))];
    await tick();
    await tick();
    expect(model.calls).toHaveLength(1);
    expect(batcher.queued).toBe(3);
    model.calls[0]?.release();
    expect(asPlain(await first)).toEqual(expected(0, 1));
    await vi.waitFor(() => expect(model.calls).toHaveLength(2));
    expect(model.calls[1]?.rows).toBe(4);
    model.calls[1]?.release();
    expect((await Promise.all(queued)).map(asPlain)).toEqual([expected(1, 1), expected(2, 2), expected(4, 1)]);
  });

  it('should flush at maxBatchSize rows without exceeding it, and run a larger request whole', async () => {
    const model = fakeModel(false);
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 4, maxLatencyMs: 3_600_000 });
    const busy = batcher.submit(request(0, 1));
    await tick();
    const a = batcher.submit(request(1, 3)); // queued: 3 rows
    const b = batcher.submit(request(4, 2)); // 3 + 2 > 4: the 3 rows go now, these 2 wait
    const c = batcher.submit(request(6, 2)); // 2 + 2 = 4: flushed at once
    const d = batcher.submit(request(8, 9)); // larger than maxBatchSize: alone, whole
    expect(model.calls.map((call) => call.rows)).toEqual([1, 3, 4, 9]);
    for (const call of model.calls) call.release();
    const results = await Promise.all([busy, a, b, c, d]);
    expect(results.map(asPlain)).toEqual([
      expected(0, 1),
      expected(1, 3),
      expected(4, 2),
      expected(6, 2),
      expected(8, 9),
    ]);
  });

  it('should run queued requests maxLatencyMs after the first was queued when the model stays busy', async () => {
    vi.useFakeTimers();
    const model = fakeModel(false);
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 50 });
    const busy = batcher.submit(request(0, 1));
    await vi.advanceTimersByTimeAsync(0);
    expect(model.calls).toHaveLength(1);
    const waiting = [batcher.submit(request(1, 1)), batcher.submit(request(2, 1))];
    await vi.advanceTimersByTimeAsync(49);
    expect(model.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(model.calls.map((c) => c.rows)).toEqual([1, 2]);
    for (const call of model.calls) call.release();
    expect((await Promise.all([busy, ...waiting])).map(asPlain)).toEqual([
      expected(0, 1),
      expected(1, 1),
      expected(2, 1),
    ]);
  });

  it('should not merge requests whose rows differ in shape or datatype, and run unmergeable ones alone', async () => {
    const calls: string[] = [];
    const infer = async (inputs: ReadonlyMap<string, Tensor>) => {
      const x = inputs.get('x') as Tensor;
      calls.push(`${x.datatype}[${x.shape.join(',')}]`);
      return new Map([['y', x]]);
    };
    const batcher = new Batcher(infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 });
    const sent: Tensor[] = [
      fp32([1, 2], [1, 2]),
      fp32([2, 3], [1, 2, 3, 4, 5, 6]),
      fp32([1, 2], [3, 4]),
      { datatype: 'FP64', shape: [1, 2], data: Float64Array.from([5, 6]) },
      fp32([], [7]),
      fp32([0, 2], []),
    ];
    const results = await Promise.all(sent.map((t) => batcher.submit(new Map([['x', t]]))));
    expect(calls.sort()).toEqual(['FP32[0,2]', 'FP32[2,2]', 'FP32[2,3]', 'FP32[]', 'FP64[1,2]'].sort());
    results.forEach((r, i) => {
      expect(plain(r.get('y'))).toEqual(plain(sent[i]));
    });
  });

  it('should give every caller its own outputs, in its own order', async () => {
    const model = fakeModel();
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 });
    const [a, b, c] = await Promise.all([
      batcher.submit(request(1, 1), ['tag']),
      batcher.submit(request(2, 2), ['first', 'double']),
      batcher.submit(request(4, 1), ['first']),
    ]);
    expect(model.calls.map((call) => [call.rows, call.outputs])).toEqual([[4, ['tag', 'first', 'double']]]);
    expect(asPlain(a as Map<string, Tensor>)).toEqual(expected(1, 1, ['tag']));
    expect(asPlain(b as Map<string, Tensor>)).toEqual(expected(2, 2, ['first', 'double']));
    expect(asPlain(c as Map<string, Tensor>)).toEqual(expected(4, 1, ['first']));
  });

  it('should fail every request of a failing merged call with its error', async () => {
    const model = fakeModel(false);
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 });
    const results = Promise.allSettled([batcher.submit(request(1, 1)), batcher.submit(request(2, 2))]);
    await tick();
    expect(model.calls.map((c) => c.rows)).toEqual([3]);
    const boom = new Error('boom');
    model.calls[0]?.fail(boom);
    expect(await results).toEqual([
      { status: 'rejected', reason: boom },
      { status: 'rejected', reason: boom },
    ]);
    // The batcher goes on.
    const next = batcher.submit(request(5, 1));
    await vi.waitFor(() => expect(model.calls).toHaveLength(2));
    model.calls[1]?.release();
    expect(asPlain(await next)).toEqual(expected(5, 1));
  });

  it('should re-run requests one by one when a result cannot be split by rows, and stop merging', async () => {
    let calls = 0;
    const infer = async (inputs: ReadonlyMap<string, Tensor>) => {
      calls++;
      const x = inputs.get('x') as Tensor;
      const n = x.shape[0] as number;
      let sum = 0;
      for (const v of x.data as Float32Array) sum += v;
      // A model that reduces over the batch: one value whatever the number of rows.
      return new Map([['total', fp32([1], [sum + n])]]);
    };
    const onUnsplittable = vi.fn();
    const batcher = new Batcher(infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 }, { onUnsplittable });
    const [a, b] = await Promise.all([batcher.submit(request(1, 1)), batcher.submit(request(3, 2))]);
    expect(plain(a?.get('total'))).toEqual({ datatype: 'FP32', shape: [1], data: [1] });
    expect(plain(b?.get('total'))).toEqual({ datatype: 'FP32', shape: [1], data: [2] });
    expect(calls).toBe(3);
    expect(onUnsplittable).toHaveBeenCalledTimes(1);
    expect(onUnsplittable.mock.calls[0]?.[0]).toContain("output 'total' has shape [1] for a batch of 3 rows");
    await Promise.all([batcher.submit(request(1, 1)), batcher.submit(request(3, 2))]);
    expect(calls).toBe(5);
  });

  it('should withdraw a queued request whose signal aborts, and leave the others be', async () => {
    const model = fakeModel(false);
    const batcher = new Batcher(model.infer, ['x'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 });
    const busy = batcher.submit(request(0, 1));
    await tick();
    const controller = new AbortController();
    const withdrawn = batcher.submit(request(1, 5), undefined, controller.signal);
    const kept = batcher.submit(request(9, 1));
    controller.abort(new Error('timed out'));
    await expect(withdrawn).rejects.toThrow('timed out');
    expect(batcher.queued).toBe(1);
    model.calls[0]?.release();
    await busy;
    await vi.waitFor(() => expect(model.calls).toHaveLength(2));
    expect(model.calls[1]?.rows).toBe(1);
    model.calls[1]?.release();
    expect(asPlain(await kept)).toEqual(expected(9, 1));
  });

  it('should merge multi-input requests whose inputs agree on the row count', async () => {
    const seen: number[] = [];
    const infer = async (inputs: ReadonlyMap<string, Tensor>) => {
      const x = inputs.get('x') as Tensor;
      const k = inputs.get('k') as Tensor;
      seen.push(x.shape[0] as number);
      const kk = k.data as BigInt64Array;
      const y = Array.from(x.data as Float32Array).map((v, i) => v + Number(kk[Math.min(i >> 1, kk.length - 1)]));
      return new Map([['y', fp32([...x.shape], y)]]);
    };
    const batcher = new Batcher(infer, ['x', 'k'], { maxBatchSize: 32, maxLatencyMs: 3_600_000 });
    const req = (x: number[], k: number[]) =>
      new Map([
        ['k', int64([k.length], k)],
        ['x', fp32([x.length / 2, 2], x)],
      ]);
    const [a, b, c] = await Promise.all([
      batcher.submit(req([1, 2], [10])),
      batcher.submit(req([3, 4, 5, 6], [20, 30])),
      batcher.submit(req([7, 8, 9, 10], [40])), // 2 rows of x, 1 of k: alone (the model decides)
    ]);
    expect(seen.sort()).toEqual([2, 3]);
    expect(plain(a?.get('y'))?.data).toEqual([11, 12]);
    expect(plain(b?.get('y'))?.data).toEqual([23, 24, 35, 36]);
    expect(plain(c?.get('y'))?.data).toEqual([47, 48, 49, 50]);
  });
});

describe('Batching helpers', () => {
  it('should key requests by input name, datatype and row shape, with one row count per request', () => {
    const a = mergeKey(new Map([['x', fp32([2, 3], [1, 2, 3, 4, 5, 6])]]), ['x']);
    const b = mergeKey(new Map([['x', fp32([5, 3], new Array(15).fill(0))]]), ['x']);
    expect(a?.rows).toBe(2);
    expect(a?.key).toBe(b?.key);
    expect(mergeKey(new Map([['x', fp32([2, 2], [1, 2, 3, 4])]]), ['x'])?.key).not.toBe(a?.key);
    expect(mergeKey(new Map([['x', fp32([3], [1, 2, 3])]]), ['x', 'k'])).toBeUndefined();
    expect(mergeKey(new Map([['x', fp32([], [1])]]), ['x'])).toBeUndefined();
  });

  it('should concatenate and slice every storage kind', () => {
    const kinds: [Datatype, TensorData, TensorData][] = [
      ['BOOL', Uint8Array.from([1, 0]), Uint8Array.from([1])],
      ['INT8', Int8Array.from([-1, 2]), Int8Array.from([3])],
      ['UINT64', BigUint64Array.from([1n, 2n]), BigUint64Array.from([3n])],
      ['FP64', Float64Array.from([0.5, 1.5]), Float64Array.from([2.5])],
      ['BYTES', ['a', 'b'], ['c']],
    ];
    for (const [datatype, first, second] of kinds) {
      const joined = concat(
        [
          { datatype, shape: [2], data: first },
          { datatype, shape: [1], data: second },
        ],
        3,
      );
      expect(joined.shape).toEqual([3]);
      expect(Array.from(joined.data as ArrayLike<unknown>)).toEqual([
        ...Array.from(first as ArrayLike<unknown>),
        ...Array.from(second as ArrayLike<unknown>),
      ]);
      expect(joined.data.constructor).toBe(first.constructor);
      expect(Array.from(sliceRows(joined, 2, 1).data as ArrayLike<unknown>)).toEqual(
        Array.from(second as ArrayLike<unknown>),
      );
    }
  });
});
