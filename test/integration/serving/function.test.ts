/**
 * The model server as a process with MODEL_TYPE=function: examples/function against its numpy reference over V1 and
 * V2, the fixtures in test/fixtures/models/function for context, errors (500 with the message, 504 past the time
 * limit while other requests are answered), and modules that cannot load (the server stays up, not ready, and says
 * why over HTTP, in its logs and over IPC).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateOip } from './oip/validate.js';
import {
  call,
  fixturesDir,
  killAll,
  post,
  repoRoot,
  type ServerProcess,
  spawnServer,
  startServer,
} from './server-process.js';

const exampleDir = fileURLToPath(new URL('examples/function/', `file://${repoRoot}`));
const functionFixtures = `${fixturesDir}function/`;
const reference = JSON.parse(readFileSync(`${exampleDir}reference.json`, 'utf8')) as {
  features: string[];
  instances: number[][];
  probabilities: number[];
  decisions: string[];
  contributions: number[][];
};

const env = (dir: string, over: Record<string, string> = {}): Record<string, string> => ({
  MODEL_NAME: 'scorer',
  MODEL_VERSION: '4',
  MODEL_TYPE: 'function',
  ARTIFACT_URI: `file://${dir}`,
  ...over,
});

afterAll(async () => {
  await killAll();
});

function expectClose(actual: number, expected: number) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12);
}

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 2_000; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('Function model: examples/function (credit scoring) against numpy', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer(env(exampleDir));
  });

  it('should report ready after load and the warm-up, with platform javascript_function', async () => {
    expect(server.messages.map((m) => m.type)).toEqual(['listening', 'loaded', 'ready']);
    const msgs = server.logs.map((l) => l.msg);
    expect(msgs.indexOf('scorecard loaded')).toBeLessThan(msgs.indexOf('model loaded'));
    expect(server.logs.find((l) => l.msg === 'model loaded')).toMatchObject({ platform: 'javascript_function' });
    const metadata = await call(server.url('/v2/models/scorer'));
    expect(metadata.status).toBe(200);
    expect(metadata.body).toEqual({
      name: 'scorer',
      versions: ['4'],
      platform: 'javascript_function',
      inputs: [{ name: 'features', datatype: 'FP64', shape: [-1, 4] }],
      outputs: [
        { name: 'probability', datatype: 'FP64', shape: [-1] },
        { name: 'decision', datatype: 'BYTES', shape: [-1] },
      ],
    });
  });

  it('should predict over V1 (rows as objects and as arrays) what numpy computed', async () => {
    const asObjects = reference.instances.map((row) =>
      Object.fromEntries(reference.features.map((name, j) => [name, row[j]])),
    );
    for (const instances of [asObjects, reference.instances]) {
      const res = await post(server.url('/v1/models/scorer:predict'), { instances });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toBe('4');
      const body = res.body as {
        predictions: { probability: number; decision: string }[];
        model_name: string;
        model_version: string;
      };
      expect(body.model_name).toBe('scorer');
      expect(body.model_version).toBe('4');
      expect(body.predictions.map((p) => p.decision)).toEqual(reference.decisions);
      body.predictions.forEach((p, i) => {
        expectClose(p.probability, reference.probabilities[i] as number);
      });
    }
  });

  it('should hand the request parameters to predict (explain: contributions per feature)', async () => {
    const res = await post(server.url('/v1/models/scorer:predict'), {
      inputs: reference.instances.slice(0, 2),
      parameters: { explain: true },
    });
    expect(res.status).toBe(200);
    const predictions = (res.body as { predictions: { contributions: Record<string, number> }[] }).predictions;
    predictions.forEach((p, i) => {
      reference.features.forEach((name, j) => {
        expectClose(p.contributions[name] as number, reference.contributions[i]?.[j] as number);
      });
    });
  });

  it('should predict over V2 with the declared tensors, valid against the OIP schema', async () => {
    const res = await post(server.url('/v2/models/scorer/versions/4/infer'), {
      id: 'r-1',
      inputs: [
        {
          name: 'features',
          datatype: 'FP64',
          shape: [reference.instances.length, 4],
          data: reference.instances.flat(),
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    const body = res.body as { id: string; outputs: { name: string; datatype: string; shape: number[]; data: [] }[] };
    expect(body.id).toBe('r-1');
    expect(body.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ['probability', 'FP64', [reference.instances.length]],
      ['decision', 'BYTES', [reference.instances.length]],
    ]);
    (body.outputs[0]?.data ?? []).forEach((p: number, i) => {
      expectClose(p, reference.probabilities[i] as number);
    });
    expect(body.outputs[1]?.data).toEqual(reference.decisions);

    const onlyDecision = await post(server.url('/v2/models/scorer/infer'), {
      inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], data: reference.instances[4] }],
      outputs: [{ name: 'decision' }],
    });
    expect(onlyDecision.body).toMatchObject({ outputs: [{ name: 'decision', shape: [1], data: ['decline'] }] });
  });

  it('should validate V2 inputs against the metadata before calling predict (400)', async () => {
    const res = await post(server.url('/v2/models/scorer/infer'), {
      inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 3], data: [1, 2, 3] }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "input 'features' has shape [1, 3], expected [-1, 4] (-1 = any size)" });
  });

  it("should answer the module's own 400 for bad input, and 400 for a body without rows", async () => {
    const bad = await post(server.url('/v1/models/scorer:predict'), { instances: [{ income: 'high' }] });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'applicant 0: income must be a number, got "high"' });
    for (const [body, error] of [
      [{ instances: [] }, 'instances must not be empty'],
      [{ inputs: { features: [[1, 2, 3, 4]] } }, 'inputs must be a list of rows'],
      [{ instances: [[1, 2, 3, 4]], parameters: 'explain' }, 'parameters must be a JSON object'],
      [{ rows: [] }, 'request body must have "instances" (a list of rows) or "inputs"'],
    ] as const) {
      const res = await post(server.url('/v1/models/scorer:predict'), body);
      expect([res.status, res.body]).toEqual([400, { error }]);
    }
  });
});

describe('Function model: context, errors and time limits (fixture behaviours)', () => {
  let server: ServerProcess;
  const predict = (body: unknown) => post(server.url('/v1/models/scorer:predict'), body);

  beforeAll(async () => {
    server = await startServer(env(`${functionFixtures}behaviours/`, { REQUEST_TIMEOUT_MS: '300' }));
  });

  it('should run load and the warmup export once before ready, and pass rows, parameters and context', async () => {
    const stats = await predict({ instances: [0], parameters: { mode: 'stats' } });
    expect(stats.body).toMatchObject({ predictions: [{ calls: 2, aborted: 0 }] }); // the warm-up, then this call
    const rows = [{ a: 1 }, [1, 'two'], 'three', null, 4.5];
    const echo = await predict({ instances: rows, parameters: { tag: 'x' } });
    expect(echo.status).toBe(200);
    expect(echo.body).toEqual({
      model_name: 'scorer',
      model_version: '4',
      predictions: rows.map((instance) => ({
        instance,
        greeting: 'hello from state.json',
        parameters: { tag: 'x' },
        model: 'scorer',
        version: '4',
        aborted: false,
      })),
    });
    expect(server.logs.find((l) => l.msg === 'fixture loaded')).toMatchObject({
      level: 'info',
      model: 'scorer',
      version: '4',
      greeting: 'hello from state.json',
    });
  });

  it('should refuse V2 inference without metadata with 400, and show empty metadata', async () => {
    const res = await post(server.url('/v2/models/scorer/infer'), {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error:
        "model 'scorer' is a function model that declares no tensor metadata; use the V1 protocol " +
        '(POST /v1/models/scorer:predict) or export metadata = {inputs, outputs} from index.mjs',
    });
    const metadata = await call(server.url('/v2/models/scorer'));
    expect(metadata.body).toEqual({
      name: 'scorer',
      versions: ['4'],
      platform: 'javascript_function',
      inputs: [],
      outputs: [],
    });
    expect(validateOip('metadata_model_response', metadata.body)).toEqual([]);
  });

  it('should answer an exception with 500 and its message, logged at error with the stack', async () => {
    const res = await predict({ instances: [1], parameters: { mode: 'throw', message: 'no such customer: 42' } });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'no such customer: 42' });
    const line = await until(
      () => server.logs.find((l) => l.msg === 'prediction failed' && l.error === 'no such customer: 42'),
      'the error log line',
    );
    expect(line).toMatchObject({ level: 'error', status: 500, model: 'scorer', version: '4' });
    expect(line.stack).toMatch(/^TypeError: no such customer: 42\n\s+at (Object\.)?predict .*behaviours\/index\.mjs/);
  });

  it('should answer a thrown 4xx status with it, a wrong number of predictions and a non-array with 500', async () => {
    const unprocessable = await predict({ instances: [1], parameters: { mode: 'bad-request', message: 'too old' } });
    expect([unprocessable.status, unprocessable.body]).toEqual([422, { error: 'too old' }]);
    const short = await predict({ instances: [1, 2], parameters: { mode: 'wrong-length' } });
    expect([short.status, short.body]).toEqual([
      500,
      { error: 'predict returned 1 predictions for 2 instances; it must return one prediction per instance, in order' },
    ]);
    const notArray = await predict({ instances: [1], parameters: { mode: 'not-array' } });
    expect([notArray.status, notArray.body]).toEqual([
      500,
      { error: 'predict must return an array with one prediction per instance, got {"predictions":[1]}' },
    ]);
  });

  it('should answer 504 past REQUEST_TIMEOUT_MS, abort the signal, and keep serving meanwhile', async () => {
    const slow = predict({ instances: [1], parameters: { mode: 'slow', ms: 60_000 } });
    let settled = false;
    void slow.then(() => {
      settled = true;
    });
    await until(() => server.logs.find((l) => l.msg === 'slow predict started'), 'the slow predict to start');
    // While the slow call waits, the server answers others.
    const quick = await predict({ instances: ['quick'] });
    expect(quick.status).toBe(200);
    expect(settled).toBe(false);

    const timedOut = await slow;
    expect(timedOut.status).toBe(504);
    expect((timedOut.body as { error: string }).error).toMatch(/timed out after 300 ms/);
    const aborted = await until(() => server.logs.find((l) => l.msg === 'slow predict aborted'), 'the abort');
    expect(aborted.reason).toBe('TimeoutError: prediction timed out after 300 ms');

    // The predict that rejected after its 504 did not take the server down.
    const after = await predict({ instances: [0], parameters: { mode: 'stats' } });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ predictions: [{ aborted: 1 }] });
  });

  it('should answer 504 for a predict that ignores the signal, and serve on when it finishes late', async () => {
    const res = await predict({ instances: [1], parameters: { mode: 'stubborn', ms: 600 } });
    expect(res.status).toBe(504);
    expect((await predict({ instances: ['still here'] })).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});

describe('Function model: several inputs and outputs over V2 (tensors fixture)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer(env(`${functionFixtures}tensors/`));
  });

  it('should warm up with a row of zeros shaped by the metadata', () => {
    const msgs = server.logs.map((l) => l.msg);
    const warmup = server.logs.find((l) => l.msg === 'predict called');
    expect(warmup?.instances).toEqual([{ x: [0, 0], k: 0 }]);
    expect(msgs.indexOf('predict called')).toBeLessThan(msgs.indexOf('ready'));
  });

  it('should give predict one object per row and return every declared output', async () => {
    const res = await post(server.url('/v2/models/scorer/infer'), {
      inputs: [
        { name: 'k', datatype: 'INT64', shape: [3], data: [3, -2, 0] },
        { name: 'x', datatype: 'FP64', shape: [3, 2], data: [1.5, 2.25, -4, 0.5, 7, 1] },
      ],
    });
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    // By hand: sum = x0 + x1 + k, scaled = [x0·k, x1·k].
    expect((res.body as { outputs: unknown[] }).outputs).toEqual([
      { name: 'sum', datatype: 'FP64', shape: [3], data: [6.75, -5.5, 8] },
      { name: 'sign', datatype: 'BYTES', shape: [3], data: ['non-negative', 'negative', 'non-negative'] },
      { name: 'scaled', datatype: 'FP32', shape: [3, 2], data: [4.5, 6.75, 8, -1, 0, 0] },
    ]);
    expect(server.logs.filter((l) => l.msg === 'predict called').at(-1)?.instances).toEqual([
      { x: [1.5, 2.25], k: 3 },
      { x: [-4, 0.5], k: -2 },
      { x: [7, 1], k: 0 },
    ]);
  });

  it('should pass V1 rows through unchanged even when metadata is declared', async () => {
    const res = await post(server.url('/v1/models/scorer:predict'), { instances: [{ x: [1, 2], k: 2 }] });
    expect(res.body).toMatchObject({ predictions: [{ sum: 5, sign: 'non-negative', scaled: [2, 4] }] });
  });

  it('should answer 500 when a prediction does not fit the declared output', async () => {
    const res = await post(server.url('/v2/models/scorer/infer'), {
      parameters: { bad: true },
      inputs: [
        { name: 'x', datatype: 'FP64', shape: [1, 2], data: [1, 2] },
        { name: 'k', datatype: 'INT64', shape: [1], data: [1] },
      ],
    });
    expect([res.status, res.body]).toEqual([
      500,
      {
        error:
          'predict returned a value that does not fit the metadata: ' +
          `output 'sum': prediction 0 is "not a number", expected a number (FP64)`,
      },
    ]);
  });

  it('should load a CommonJS index.js named by MODEL_FILE', async () => {
    const cjs = await startServer(env(`${functionFixtures}commonjs/`, { MODEL_FILE: 'index.js' }));
    const res = await post(cjs.url('/v1/models/scorer:predict'), { instances: [1, 2.5] });
    expect(res.body).toMatchObject({ predictions: [2, 5] });
  });
});

describe('Function model: a module that cannot load keeps the server up, not ready, saying why', () => {
  async function expectAliveFailure(server: ServerProcess, reason: string | RegExp) {
    const failed = await server.message('failed');
    const text = failed.reason ?? '';
    if (typeof reason === 'string') expect(text).toBe(reason);
    else expect(text).toMatch(reason);
    expect(failed).toEqual({ type: 'failed', reason: text, alive: true });
    const last = await until(() => (server.logs.at(-1)?.msg === text ? server.logs.at(-1) : undefined), 'the log');
    expect(last).toMatchObject({ level: 'error', msg: text, model: 'scorer', version: '4' });

    // Up (live), never ready, and readiness says why.
    expect((await call(server.url('/v2/health/live'))).status).toBe(200);
    for (const path of ['/v2/health/ready', '/v2/models/scorer/ready', '/v2/models/scorer']) {
      const res = await call(server.url(path));
      expect([path, res.status, res.body]).toEqual([path, 503, { error: `model 'scorer' is not ready: ${text}` }]);
    }
    expect(await call(server.url('/v1/models/scorer'))).toMatchObject({
      status: 503,
      body: { name: 'scorer', ready: false },
    });
    const predict = await post(server.url('/v1/models/scorer:predict'), { instances: [1] });
    expect(predict.status).toBe(503);
    expect(server.messages.some((m) => m.type === 'ready')).toBe(false);
    expect(server.child.exitCode).toBeNull();

    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }

  it('should stay up when load throws, with the reason and its stack in the logs', async () => {
    const server = spawnServer(env(`${functionFixtures}load-fails/`));
    await expectAliveFailure(
      server,
      'model failed to load: load() in index.mjs failed: cannot reach the feature store at 10.0.0.1:6379',
    );
    expect(server.logs.at(-2)?.stack ?? server.logs.find((l) => l.level === 'error')?.stack).toMatch(
      /^Error: cannot reach the feature store.*\n\s+at load .*load-fails\/index\.mjs/,
    );
  });

  it('should stay up when the module does not parse', async () => {
    const server = spawnServer(env(`${functionFixtures}syntax-error/`));
    await expectAliveFailure(server, /^model failed to load: cannot import index\.mjs: SyntaxError: Unexpected token/);
  });

  it('should stay up when the module has no predict', async () => {
    const server = spawnServer(env(`${functionFixtures}no-predict/`));
    await expectAliveFailure(
      server,
      'model failed to load: index.mjs does not export a predict function ' +
        '(expected: export async function predict(instances, context))',
    );
  });

  it('should stay up when the warm-up prediction fails', async () => {
    const server = spawnServer(env(`${functionFixtures}warmup-fails/`));
    await expectAliveFailure(server, 'model failed to load: warm-up inference failed: x must be a number, got null');
  });

  it('should stay up when the module file is missing, and exit 0 when the parent disconnects', async () => {
    const server = spawnServer(env(`${functionFixtures}behaviours/`, { MODEL_FILE: 'main.mjs' }));
    const failed = await server.message('failed');
    expect(failed).toEqual({
      type: 'failed',
      reason: `model failed to load: artifact file main.mjs not found under file://${functionFixtures}behaviours/`,
      alive: true,
    });
    server.child.disconnect();
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.logs.at(-1)?.msg).toBe('parent disconnected; exiting');
  });
});
