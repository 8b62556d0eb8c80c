/**
 * Adaptive micro-batching (opt-in per endpoint: BATCH_MAX_SIZE, BATCH_MAX_LATENCY_MS). Concurrent requests are merged
 * into one inference call and split back, each caller getting exactly its rows.
 *
 * - Requests merge when their inputs agree on everything but the number of rows: the same datatype and the same
 *   dimensions after the first, per input, and one row count across a request's inputs. Their inputs are
 *   concatenated along dimension 0, the model runs once, and every output is split back by row counts (each caller
 *   gets the outputs it asked for, in its order). A request that cannot merge (a scalar input, inputs with different
 *   row counts, zero rows) runs alone, as it would without batching.
 * - Adaptive flushing: when nothing is running, queued requests run at the end of the current event-loop turn
 *   (`setImmediate`: whatever arrived in the same turn joins, a lone request waits for nothing). While a batch runs,
 *   requests queue; they run as soon as the model is free, when `maxBatchSize` rows are queued, or `maxLatencyMs` after
 *   the first of them was queued, whichever comes first. A batch never exceeds `maxBatchSize` rows unless one request
 *   alone has more.
 * - A failing merged inference fails every request in it with that error. A result whose first dimension is not the
 *   batch's row count cannot be split: its requests are re-run one by one, and the batcher stops merging.
 */
import { allocate, type Tensor, type TensorData } from './tensors.js';

export interface BatchingOptions {
  /** Rows per merged inference (a single larger request still runs whole). */
  readonly maxBatchSize: number;
  /** How long the first queued request may wait while the model is busy. */
  readonly maxLatencyMs: number;
}

/** One call of the model: `Runtime.infer`. */
export type InferFn = (
  inputs: ReadonlyMap<string, Tensor>,
  outputs?: readonly string[],
) => Promise<Map<string, Tensor>>;

export interface BatcherHooks {
  /** After every call of the model made by the batcher (merged or alone), successful or not. */
  readonly onInference?: (seconds: number, rows: number, requests: number, ok: boolean) => void;
  /** Once, when a result could not be split by rows and merging was turned off. */
  readonly onUnsplittable?: (reason: string) => void;
}

interface Pending {
  readonly inputs: ReadonlyMap<string, Tensor>;
  readonly outputs: readonly string[] | undefined;
  readonly rows: number;
  readonly resolve: (outputs: Map<string, Tensor>) => void;
  readonly reject: (err: unknown) => void;
  group: Group | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Group {
  readonly key: string;
  readonly requests: Pending[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
}

const now = () => performance.now();

export class Batcher {
  private readonly groups = new Map<string, Group>();
  /** Model calls started and not finished. */
  private running = 0;
  private immediate: NodeJS.Immediate | undefined;
  private merging = true;

  constructor(
    private readonly infer: InferFn,
    /** The model's input names: the order in which a merge key is built. */
    private readonly inputNames: readonly string[],
    private readonly options: BatchingOptions,
    private readonly hooks: BatcherHooks = {},
  ) {}

  /** Requests queued and not yet handed to the model. */
  get queued(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.requests.length;
    return n;
  }

  /**
   * Runs one request, merged with others when possible. Resolves with exactly its rows of the outputs it asked for
   * (all when `outputs` is undefined). An aborted `signal` withdraws the request while it is still queued (the
   * promise rejects with the signal's reason); once handed to the model it runs to the end.
   */
  submit(
    inputs: ReadonlyMap<string, Tensor>,
    outputs?: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, Tensor>> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const shape = this.merging ? mergeKey(inputs, this.inputNames) : undefined;
    if (shape === undefined) return this.call(inputs, outputs, rowsOf(inputs), 1);
    return new Promise<Map<string, Tensor>>((resolve, reject) => {
      const p: Pending = {
        inputs,
        outputs,
        rows: shape.rows,
        resolve,
        reject,
        group: undefined,
        signal,
        onAbort: undefined,
      };
      if (signal) {
        p.onAbort = () => this.withdraw(p);
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.enqueue(p, shape.key);
    });
  }

  private enqueue(p: Pending, key: string): void {
    const max = this.options.maxBatchSize;
    let group = this.groups.get(key);
    if (group && group.rows + p.rows > max) {
      this.flush(group);
      group = undefined;
    }
    if (!group) {
      group = { key, requests: [], rows: 0, timer: undefined };
      this.groups.set(key, group);
    }
    group.requests.push(p);
    group.rows += p.rows;
    p.group = group;
    if (group.rows >= max) {
      this.flush(group);
    } else if (this.running === 0) {
      this.scheduleFlush();
    } else if (group.timer === undefined) {
      const g = group;
      g.timer = setTimeout(() => {
        g.timer = undefined;
        if (this.groups.get(g.key) === g) this.flush(g);
      }, this.options.maxLatencyMs);
    }
  }

  /** Runs every queued group at the end of this event-loop turn. */
  private scheduleFlush(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      for (const g of [...this.groups.values()]) this.flush(g);
    });
  }

  private withdraw(p: Pending): void {
    const g = p.group;
    if (!g || this.groups.get(g.key) !== g) return; // already handed to the model
    const i = g.requests.indexOf(p);
    if (i === -1) return;
    g.requests.splice(i, 1);
    g.rows -= p.rows;
    if (g.requests.length === 0) {
      if (g.timer) clearTimeout(g.timer);
      this.groups.delete(g.key);
    }
    p.reject(p.signal?.reason);
  }

  private flush(g: Group): void {
    if (this.groups.get(g.key) === g) this.groups.delete(g.key);
    if (g.timer) {
      clearTimeout(g.timer);
      g.timer = undefined;
    }
    const requests = g.requests;
    for (const p of requests) {
      if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    }
    if (requests.length === 0) return;
    if (requests.length === 1) {
      const p = requests[0] as Pending;
      this.call(p.inputs, p.outputs, p.rows, 1).then(p.resolve, p.reject);
      return;
    }
    void this.runMerged(requests, g.rows);
  }

  /** One call of the model, counted as running (the queue waits for it) and reported to the hooks. */
  private async call(
    inputs: ReadonlyMap<string, Tensor>,
    outputs: readonly string[] | undefined,
    rows: number,
    requests: number,
  ): Promise<Map<string, Tensor>> {
    this.running++;
    const start = now();
    let ok = false;
    try {
      const result = await this.infer(inputs, outputs);
      ok = true;
      return result;
    } finally {
      this.running--;
      this.hooks.onInference?.((now() - start) / 1000, rows, requests, ok);
      if (this.running === 0 && this.groups.size > 0) this.scheduleFlush();
    }
  }

  private async runMerged(requests: readonly Pending[], rows: number): Promise<void> {
    const inputs = new Map<string, Tensor>();
    for (const name of this.inputNames) {
      inputs.set(
        name,
        concat(
          requests.map((p) => p.inputs.get(name) as Tensor),
          rows,
        ),
      );
    }
    const wanted = unionOfOutputs(requests);
    let result: Map<string, Tensor>;
    try {
      result = await this.call(inputs, wanted, rows, requests.length);
    } catch (err) {
      for (const p of requests) p.reject(err);
      return;
    }
    const problem = unsplittable(result, rows);
    if (problem !== undefined) {
      if (this.merging) {
        this.merging = false;
        this.hooks.onUnsplittable?.(problem);
      }
      for (const p of requests) this.call(p.inputs, p.outputs, p.rows, 1).then(p.resolve, p.reject);
      return;
    }
    let offset = 0;
    for (const p of requests) {
      const names = p.outputs ?? [...result.keys()];
      const mine = new Map<string, Tensor>();
      for (const name of names) mine.set(name, sliceRows(result.get(name) as Tensor, offset, p.rows));
      offset += p.rows;
      p.resolve(mine);
    }
  }
}

/** The merge key (input names, datatypes, dimensions after the first) and the row count; undefined: run alone. */
export function mergeKey(
  inputs: ReadonlyMap<string, Tensor>,
  inputNames: readonly string[],
): { key: string; rows: number } | undefined {
  if (inputs.size !== inputNames.length) return undefined;
  let key = '';
  let rows = -1;
  for (const name of inputNames) {
    const t = inputs.get(name);
    if (t === undefined || t.shape.length === 0) return undefined;
    const n = t.shape[0] as number;
    if (rows === -1) rows = n;
    else if (n !== rows) return undefined;
    key += `${name}\u0000${t.datatype}\u0000${t.shape.slice(1).join(',')}\u0001`;
  }
  return rows > 0 ? { key, rows } : undefined;
}

function rowsOf(inputs: ReadonlyMap<string, Tensor>): number {
  for (const t of inputs.values()) return t.shape[0] ?? 1;
  return 0;
}

/** Undefined (all outputs) when any request wants all; otherwise every name asked for, first request first. */
function unionOfOutputs(requests: readonly Pending[]): string[] | undefined {
  const names: string[] = [];
  for (const p of requests) {
    if (p.outputs === undefined) return undefined;
    for (const n of p.outputs) if (!names.includes(n)) names.push(n);
  }
  return names;
}

type Settable = { set(array: ArrayLike<number | bigint>, offset: number): void };

/** Concatenates tensors of one datatype and row shape along dimension 0. */
export function concat(tensors: readonly Tensor[], rows: number): Tensor {
  const first = tensors[0] as Tensor;
  const shape = [rows, ...first.shape.slice(1)];
  let size = 0;
  for (const t of tensors) size += t.data.length;
  if (Array.isArray(first.data)) {
    const data: string[] = new Array(size);
    let k = 0;
    for (const t of tensors) for (const s of t.data as string[]) data[k++] = s;
    return { datatype: first.datatype, shape, data };
  }
  const data = allocate(first.datatype, size);
  let offset = 0;
  for (const t of tensors) {
    (data as unknown as Settable).set(t.data as ArrayLike<number | bigint>, offset);
    offset += t.data.length;
  }
  return { datatype: first.datatype, shape, data };
}

/** Why `result` cannot be split into `rows` rows, or undefined when it can. */
function unsplittable(result: ReadonlyMap<string, Tensor>, rows: number): string | undefined {
  for (const [name, t] of result) {
    if (t.shape.length === 0 || t.shape[0] !== rows) {
      return `output '${name}' has shape [${t.shape.join(', ')}] for a batch of ${rows} rows; it cannot be split by rows`;
    }
  }
  return undefined;
}

/** Rows `[start, start + count)` of a tensor (views, not copies, for typed arrays). */
export function sliceRows(t: Tensor, start: number, count: number): Tensor {
  const total = t.shape[0] as number;
  const rowSize = total === 0 ? 0 : t.data.length / total;
  const from = start * rowSize;
  const to = (start + count) * rowSize;
  const data: TensorData = Array.isArray(t.data) ? t.data.slice(from, to) : t.data.subarray(from, to);
  return { datatype: t.datatype, shape: [count, ...t.shape.slice(1)], data };
}
