/**
 * The function runtime on its own: importing a module from a directory, checking its exports, calling `load` and
 * `predict` with their context, V1 rows and V2 tensors, failures as HTTP errors, the time limit, the warm-up.
 * Modules are written to a temporary directory per test (or taken from test/fixtures/models/function).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BadRequestError, HttpError, InferenceError } from '../../../serving/errors.js';
import { createLogger } from '../../../serving/log.js';
import {
  DEFAULT_FUNCTION_TIMEOUT_MS,
  type FunctionOptions,
  FunctionRuntime,
  parseModule,
} from '../../../serving/runtimes/function.js';
import { ModelLoadError } from '../../../serving/runtimes/runtime.js';
import type { Tensor } from '../../../serving/tensors.js';

const fixtures = fileURLToPath(new URL('../../fixtures/models/function/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'function-runtime-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Line {
  level: string;
  msg: string;
  [field: string]: unknown;
}

let count = 0;

/** Writes `files` (at least index.mjs) into a fresh directory and loads it; returns the runtime and its log lines. */
async function load(files: Record<string, string> | string, options: Partial<FunctionOptions> = {}) {
  const dir = join(tmp, `model-${++count}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(typeof files === 'string' ? { 'index.mjs': files } : files)) {
    writeFileSync(join(dir, name), text);
  }
  const lines: Line[] = [];
  const logger = createLogger({ model: 'm', version: '7' }, (line) => lines.push(JSON.parse(line) as Line));
  const runtime = await FunctionRuntime.load({
    modelPath: join(dir, 'index.mjs'),
    artifactDir: dir,
    modelName: 'm',
    version: '7',
    logger,
    ...options,
  });
  return { runtime, lines, dir };
}

async function loadError(files: Record<string, string> | string): Promise<ModelLoadError> {
  const err = await load(files).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelLoadError);
  return err as ModelLoadError;
}

async function httpError(promise: Promise<unknown>): Promise<HttpError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

const fp64 = (shape: number[], data: number[]): Tensor => ({ datatype: 'FP64', shape, data: Float64Array.from(data) });
const int64 = (data: number[]): Tensor => ({
  datatype: 'INT64',
  shape: [data.length],
  data: BigInt64Array.from(data.map(BigInt)),
});

describe('FunctionRuntime: loading the module', () => {
  it('should describe a module without metadata: no tensors, V2 unavailable with the reason', async () => {
    const { runtime } = await load('export async function predict(xs) { return xs; }');
    expect(runtime.platform).toBe('javascript_function');
    expect(runtime.inputs).toEqual([]);
    expect(runtime.outputs).toEqual([]);
    expect(runtime.timeoutMs).toBe(DEFAULT_FUNCTION_TIMEOUT_MS);
    expect(runtime.v2Unavailable).toBe(
      "model 'm' is a function model that declares no tensor metadata; use the V1 protocol " +
        '(POST /v1/models/m:predict) or export metadata = {inputs, outputs} from index.mjs',
    );
  });

  it('should run load once with the context, and hand its result to predict as context.state', async () => {
    const { runtime, dir, lines } = await load(`
      let loads = 0;
      export async function load(context) {
        loads++;
        context.logger.info('loading', { file: 'x' });
        return { loads, seen: { ...context, logger: typeof context.logger.info, signal: context.signal.aborted } };
      }
      export async function predict(instances, context) {
        return instances.map(() => context.state);
      }`);
    const [state] = await runtime.predictJson([1]);
    expect(state).toEqual({
      loads: 1,
      seen: {
        modelName: 'm',
        version: '7',
        artifactDir: dir,
        parameters: {},
        logger: 'function',
        state: undefined,
        signal: false,
      },
    });
    expect(lines).toEqual([expect.objectContaining({ level: 'info', msg: 'loading', model: 'm', file: 'x' })]);
  });

  it('should load a CommonJS module (module.exports arrives as the default export)', async () => {
    const dir = join(fixtures, 'commonjs');
    const runtime = await FunctionRuntime.load({
      modelPath: join(dir, 'index.js'),
      artifactDir: dir,
      modelName: 'm',
      version: '1',
      logger: createLogger({}, () => undefined),
    });
    expect(await runtime.predictJson([1, 2.5])).toEqual([2, 5]);
  });

  it('should refuse a module that does not parse, naming the error', async () => {
    const err = await loadError('export async function predict(xs) { return xs.map((x) => x * ); }');
    // Under vitest the import goes through Vite (a RolldownError); the real server says SyntaxError (integration).
    expect(err.message).toMatch(/^cannot import index\.mjs: \w+Error: .*Unexpected token/s);
  });

  it('should refuse a module whose imports are missing', async () => {
    const err = await loadError("import './lib.mjs';\nexport const predict = async (xs) => xs;");
    expect(err.message).toMatch(/^cannot import index\.mjs: .*Cannot find module '.*lib\.mjs'/);
  });

  it('should refuse a module without predict', async () => {
    const err = await loadError('export const load = async () => 1;');
    expect(err.message).toBe(
      'index.mjs does not export a predict function (expected: export async function predict(instances, context))',
    );
  });

  it('should fail with the error of a failing load, kept as the cause', async () => {
    const err = await loadError(`
      export async function load() { throw new RangeError('no weights'); }
      export async function predict(xs) { return xs; }`);
    expect(err.message).toBe('load() in index.mjs failed: RangeError: no weights');
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as Error).stack).toContain('index.mjs');
  });

  it('should name a file in a subdirectory by its artifact-relative path', async () => {
    const dir = join(tmp, `model-${++count}`);
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'model.mjs'), 'export const nothing = 1;');
    const err = await FunctionRuntime.load({
      modelPath: join(dir, 'src', 'model.mjs'),
      artifactDir: dir,
      modelName: 'm',
      version: '1',
      logger: createLogger({}, () => undefined),
    }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/^src\/model\.mjs does not export a predict function/);
  });
});

describe('FunctionRuntime: checking the exports', () => {
  const predict = async (xs: unknown[]) => xs;
  const tensor = { name: 'x', datatype: 'FP64', shape: [-1, 2] };

  it.each([
    [{ predict, load: 3 }, 'f.mjs: the load export must be a function (export async function load(context))'],
    [{ predict, metadata: [] }, 'f.mjs: metadata must be an object {inputs, outputs}'],
    [
      { predict, metadata: { inputs: [], outputs: [tensor] } },
      'f.mjs: metadata.inputs must be a non-empty array of {name, datatype, shape}',
    ],
    [
      { predict, metadata: { inputs: [tensor] } },
      'f.mjs: metadata.outputs must be a non-empty array of {name, datatype, shape}',
    ],
    [
      { predict, metadata: { inputs: ['x'], outputs: [tensor] } },
      'f.mjs: metadata.inputs[0] must be an object {name, datatype, shape}',
    ],
    [
      { predict, metadata: { inputs: [{ ...tensor, name: '' }], outputs: [tensor] } },
      'f.mjs: metadata.inputs[0].name must be a string',
    ],
    [
      { predict, metadata: { inputs: [tensor, tensor], outputs: [tensor] } },
      "f.mjs: metadata.inputs has 'x' more than once",
    ],
    [
      { predict, metadata: { inputs: [{ ...tensor, datatype: 'FP16' }], outputs: [tensor] } },
      "f.mjs: metadata.inputs[0] ('x'): datatype must be one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, " +
        'INT32, INT64, FP32, FP64, BYTES, got "FP16"',
    ],
    [
      { predict, metadata: { inputs: [tensor], outputs: [{ ...tensor, shape: [3, 2] }] } },
      "f.mjs: metadata.outputs[0] ('x'): shape must be an array of integers starting with -1, the batch dimension " +
        '(one instance per row; -1 = any size), got [3,2]',
    ],
    [
      { predict, metadata: { inputs: [{ ...tensor, shape: [-1, 1.5] }], outputs: [tensor] } },
      "f.mjs: metadata.inputs[0] ('x'): shape must be an array of integers starting with -1, the batch dimension " +
        '(one instance per row; -1 = any size), got [-1,1.5]',
    ],
    [{ predict, warmup: [] }, 'f.mjs: warmup must be a non-empty array of instances, or false, got []'],
    [{ predict, warmup: true }, 'f.mjs: warmup must be a non-empty array of instances, or false, got true'],
  ])('should refuse %j', (mod, message) => {
    expect(() => parseModule('f.mjs', mod)).toThrow(new ModelLoadError(message));
  });

  it('should read the exports of a CommonJS default export', () => {
    const parsed = parseModule('f.js', { default: { predict, warmup: false } });
    expect(parsed.predict).toBe(predict);
    expect(parsed.warmup).toBe(false);
    expect(parsed.metadata).toBeUndefined();
  });
});

describe('FunctionRuntime: V1 rows through predict', () => {
  it('should pass the rows as given and the request parameters, and return the predictions', async () => {
    const { runtime } = await load(
      'export const predict = async (xs, ctx) => xs.map((x) => ({ x, p: ctx.parameters, aborted: ctx.signal.aborted }));',
    );
    const rows = [{ a: [1, 'two', null] }, 'text', 3, [true, { nested: {} }]];
    expect(await runtime.predictJson(rows, { parameters: { top: 2 } })).toEqual(
      rows.map((x) => ({ x, p: { top: 2 }, aborted: false })),
    );
    expect(await runtime.predictJson([1])).toEqual([{ x: 1, p: {}, aborted: false }]);
  });

  it('should answer an exception with 500 and its message, logged at error with the stack', async () => {
    const { runtime, lines } = await load(`
      export async function predict() { throw new TypeError('feature "age" is missing'); }`);
    const err = await httpError(runtime.predictJson([{}]));
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.status).toBe(500);
    expect(err.message).toBe('feature "age" is missing');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'prediction failed',
        status: 500,
        error: 'feature "age" is missing',
        stack: expect.stringMatching(/^TypeError: feature "age" is missing\n.*index\.mjs/),
      }),
    ]);
  });

  it.each([
    ['throw "plain text"', 'plain text'],
    ['throw 42', 'predict threw 42'],
    ['throw new RangeError()', 'predict threw RangeError without a message'],
    ['throw { code: 1 }', 'predict threw {"code":1}'],
  ])('should answer %s with 500: %s', async (statement, message) => {
    const { runtime } = await load(`export function predict() { ${statement}; }`);
    const err = await httpError(runtime.predictJson([1]));
    expect([err.status, err.message]).toEqual([500, message]);
  });

  it('should answer an error with a 4xx status with that status and message, without logging it', async () => {
    const { runtime, lines } = await load(`
      export async function predict() { throw Object.assign(new Error('income must be a number'), { status: 400 }); }`);
    const err = await httpError(runtime.predictJson([1]));
    expect([err.status, err.message]).toEqual([400, 'income must be a number']);
    expect(lines).toEqual([]);
  });

  it('should not take a 5xx or odd status from an error: still 500', async () => {
    const { runtime } = await load(`
      export async function predict() { throw Object.assign(new Error('upstream'), { status: 503 }); }`);
    expect((await httpError(runtime.predictJson([1]))).status).toBe(500);
  });

  it('should refuse a result that is not one prediction per instance', async () => {
    const { runtime } = await load(`
      export async function predict(xs, ctx) { return ctx.parameters.shape === 'object' ? { xs } : xs.slice(1); }`);
    const short = await httpError(runtime.predictJson([1, 2, 3]));
    expect([short.status, short.message]).toEqual([
      500,
      'predict returned 2 predictions for 3 instances; it must return one prediction per instance, in order',
    ]);
    const object = await httpError(runtime.predictJson([1], { parameters: { shape: 'object' } }));
    expect([object.status, object.message]).toEqual([
      500,
      'predict must return an array with one prediction per instance, got {"xs":[1]}',
    ]);
  });

  it('should accept a synchronous predict', async () => {
    const { runtime } = await load('export function predict(xs) { return xs.map((x) => x + 1); }');
    expect(await runtime.predictJson([1, 2])).toEqual([2, 3]);
  });
});

describe('FunctionRuntime: the time limit', () => {
  it('should answer 504 when predict outlives the limit, and abort context.signal', async () => {
    const { runtime, lines, dir } = await load(
      `
      export const seen = [];
      export async function predict(xs, ctx) {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        seen.push({ aborted: ctx.signal.aborted, reason: ctx.signal.reason.name, message: ctx.signal.reason.message });
        throw ctx.signal.reason; // after the 504: must not become an unhandled rejection
      }`,
      { timeoutMs: 20 },
    );
    const err = await httpError(runtime.predictJson([1]));
    expect([err.status, err.message]).toEqual([504, 'prediction timed out after 20 ms']);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'prediction failed',
        status: 504,
        error: 'prediction timed out after 20 ms',
        timeoutMs: 20,
      }),
    ]);
    const mod = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as { seen: unknown[] };
    await expect
      .poll(() => mod.seen)
      .toEqual([{ aborted: true, reason: 'TimeoutError', message: 'prediction timed out after 20 ms' }]);
  });

  it('should answer 504 for a predict that never settles, and keep answering other calls', async () => {
    const { runtime } = await load(
      `export function predict(xs, ctx) { return ctx.parameters.hang ? new Promise(() => {}) : xs; }`,
      { timeoutMs: 20 },
    );
    const hanging = runtime.predictJson([1], { parameters: { hang: true } });
    expect(await runtime.predictJson(['quick'])).toEqual(['quick']);
    expect((await httpError(hanging)).status).toBe(504);
  });

  it('should take the limit from the options', async () => {
    const { runtime } = await load('export const predict = async (xs) => xs;', { timeoutMs: 1234 });
    expect(runtime.timeoutMs).toBe(1234);
  });
});

describe('FunctionRuntime: V2 tensors through predict', () => {
  const source = (outputs: string, body: string) => `
    export const metadata = {
      inputs: [{ name: 'x', datatype: 'FP64', shape: [-1, 2] }, { name: 'k', datatype: 'INT64', shape: [-1] }],
      outputs: ${outputs},
    };
    export async function predict(instances, context) { ${body} }`;
  const twoOutputs = `[{ name: 'sum', datatype: 'FP64', shape: [-1] }, { name: 'sign', datatype: 'BYTES', shape: [-1] }]`;
  const inputs = new Map([
    ['x', fp64([2, 2], [1.5, 2.25, -4, 0.5])],
    ['k', int64([3, -2])],
  ]);

  it('should give predict one object per row for several inputs, and return the declared outputs', async () => {
    const { runtime } = await load(
      source(
        twoOutputs,
        `return instances.map(({ x, k }) => ({ sum: x[0] + x[1] + k, sign: k < 0 ? 'negative' : 'non-negative', extra: 1 }));`,
      ),
    );
    expect(runtime.v2Unavailable).toBeUndefined();
    expect(runtime.inputs.map((i) => i.name)).toEqual(['x', 'k']);
    const out = await runtime.infer(inputs);
    expect([...out.keys()]).toEqual(['sum', 'sign']);
    // 1.5 + 2.25 + 3 = 6.75; -4 + 0.5 - 2 = -5.5
    expect(out.get('sum')).toEqual(fp64([2], [6.75, -5.5]));
    expect(out.get('sign')).toEqual({ datatype: 'BYTES', shape: [2], data: ['non-negative', 'negative'] });
    const onlySign = await runtime.infer(inputs, ['sign']);
    expect([...onlySign.keys()]).toEqual(['sign']);
  });

  it('should give predict the rows themselves for one input, and take plain values or {output: value}', async () => {
    const { runtime } = await load(`
      export const metadata = {
        inputs: [{ name: 'x', datatype: 'INT32', shape: [-1, 2] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
      };
      export async function predict(rows, ctx) {
        return rows.map(([a, b], i) => (i % 2 ? { y: [b, a] } : [a * ctx.parameters.scale, b * ctx.parameters.scale]));
      }`);
    const out = await runtime.infer(
      new Map([['x', { datatype: 'INT32', shape: [2, 2], data: Int32Array.from([1, 2, 3, 4]) } as Tensor]]),
      undefined,
      { parameters: { scale: 0.5 } },
    );
    expect(out.get('y')).toEqual({ datatype: 'FP32', shape: [2, 2], data: Float32Array.from([0.5, 1, 4, 3]) });
  });

  it('should answer 500 when a prediction does not fit its output', async () => {
    const { runtime, lines } = await load(
      source(twoOutputs, `return instances.map(() => ({ sum: 'high', sign: 'x' }));`),
    );
    const err = await httpError(runtime.infer(inputs));
    expect(err.status).toBe(500);
    expect(err.message).toBe(
      'predict returned a value that does not fit the metadata: ' +
        `output 'sum': prediction 0 is "high", expected a number (FP64)`,
    );
    expect(lines.at(-1)).toMatchObject({ level: 'error', msg: 'prediction failed', status: 500 });
  });

  it('should answer 500 when a prediction lacks an output or is not an object with several outputs', async () => {
    const missing = await load(source(twoOutputs, `return instances.map(() => ({ sum: 1 }));`));
    expect((await httpError(missing.runtime.infer(inputs))).message).toBe(
      "the prediction for instance 0 has no output 'sign'",
    );
    const plain = await load(source(twoOutputs, 'return instances.map(() => 1);'));
    expect((await httpError(plain.runtime.infer(inputs))).message).toBe(
      'predict returned 1 for instance 0; with several outputs each prediction must be an object keyed by output ' +
        'name (sum, sign)',
    );
  });

  it('should refuse inputs with different numbers of rows with 400', async () => {
    const { runtime } = await load(source(twoOutputs, 'return instances;'));
    const err = await httpError(
      runtime.infer(
        new Map([
          ['x', fp64([1, 2], [1, 2])],
          ['k', int64([1, 2])],
        ]),
      ),
    );
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toBe(
      "inputs 'x' and 'k' have 1 and 2 rows; a function model takes one instance per row, so every input needs the " +
        'same first dimension',
    );
  });

  it('should refuse V2 inference without metadata with 400', async () => {
    const { runtime } = await load('export const predict = async (xs) => xs;');
    const err = await httpError(runtime.infer(new Map()));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toBe(runtime.v2Unavailable);
  });
});

describe('FunctionRuntime: warm-up', () => {
  const recorder = (exports: string) => `
    export const calls = [];
    ${exports}
    export async function predict(instances, context) {
      calls.push({ instances, parameters: context.parameters });
      return instances.map(() => ({ y: 0 }));
    }`;
  const calls = async (dir: string) =>
    ((await import(pathToFileURL(join(dir, 'index.mjs')).href)) as { calls: unknown[] }).calls;

  it('should predict the exported warmup instances', async () => {
    const { runtime, dir } = await load(recorder(`export const warmup = [{ income: 1 }, 'two'];`));
    await runtime.warmUp();
    expect(await calls(dir)).toEqual([{ instances: [{ income: 1 }, 'two'], parameters: {} }]);
  });

  it('should predict a row of zeros shaped by the metadata when there is no warmup export', async () => {
    const { runtime, dir } = await load(
      recorder(`export const metadata = {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }, { name: 's', datatype: 'BYTES', shape: [-1] }],
        outputs: [{ name: 'y', datatype: 'INT64', shape: [-1] }],
      };`),
    );
    await runtime.warmUp();
    expect(await calls(dir)).toEqual([{ instances: [{ x: [0, 0, 0], s: '' }], parameters: {} }]);
  });

  it('should not call predict with warmup = false, nor without warmup and metadata (and say so)', async () => {
    const off = await load(recorder('export const warmup = false;'));
    await off.runtime.warmUp();
    expect(await calls(off.dir)).toEqual([]);
    expect(off.lines).toEqual([]);
    const none = await load(recorder(''));
    await none.runtime.warmUp();
    expect(await calls(none.dir)).toEqual([]);
    expect(none.lines).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'no warm-up prediction: the module exports neither warmup nor metadata',
      }),
    ]);
  });

  it('should fail when the warm-up prediction fails', async () => {
    const { runtime } = await load(`
      export const warmup = [1];
      export async function predict() { throw new Error('not warm'); }`);
    expect((await httpError(runtime.warmUp())).message).toBe('not warm');
  });
});
