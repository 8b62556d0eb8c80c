/**
 * Fuzzing the model server as a process with fast-check: arbitrary JSON and arbitrary bytes at V1 predict and V2
 * infer, near-valid requests with one part broken, and well-formed requests of random content. Bad input must get a
 * 4xx with the `{"error": string}` body, never a 5xx or a crash; well-formed input must get 200 with the right answer;
 * and the servers must still answer afterwards, with nothing on stderr.
 *
 * Models: examples/iris (V1 rows), test/fixtures/models/datatypes (every JSON datatype, echoed), and
 * test/fixtures/models/multi-input (two inputs sharing the batch dimension).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, fixturesDir, irisEnv, killAll, type ServerProcess, startServer } from './server-process.js';

let iris: ServerProcess;
let dt: ServerProcess;
let multi: ServerProcess;

beforeAll(async () => {
  [iris, dt, multi] = await Promise.all([
    startServer(irisEnv()),
    startServer({ MODEL_NAME: 'dt', MODEL_VERSION: '1', ARTIFACT_URI: `file://${fixturesDir}datatypes/` }),
    startServer({ MODEL_NAME: 'multi', MODEL_VERSION: '1', ARTIFACT_URI: `file://${fixturesDir}multi-input/` }),
  ]);
});

afterAll(async () => {
  await killAll();
});

const RUNS = 150;

interface Answer {
  status: number;
  body: unknown;
}

async function send(url: string, body: string | Uint8Array): Promise<Answer> {
  const res = await call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: res.body };
}

/** A 4xx with exactly `{"error": string}`. */
function isClientError(a: Answer): boolean {
  return (
    a.status >= 400 &&
    a.status < 500 &&
    typeof a.body === 'object' &&
    a.body !== null &&
    Object.keys(a.body).length === 1 &&
    typeof (a.body as { error?: unknown }).error === 'string'
  );
}

const endpoints = () => [
  iris.url('/v1/models/iris:predict'),
  iris.url('/v2/models/iris/infer'),
  dt.url('/v1/models/dt:predict'),
  dt.url('/v2/models/dt/infer'),
  multi.url('/v1/models/multi:predict'),
  multi.url('/v2/models/multi/versions/1/infer'),
];

const anyEndpoint = fc.integer({ min: 0, max: 5 }).map((i) => endpoints()[i] as string);

/** Any JSON, with a bias towards the shapes the protocols use. */
const json = fc.jsonValue({ maxDepth: 5 });
const element = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string(),
  fc.constant(null),
  fc.constantFrom(2 ** 53, -(2 ** 63), 2 ** 64, 1e308, -0, 0.5),
  json,
);

// ---- well-formed requests for the datatypes model --------------------------------------------------------------

const DATATYPES: [string, string, fc.Arbitrary<unknown>][] = [
  ['bool', 'BOOL', fc.boolean()],
  ['int8', 'INT8', fc.integer({ min: -128, max: 127 })],
  ['int16', 'INT16', fc.integer({ min: -32768, max: 32767 })],
  ['int32', 'INT32', fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
  ['int64', 'INT64', fc.maxSafeInteger()],
  ['uint8', 'UINT8', fc.integer({ min: 0, max: 255 })],
  ['uint16', 'UINT16', fc.integer({ min: 0, max: 65535 })],
  ['uint32', 'UINT32', fc.integer({ min: 0, max: 2 ** 32 - 1 })],
  ['uint64', 'UINT64', fc.maxSafeNat()],
  ['fp32', 'FP32', fc.float({ noNaN: true, noDefaultInfinity: true })],
  ['fp64', 'FP64', fc.double({ noNaN: true, noDefaultInfinity: true })],
  ['bytes', 'BYTES', fc.string({ unit: 'grapheme', maxLength: 20 })],
];

/** Columns per row of each input (BYTES is rank 1). */
const width = (name: string) => (name === 'bytes' ? 1 : name === 'fp32' ? 3 : 2);
const shapeOf = (name: string, rows: number) => (name === 'bytes' ? [rows] : [rows, width(name)]);

const wellFormed = fc
  .integer({ min: 1, max: 6 })
  .chain((rows) =>
    fc.tuple(
      fc.constant(rows),
      fc.tuple(...DATATYPES.map(([, , arb]) => fc.array(arb, { minLength: rows * 3, maxLength: rows * 3 }))),
    ),
  );

function v2Inputs(rows: number, values: unknown[][]) {
  return DATATYPES.map(([name, datatype], i) => ({
    name,
    datatype,
    shape: shapeOf(name, rows),
    data: (values[i] as unknown[]).slice(0, rows * width(name)),
  }));
}

/** What JSON and the datatype make of a value: float32 rounding, -0 → 0. */
function expectedEcho(datatype: string, v: unknown): unknown {
  const n = datatype === 'FP32' ? Math.fround(v as number) : v;
  return JSON.parse(JSON.stringify(n));
}

describe('Model server fuzzing: bad input gets 4xx, never 5xx', () => {
  it('should answer arbitrary JSON bodies with 200 or a 4xx error body', async () => {
    await fc.assert(
      fc.asyncProperty(anyEndpoint, json, async (url, body) => {
        const a = await send(url, JSON.stringify(body));
        expect(a.status === 200 || isClientError(a), `${a.status} ${JSON.stringify(a.body)}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('should answer arbitrary bytes with a 4xx error body', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyEndpoint,
        fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.string({ unit: 'binary', maxLength: 256 })),
        async (url, bytes) => {
          const a = await send(url, bytes);
          expect(isClientError(a), `${a.status} ${JSON.stringify(a.body)}`).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('should answer V1 requests of arbitrary rows with 200 or a 4xx error body', async () => {
    const row = fc.oneof(
      fc.array(element, { maxLength: 6 }),
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 4 }),
      fc.dictionary(fc.constantFrom('input', 'x', 'k', 'int8', 'bytes', 'other'), element, { maxKeys: 3 }),
      element,
    );
    const body = fc.record(
      { instances: fc.array(row, { maxLength: 5 }), inputs: fc.oneof(fc.array(row, { maxLength: 5 }), json) },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 2, 4).map((i) => endpoints()[i] as string),
        body,
        async (url, b) => {
          const a = await send(url, JSON.stringify(b));
          expect(a.status === 200 || isClientError(a), `${a.status} ${JSON.stringify(a.body)}`).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('should answer well-formed V2 requests with one part broken with a 4xx error body (or 200)', async () => {
    const field = fc.constantFrom('name', 'shape', 'datatype', 'data', 'parameters', 'element', 'dimension', 'drop');
    await fc.assert(
      fc.asyncProperty(
        wellFormed,
        fc.integer({ min: 0, max: DATATYPES.length - 1 }),
        field,
        element,
        fc.integer({ min: -3, max: 3 }),
        async ([rows, values], which, f, value, delta) => {
          const inputs: Record<string, unknown>[] = v2Inputs(rows, values);
          const target = inputs[which] as Record<string, unknown>;
          if (f === 'element') (target.data as unknown[])[0] = value;
          else if (f === 'dimension') (target.shape as number[])[0] = rows + delta;
          else if (f === 'drop') inputs.splice(which, 1);
          else target[f] = value;
          const a = await send(dt.url('/v2/models/dt/infer'), JSON.stringify({ inputs }));
          expect(a.status === 200 || isClientError(a), `${a.status} ${JSON.stringify(a.body)}`).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('should answer V2 requests whose inputs disagree on the batch dimension with 400', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 6 }), async (xRows, kRows) => {
        const a = await send(
          multi.url('/v2/models/multi/infer'),
          JSON.stringify({
            inputs: [
              { name: 'x', shape: [xRows, 2], datatype: 'FP32', data: new Array(xRows * 2).fill(1) },
              { name: 'k', shape: [kRows], datatype: 'INT64', data: new Array(kRows).fill(2) },
            ],
          }),
        );
        if (xRows === kRows) expect(a.status).toBe(200);
        else expect(isClientError(a) && a.status === 400, `${a.status} ${JSON.stringify(a.body)}`).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('should answer pathological bodies with a 4xx error body', async () => {
    const deep = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    const bodies = [
      `{"inputs": [{"name": "int8", "shape": [1, 2], "datatype": "INT8", "data": ${deep(100_000)}}]}`,
      `{"instances": ${deep(100_000)}}`,
      `{"instances": [${deep(50_000)}]}`,
      deep(200_000),
      `{"inputs": [{"name": "bytes", "shape": [1], "datatype": "BYTES", "data": ["\\ud800"]}], "id": "\\udfff"}`,
      `{"inputs": [{"name": "int8", "shape": [1e300, 1e300], "datatype": "INT8", "data": []}]}`,
      `{"inputs": [{"name": "int8", "shape": [9007199254740991, 0], "datatype": "INT8", "data": []}]}`,
      `{"__proto__": {"inputs": []}, "constructor": 1}`,
      `{"instances": [{"__proto__": [1, 2, 3, 4]}]}`,
    ];
    for (const url of endpoints()) {
      for (const body of bodies) {
        const a = await send(url, body);
        expect(a.status === 200 || isClientError(a), `${url} ${body.slice(0, 80)}: ${a.status}`).toBe(true);
      }
    }
  });
});

describe('Model server fuzzing: well-formed input gets 200 and the right answer', () => {
  it('should echo every datatype exactly through the datatypes model (V2)', async () => {
    await fc.assert(
      fc.asyncProperty(wellFormed, fc.option(fc.string(), { nil: undefined }), async ([rows, values], id) => {
        const inputs = v2Inputs(rows, values);
        const a = await send(dt.url('/v2/models/dt/infer'), JSON.stringify({ id, inputs }));
        expect(a.status, JSON.stringify(a.body)).toBe(200);
        const body = a.body as { id?: string; outputs: { name: string; datatype: string; shape: number[] }[] };
        expect(body.id).toBe(id);
        expect(body.outputs).toEqual(
          inputs.map((t) => ({
            name: `${t.name}_out`,
            datatype: t.datatype,
            shape: t.shape,
            data: t.data.map((v) => expectedEcho(t.datatype, v)),
          })),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('should predict one row per instance for any rows of 4 finite numbers (V1)', async () => {
    const rows = fc.array(
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 4 }),
      {
        minLength: 1,
        maxLength: 16,
      },
    );
    await fc.assert(
      fc.asyncProperty(rows, async (instances) => {
        const a = await send(iris.url('/v1/models/iris:predict'), JSON.stringify({ instances }));
        expect(a.status, JSON.stringify(a.body)).toBe(200);
        const predictions = (a.body as { predictions: { label: number }[] }).predictions;
        expect(predictions).toHaveLength(instances.length);
        for (const p of predictions) expect([0, 1, 2]).toContain(p.label);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('Model server fuzzing: afterwards', () => {
  it('should still be up and ready, with nothing on stderr and no crash logged', async () => {
    for (const server of [iris, dt, multi]) {
      expect(server.child.exitCode).toBeNull();
      expect((await call(server.url('/v2/health/ready'))).status).toBe(200);
      expect(server.stderr()).toBe('');
      expect(server.rawStdout).toEqual([]);
      expect(server.logs.filter((l) => /uncaught|unhandled|internal error/.test(l.msg))).toEqual([]);
    }
    const metrics = (await call(dt.url('/metrics'))).text;
    expect(metrics).not.toMatch(/status="5\d\d"/);
  });
});
