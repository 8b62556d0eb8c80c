/**
 * The function runtime (DESIGN §1: this platform's answer to Merlin's pyfunc). Platform `javascript_function`.
 *
 * The model is an ES module from the artifact (MODEL_FILE, default `index.mjs`), loaded with a dynamic `import()` of
 * its file URL. The module contract (serving/README.md, "Function models"):
 * - `export async function predict(instances, context)`, required: one prediction (any JSON) per instance, in order;
 * - `export async function load(context)`, optional: runs once before the warm-up; its result is `context.state`;
 * - `export const metadata = { inputs: [{name, datatype, shape}], outputs: [...] }`, optional: tensors for V2;
 * - `export const warmup = [instance, ...]`, optional: the warm-up request (`false`: no warm-up).
 * A CommonJS module (`module.exports = { predict }`) works too.
 *
 * V1 hands `predict` the rows exactly as sent. V2 needs `metadata`: inputs are validated like any model's, each row
 * of the batch becomes one instance (an object keyed by input name when there are several inputs), and the returned
 * rows become the declared outputs. Each call has a time limit (REQUEST_TIMEOUT_MS, default 30 s): past it the
 * request gets 504 and `context.signal` aborts; `predict` keeps running until it returns or honours the signal.
 * `predict` runs on the server's event loop: a synchronous, CPU-bound `predict` delays every request while it runs.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BadRequestError, HttpError, InferenceError } from '../errors.js';
import { errorMessage, type Logger } from '../log.js';
import { isObject } from '../protocols/common.js';
import {
  DATATYPES,
  isDatatype,
  type Tensor,
  type TensorMetadata,
  tensorFromRows,
  toJsonRows,
  zeros,
} from '../tensors.js';
import { type InferOptions, ModelLoadError, type Runtime, type RuntimeOptions } from './runtime.js';

export const FUNCTION_PLATFORM = 'javascript_function';
/** The time limit of one `predict` call when REQUEST_TIMEOUT_MS is not set. */
export const DEFAULT_FUNCTION_TIMEOUT_MS = 30_000;

/** What `load` and `predict` receive. */
export interface FunctionContext {
  readonly modelName: string;
  readonly version: string;
  /** Absolute path of the artifact root: read files shipped next to the module from here. */
  readonly artifactDir: string;
  /** The request's `parameters` object; `{}` when it has none, in `load` and in the warm-up. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Structured JSON logs, one line each, with the model's name and version. */
  readonly logger: Logger;
  /** What `load` returned; undefined in `load` itself or without `load`. */
  readonly state: unknown;
  /** Aborted when the call passes its time limit (never aborted in `load`). */
  readonly signal: AbortSignal;
}

export interface FunctionOptions extends RuntimeOptions {
  readonly modelName: string;
  readonly version: string;
  readonly logger: Logger;
  /** Time limit of one `predict` call; default {@link DEFAULT_FUNCTION_TIMEOUT_MS}. */
  readonly timeoutMs?: number | undefined;
}

type PredictFunction = (instances: unknown[], context: FunctionContext) => unknown;

interface FunctionModule {
  readonly predict: PredictFunction;
  readonly load: ((context: FunctionContext) => unknown) | undefined;
  readonly metadata: { inputs: TensorMetadata[]; outputs: TensorMetadata[] } | undefined;
  readonly warmup: unknown[] | false | undefined;
}

const NO_PARAMETERS: Readonly<Record<string, unknown>> = Object.freeze({});
/** The signal of calls without a time limit (`load`). */
const NEVER_ABORTED = new AbortController().signal;

/** `SyntaxError: Unexpected token`, not just the message: the kind of failure matters for a module. */
function describeError(err: unknown): string {
  if (err instanceof Error) {
    const message = err.message || '(no message)';
    return err.name && err.name !== 'Error' ? `${err.name}: ${message}` : message;
  }
  return errorMessage(err);
}

/** The error message answered for a failing `predict`: the thrown message, or a description when it has none. */
function thrownMessage(err: unknown): string {
  if (err instanceof Error) return err.message || `predict threw ${err.name || 'an error'} without a message`;
  return typeof err === 'string' && err !== '' ? err : `predict threw ${preview(err)}`;
}

/** The `status` of a thrown client error (400–499), e.g. `Object.assign(new Error(message), { status: 400 })`. */
function clientErrorStatus(err: unknown): number | undefined {
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 499 ? status : undefined;
}

function preview(value: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch {
    // cyclic or BigInt
  }
  s ??= String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function parseTensors(file: string, kind: 'inputs' | 'outputs', value: unknown): TensorMetadata[] {
  const where = `${file}: metadata.${kind}`;
  if (!Array.isArray(value) || value.length === 0) {
    throw new ModelLoadError(`${where} must be a non-empty array of {name, datatype, shape}`);
  }
  const seen = new Set<string>();
  return value.map((raw, i) => {
    if (!isObject(raw)) throw new ModelLoadError(`${where}[${i}] must be an object {name, datatype, shape}`);
    const { name, datatype, shape } = raw;
    if (typeof name !== 'string' || name === '') throw new ModelLoadError(`${where}[${i}].name must be a string`);
    if (seen.has(name)) throw new ModelLoadError(`${where} has '${name}' more than once`);
    seen.add(name);
    if (!isDatatype(datatype) || datatype === 'FP16') {
      const allowed = DATATYPES.filter((d) => d !== 'FP16').join(', ');
      throw new ModelLoadError(
        `${where}[${i}] ('${name}'): datatype must be one of ${allowed}, got ${preview(datatype)}`,
      );
    }
    if (
      !Array.isArray(shape) ||
      shape.length === 0 ||
      shape[0] !== -1 ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= -1)
    ) {
      throw new ModelLoadError(
        `${where}[${i}] ('${name}'): shape must be an array of integers starting with -1, the batch dimension ` +
          `(one instance per row; -1 = any size), got ${preview(shape)}`,
      );
    }
    return { name, datatype, shape: [...(shape as number[])] };
  });
}

/** Checks the module's exports; throws {@link ModelLoadError} naming the file and the export. */
export function parseModule(file: string, mod: Record<string, unknown>): FunctionModule {
  // A CommonJS module's `module.exports` arrives as `default` (named exports only when Node can detect them).
  const fallback = isObject(mod.default) ? mod.default : {};
  const exported = (name: string): unknown => mod[name] ?? fallback[name];

  const predict = exported('predict');
  if (typeof predict !== 'function') {
    throw new ModelLoadError(
      `${file} does not export a predict function (expected: export async function predict(instances, context))`,
    );
  }
  const load = exported('load');
  if (load !== undefined && typeof load !== 'function') {
    throw new ModelLoadError(`${file}: the load export must be a function (export async function load(context))`);
  }
  const rawMetadata = exported('metadata');
  let metadata: FunctionModule['metadata'];
  if (rawMetadata !== undefined) {
    if (!isObject(rawMetadata)) throw new ModelLoadError(`${file}: metadata must be an object {inputs, outputs}`);
    metadata = {
      inputs: parseTensors(file, 'inputs', rawMetadata.inputs),
      outputs: parseTensors(file, 'outputs', rawMetadata.outputs),
    };
  }
  const warmup = exported('warmup');
  if (warmup !== undefined && warmup !== false && !(Array.isArray(warmup) && warmup.length > 0)) {
    throw new ModelLoadError(
      `${file}: warmup must be a non-empty array of instances, or false, got ${preview(warmup)}`,
    );
  }
  return {
    predict: predict as PredictFunction,
    load: load as FunctionModule['load'],
    metadata,
    warmup: warmup as FunctionModule['warmup'],
  };
}

export class FunctionRuntime implements Runtime {
  readonly platform = FUNCTION_PLATFORM;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  readonly v2Unavailable: string | undefined;
  readonly timeoutMs: number;
  readonly #module: FunctionModule;
  readonly #options: FunctionOptions;
  #state: unknown;

  private constructor(module: FunctionModule, options: FunctionOptions, file: string) {
    this.#module = module;
    this.#options = options;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
    this.inputs = module.metadata?.inputs ?? [];
    this.outputs = module.metadata?.outputs ?? [];
    this.v2Unavailable = module.metadata
      ? undefined
      : `model '${options.modelName}' is a function model that declares no tensor metadata; use the V1 protocol ` +
        `(POST /v1/models/${options.modelName}:predict) or export metadata = {inputs, outputs} from ${file}`;
  }

  /**
   * Imports the module, checks its exports and runs its `load`. Throws {@link ModelLoadError}: the file cannot be
   * imported (syntax error, missing import), `predict` is missing, an export is malformed, or `load` failed (the
   * error is the `cause`, for its stack).
   */
  static async load(options: FunctionOptions): Promise<FunctionRuntime> {
    const file = path.relative(options.artifactDir, options.modelPath).split(path.sep).join('/');
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(options.modelPath).href)) as Record<string, unknown>;
    } catch (err) {
      throw new ModelLoadError(`cannot import ${file}: ${describeError(err)}`, { cause: err });
    }
    const runtime = new FunctionRuntime(parseModule(file, mod), options, file);
    const load = runtime.#module.load;
    if (load) {
      try {
        runtime.#state = await load(runtime.#context(NO_PARAMETERS, NEVER_ABORTED));
      } catch (err) {
        throw new ModelLoadError(`load() in ${file} failed: ${describeError(err)}`, { cause: err });
      }
    }
    return runtime;
  }

  #context(parameters: Readonly<Record<string, unknown>>, signal: AbortSignal): FunctionContext {
    const o = this.#options;
    return {
      modelName: o.modelName,
      version: o.version,
      artifactDir: o.artifactDir,
      parameters,
      logger: o.logger,
      state: this.#state,
      signal,
    };
  }

  /** Logs a failed call at error and returns the error to throw (its status and message are the answer). */
  #failed(error: HttpError, fields: Record<string, unknown> = {}): HttpError {
    this.#options.logger.error('prediction failed', { status: error.status, error: error.message, ...fields });
    return error;
  }

  /**
   * Calls `predict` with a time limit and checks that it returned one prediction per instance. Throws
   * {@link HttpError}s: 500 with the thrown message, 504 past the limit, 500 for a result of the wrong shape.
   */
  async #predict(instances: unknown[], parameters: Readonly<Record<string, unknown>>): Promise<unknown[]> {
    const count = instances.length; // before predict sees (and perhaps changes) the array
    const controller = new AbortController();
    const context = this.#context(parameters, controller.signal);
    let timer: NodeJS.Timeout | undefined;
    let timeout: HttpError | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timeout = new HttpError(504, `prediction timed out after ${this.timeoutMs} ms`);
        controller.abort(new DOMException(timeout.message, 'TimeoutError'));
        reject(timeout);
      }, this.timeoutMs);
    });
    const { predict } = this.#module;
    const running = (async () => predict(instances, context))();
    let result: unknown;
    try {
      result = await Promise.race([running, timedOut]);
    } catch (err) {
      if (err === timeout) throw this.#failed(err as HttpError, { timeoutMs: this.timeoutMs });
      // The module's own verdict on its input: an error with a 4xx `status` is answered with it (not logged).
      const status = clientErrorStatus(err);
      if (status !== undefined) throw new HttpError(status, thrownMessage(err));
      const stack = err instanceof Error ? err.stack : undefined;
      throw this.#failed(new InferenceError(thrownMessage(err)), stack ? { stack } : {});
    } finally {
      clearTimeout(timer);
      // A predict still running past its time limit may reject later: that must not be an unhandled rejection.
      running.catch(() => undefined);
    }
    if (!Array.isArray(result)) {
      throw this.#failed(
        new InferenceError(`predict must return an array with one prediction per instance, got ${preview(result)}`),
      );
    }
    if (result.length !== count) {
      throw this.#failed(
        new InferenceError(
          `predict returned ${result.length} predictions for ${count} instances; ` +
            'it must return one prediction per instance, in order',
        ),
      );
    }
    return result;
  }

  predictJson(rows: readonly unknown[], options?: InferOptions): Promise<unknown[]> {
    return this.#predict(rows as unknown[], options?.parameters ?? NO_PARAMETERS);
  }

  async infer(
    inputs: ReadonlyMap<string, Tensor>,
    outputs?: readonly string[],
    options?: InferOptions,
  ): Promise<Map<string, Tensor>> {
    if (this.v2Unavailable !== undefined) throw new BadRequestError(this.v2Unavailable);
    const predictions = await this.#predict(this.#instances(inputs), options?.parameters ?? NO_PARAMETERS);
    return this.#tensors(predictions, outputs ?? this.outputs.map((o) => o.name));
  }

  /** One instance per row of the batch: the row itself for one input, `{inputName: row}` for several. */
  #instances(inputs: ReadonlyMap<string, Tensor>): unknown[] {
    const columns: [string, unknown[]][] = [];
    for (const meta of this.inputs) {
      const tensor = inputs.get(meta.name);
      if (!tensor) throw new BadRequestError(`missing input '${meta.name}'`);
      const rows = toJsonRows(tensor);
      const first = columns[0];
      if (first && first[1].length !== rows.length) {
        throw new BadRequestError(
          `inputs '${first[0]}' and '${meta.name}' have ${first[1].length} and ${rows.length} rows; a function ` +
            'model takes one instance per row, so every input needs the same first dimension',
        );
      }
      columns.push([meta.name, rows]);
    }
    const [only, ...more] = columns;
    if (!only || only[1].length === 0) throw new BadRequestError('a function model needs at least one instance (row)');
    if (more.length === 0) return only[1];
    return only[1].map((_, i) => Object.fromEntries(columns.map(([name, rows]) => [name, rows[i]])));
  }

  /** The returned rows as the wanted output tensors; a row that does not fit its output is a 500. */
  #tensors(predictions: unknown[], wanted: readonly string[]): Map<string, Tensor> {
    const single = this.outputs.length === 1;
    const out = new Map<string, Tensor>();
    for (const name of wanted) {
      const meta = this.outputs.find((o) => o.name === name);
      if (!meta) throw new BadRequestError(`unknown output '${name}'`);
      const column = predictions.map((p, i) => {
        // One output: the row itself, or {name: row}. Several: {name: row, ...}. Tensor rows are never plain objects.
        if (single && !isObject(p)) return p;
        if (!isObject(p)) {
          throw this.#failed(
            new InferenceError(
              `predict returned ${preview(p)} for instance ${i}; with several outputs each prediction must be an ` +
                `object keyed by output name (${this.outputs.map((o) => o.name).join(', ')})`,
            ),
          );
        }
        if (p[name] === undefined) {
          throw this.#failed(new InferenceError(`the prediction for instance ${i} has no output '${name}'`));
        }
        return p[name];
      });
      try {
        out.set(
          name,
          tensorFromRows(meta, column, (i) => `prediction ${i}`),
        );
      } catch (err) {
        if (!(err instanceof BadRequestError)) throw err;
        // tensorFromRows speaks of inputs; here the rows are what predict returned.
        const detail = err.message
          .replace(`input '${name}'`, `output '${name}'`)
          .replace('(model input shape', '(output shape');
        throw this.#failed(new InferenceError(`predict returned a value that does not fit the metadata: ${detail}`));
      }
    }
    return out;
  }

  /**
   * The module's `warmup` instances through `predict`; else, with `metadata`, one row of zeros through V2; else
   * nothing (`predict` is not called with made-up input it may not accept).
   */
  async warmUp(): Promise<void> {
    const { warmup } = this.#module;
    if (warmup === false) return;
    if (warmup !== undefined) {
      await this.#predict(warmup, NO_PARAMETERS);
    } else if (this.v2Unavailable === undefined) {
      await this.infer(new Map(this.inputs.map((m) => [m.name, zeros(m)])));
    } else {
      this.#options.logger.info('no warm-up prediction: the module exports neither warmup nor metadata');
    }
  }

  async close(): Promise<void> {
    // Nothing native to release; the module stays in the import cache until the process exits.
  }
}
