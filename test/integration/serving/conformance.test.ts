/**
 * Conformance of the model server with the Open Inference Protocol REST API (reference/open-inference-protocol/
 * open_inference_rest.yaml, reference/protocols.md §4.1) and the KServe V1 contract (§4.2), written from the
 * specifications rather than from the implementation: every endpoint, status codes, required fields, id echo, outputs
 * filtering, parameters pass-through, every datatype JSON can carry, shape and data-count mismatches, versioned paths,
 * the error body, and responses validated against the spec's schemas.
 *
 * Models: test/fixtures/models/datatypes (one Identity per datatype: BOOL, INT8..INT64, UINT8..UINT64, FP32, FP64,
 * BYTES), examples/iris (one input, two outputs), test/fixtures/models/double (rank 1, one output).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OipSchemaName, validateOip } from './oip/validate.js';
import {
  call,
  fixturesDir,
  irisEnv,
  killAll,
  post,
  type ServerProcess,
  spawnServer,
  startServer,
} from './server-process.js';

let dt: ServerProcess;
let iris: ServerProcess;
let double: ServerProcess;

beforeAll(async () => {
  [dt, iris, double] = await Promise.all([
    startServer({ MODEL_NAME: 'dt', MODEL_VERSION: '1', ARTIFACT_URI: `file://${fixturesDir}datatypes/` }),
    startServer(irisEnv()),
    startServer({ MODEL_NAME: 'double', MODEL_VERSION: '7', ARTIFACT_URI: `file://${fixturesDir}double/` }),
  ]);
});

afterAll(async () => {
  await killAll();
});

type Res = Awaited<ReturnType<typeof call>>;

/** The OIP error object: exactly `{"error": string}`, JSON, with the version header. */
function expectError(res: Res, status: number, schema: OipSchemaName = 'inference_error_response'): string {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.headers.get('x-model-version')).not.toBeNull();
  expect(validateOip(schema, res.body)).toEqual([]);
  expect(Object.keys(res.body as object)).toEqual(['error']);
  const message = (res.body as { error: unknown }).error;
  expect(typeof message).toBe('string');
  expect((message as string).length).toBeGreaterThan(0);
  return message as string;
}

function expectEmpty(res: Res, status: number) {
  expect(res.status).toBe(status);
  expect(res.text).toBe('');
}

// ---- the datatypes model ---------------------------------------------------------------------------------------

type Input = { name: string; shape: number[]; datatype: string; data: unknown[]; parameters?: object };

/** Two rows per input; values at the edges of each datatype's range (64-bit integers within ±(2^53 - 1)). */
const ROWS: Record<string, { datatype: string; shape: number[]; data: unknown[] }> = {
  bool: { datatype: 'BOOL', shape: [2, 2], data: [true, false, false, true] },
  int8: { datatype: 'INT8', shape: [2, 2], data: [-128, 127, 0, -1] },
  int16: { datatype: 'INT16', shape: [2, 2], data: [-32768, 32767, 1, -2] },
  int32: { datatype: 'INT32', shape: [2, 2], data: [-2147483648, 2147483647, 3, -4] },
  int64: { datatype: 'INT64', shape: [2, 2], data: [-(2 ** 53 - 1), 2 ** 53 - 1, 5, -6] },
  uint8: { datatype: 'UINT8', shape: [2, 2], data: [0, 255, 7, 8] },
  uint16: { datatype: 'UINT16', shape: [2, 2], data: [0, 65535, 9, 10] },
  uint32: { datatype: 'UINT32', shape: [2, 2], data: [0, 4294967295, 11, 12] },
  uint64: { datatype: 'UINT64', shape: [2, 2], data: [0, 2 ** 53 - 1, 13, 14] },
  fp32: { datatype: 'FP32', shape: [2, 3], data: [0.5, -1.25, 3e38, -1e-38, 0, 1024] },
  fp64: { datatype: 'FP64', shape: [2, 2], data: [Math.PI, -Number.MAX_VALUE, Number.MIN_VALUE, 1e-300] },
  bytes: { datatype: 'BYTES', shape: [2], data: ['', 'héllo, wörld ✓ 🙂 "quoted" \\ \n'] },
};
const NAMES = Object.keys(ROWS);

function inputs(over: Record<string, Partial<Input>> = {}): Input[] {
  return NAMES.map((name) => ({ name, ...ROWS[name], ...over[name] }) as Input);
}

const infer = (body: unknown, path = '/v2/models/dt/infer') => post(dt.url(path), body);

/** What an Identity returns for ROWS[name]: FP32 values rounded to float32. */
function echoed(name: string) {
  const r = ROWS[name] as { datatype: string; shape: number[]; data: unknown[] };
  const data = r.datatype === 'FP32' ? r.data.map((v) => Math.fround(v as number)) : r.data;
  return { name: `${name}_out`, datatype: r.datatype, shape: r.shape, data };
}

describe('OIP conformance: health', () => {
  it('should answer server live and ready with 200 and an empty body', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      const res = await call(dt.url(path));
      expectEmpty(res, 200);
      expect(res.headers.get('x-model-version')).toBe('1');
      expectEmpty(await call(dt.url(path), { method: 'HEAD' }), 200);
    }
  });

  it('should answer model ready, with and without the version, 200 and empty', async () => {
    expectEmpty(await call(dt.url('/v2/models/dt/ready')), 200);
    expectEmpty(await call(dt.url('/v2/models/dt/versions/1/ready')), 200);
  });

  it('should answer 404 for a model or version this server does not know', async () => {
    expect(expectError(await call(dt.url('/v2/models/other/ready')), 404)).toContain("model 'other' not found");
    expect(expectError(await call(dt.url('/v2/models/dt/versions/2/ready')), 404)).toContain("no version '2'");
  });

  it('should answer live 200 and ready, model ready and inference 503 until the warm-up succeeded', async () => {
    const held = spawnServer({
      MODEL_NAME: 'held',
      MODEL_VERSION: '1',
      ARTIFACT_URI: `file://${fixturesDir}datatypes/`,
      SERVING_TEST_HOLD_WARMUP: '1',
    });
    await held.message('loaded');
    expectEmpty(await call(held.url('/v2/health/live')), 200);
    expectError(await call(held.url('/v2/health/ready')), 503);
    expectError(await call(held.url('/v2/models/held/ready')), 503);
    expectError(await call(held.url('/v2/models/held/versions/1/ready')), 503);
    expectError(await post(held.url('/v2/models/held/infer'), { inputs: inputs() }), 503);
    expectError(await post(held.url('/v1/models/held:predict'), { instances: [{}] }), 503);
    const v1Ready = await call(held.url('/v1/models/held'));
    expect(v1Ready.status).toBe(503);
    expect(v1Ready.body).toEqual({ name: 'held', ready: false });
    // Metadata is known once the model is loaded.
    expect((await call(held.url('/v2/models/held'))).status).toBe(200);
    held.child.send({ type: 'warmup' });
    await held.message('ready');
    expectEmpty(await call(held.url('/v2/health/ready')), 200);
    expect((await post(held.url('/v2/models/held/infer'), { inputs: inputs() })).status).toBe(200);
  });
});

describe('OIP conformance: metadata', () => {
  it('should describe the server with $metadata_server_response', async () => {
    const res = await call(dt.url('/v2'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(validateOip('metadata_server_response', res.body)).toEqual([]);
    const body = res.body as { name: string; version: string; extensions: string[] };
    expect(body.name.length).toBeGreaterThan(0);
    expect(body.version.length).toBeGreaterThan(0);
    expect(Array.isArray(body.extensions)).toBe(true);
  });

  it('should describe the model, with and without the version, with every input and output', async () => {
    for (const path of ['/v2/models/dt', '/v2/models/dt/versions/1']) {
      const res = await call(dt.url(path));
      expect(res.status).toBe(200);
      expect(validateOip('metadata_model_response', res.body)).toEqual([]);
      const body = res.body as {
        name: string;
        versions: string[];
        platform: string;
        inputs: { name: string; datatype: string; shape: number[] }[];
        outputs: { name: string; datatype: string; shape: number[] }[];
      };
      expect(body.name).toBe('dt');
      expect(body.versions).toEqual(['1']);
      expect(body.platform).toBe('onnx_onnxv1');
      const shapeOf = (name: string) => (name === 'bytes' ? [-1] : name === 'fp32' ? [-1, 3] : [-1, 2]);
      expect(body.inputs).toEqual(
        NAMES.map((name) => ({ name, datatype: ROWS[name]?.datatype, shape: shapeOf(name) })),
      );
      expect(body.outputs).toEqual(
        NAMES.map((name) => ({ name: `${name}_out`, datatype: ROWS[name]?.datatype, shape: shapeOf(name) })),
      );
    }
  });

  it('should answer 404 with $metadata_model_error_response for an unknown model or version', async () => {
    expectError(await call(dt.url('/v2/models/nope')), 404, 'metadata_model_error_response');
    expectError(await call(dt.url('/v2/models/dt/versions/9')), 404, 'metadata_model_error_response');
  });
});

describe('OIP conformance: inference', () => {
  it('should carry every datatype JSON can carry, both ways, with a schema-valid response', async () => {
    const request = { inputs: inputs() };
    expect(validateOip('inference_request', request)).toEqual([]);
    const res = await infer(request);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-model-version')).toBe('1');
    expect(validateOip('inference_response', res.body)).toEqual([]);
    const body = res.body as { model_name: string; model_version: string; outputs: unknown[] };
    expect(body.model_name).toBe('dt');
    expect(body.model_version).toBe('1');
    expect(body).not.toHaveProperty('id');
    expect(body.outputs).toEqual(NAMES.map(echoed));
  });

  it('should accept nested data (row-major) like flat data', async () => {
    const nested = inputs({
      int32: {
        data: [
          [-2147483648, 2147483647],
          [3, -4],
        ] as unknown[],
      },
      fp32: {
        data: [
          [0.5, -1.25, 3e38],
          [-1e-38, 0, 1024],
        ] as unknown[],
      },
    });
    const res = await infer({ inputs: nested });
    expect(res.status).toBe(200);
    expect((res.body as { outputs: unknown[] }).outputs).toEqual(NAMES.map(echoed));
  });

  it('should accept inputs in any order', async () => {
    const res = await infer({ inputs: inputs().reverse() });
    expect(res.status).toBe(200);
    expect((res.body as { outputs: unknown[] }).outputs).toEqual(NAMES.map(echoed));
  });

  it('should echo the request id, and leave it out when none was sent', async () => {
    const res = await infer({ id: 'req-42 ✓', inputs: inputs() });
    expect(res.status).toBe(200);
    expect((res.body as { id: string }).id).toBe('req-42 ✓');
    expect(validateOip('inference_response', res.body)).toEqual([]);
    expectError(await infer({ id: 42, inputs: inputs() }), 400);
  });

  it('should return only the outputs asked for, in the order asked, and all of them for none or []', async () => {
    const res = await infer({ inputs: inputs(), outputs: [{ name: 'bytes_out' }, { name: 'int8_out' }] });
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    expect((res.body as { outputs: unknown[] }).outputs).toEqual([echoed('bytes'), echoed('int8')]);
    const all = await infer({ inputs: inputs(), outputs: [] });
    expect((all.body as { outputs: unknown[] }).outputs).toHaveLength(NAMES.length);
    expect(expectError(await infer({ inputs: inputs(), outputs: [{ name: 'nope' }] }), 400)).toContain("'nope'");
    expectError(await infer({ inputs: inputs(), outputs: [{ name: 'int8_out' }, { name: 'int8_out' }] }), 400);
    expectError(await infer({ inputs: inputs(), outputs: [{}] }), 400);
  });

  it('should pass the request parameters through to the response and accept tensor parameters', async () => {
    const parameters = { content_type: 'np', priority: 3, flag: true, note: 'x' };
    const request = {
      id: 'p',
      parameters,
      inputs: inputs({ int8: { parameters: { content_type: 'np' } } }),
      outputs: [{ name: 'int8_out', parameters: { classification: 0 } }],
    };
    expect(validateOip('inference_request', request)).toEqual([]);
    const res = await infer(request);
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    expect(res.body).toMatchObject({ id: 'p', parameters, outputs: [echoed('int8')] });
    const without = await infer({ inputs: inputs() });
    expect(without.body).not.toHaveProperty('parameters');
    expectError(await infer({ parameters: [1], inputs: inputs() }), 400);
  });

  it('should serve the versioned path and refuse an unknown version or model with 404', async () => {
    const res = await infer({ inputs: inputs() }, '/v2/models/dt/versions/1/infer');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model_name: 'dt', model_version: '1' });
    expectError(await infer({ inputs: inputs() }, '/v2/models/dt/versions/2/infer'), 404);
    expectError(await infer({ inputs: inputs() }, '/v2/models/other/infer'), 404);
    expectError(await infer({ inputs: inputs() }, '/v2/models/other/versions/1/infer'), 404);
  });

  it('should refuse elements outside their datatype with 400, naming the input', async () => {
    const bad: [string, unknown][] = [
      ['bool', 1],
      ['int8', 128],
      ['int8', 1.5],
      ['int16', -32769],
      ['int32', 2 ** 31],
      ['int64', '1'],
      ['uint8', -1],
      ['uint16', 65536],
      ['uint32', 2 ** 32],
      ['uint64', -1],
      ['fp32', '0.5'],
      ['fp64', null],
      ['bytes', 1],
      ['bytes', ['a']],
    ];
    for (const [name, value] of bad) {
      const data = [...(ROWS[name]?.data ?? [])];
      data[1] = value;
      const message = expectError(await infer({ inputs: inputs({ [name]: { data } }) }), 400);
      expect(message).toContain(`'${name}'`);
    }
  });

  it('should refuse shape and data-count mismatches with 400', async () => {
    const cases: Record<string, Partial<Input>>[] = [
      { int8: { shape: [2, 3] } }, // 6 elements declared, 4 sent
      { int8: { shape: [1, 2] } }, // 2 declared, 4 sent
      { fp32: { shape: [3, 2] } }, // the fixed dimension is 3
      { int8: { shape: [4] } }, // rank 1 for a rank-2 input
      { int8: { shape: [2, 2, 1] } },
      { int8: { shape: [-2, -2] } },
      { int8: { shape: [2, 2.5] } },
      { int8: { shape: '2,2' as unknown as number[] } },
      { int32: { data: [[1, 2], [3]] as unknown[] } }, // ragged
      { int32: { data: [[1, 2, 3], [4]] as unknown[] } },
      { bytes: { shape: [3] } },
      { int8: { data: 'abcd' as unknown as unknown[] } },
    ];
    for (const over of cases) {
      const res = await infer({ inputs: inputs(over) });
      expect({ over, status: res.status }).toEqual({ over, status: 400 });
      expectError(res, 400);
    }
  });

  it('should refuse requests that do not follow $inference_request with 400', async () => {
    const [first, ...rest] = inputs();
    const bodies: unknown[] = [
      {},
      { inputs: [] },
      { inputs: {} },
      { inputs: 'x' },
      [],
      'text',
      null,
      { inputs: rest }, // a missing input
      { inputs: [...inputs(), { ...first, name: 'extra' }] }, // an unknown input
      { inputs: [...inputs(), first] }, // a duplicate input
      { inputs: inputs({ int64: { datatype: 'INT32' } }) }, // a datatype other than the model's
      { inputs: inputs({ int64: { datatype: 'INT128' } }) }, // no such datatype
      { inputs: inputs({ int64: { datatype: undefined } }) },
      { inputs: inputs({ int64: { data: undefined } }) },
      { inputs: inputs({ int64: { name: undefined } }) },
      { inputs: [1, ...rest] },
      { inputs: inputs(), outputs: {} },
      { inputs: inputs({ int8: { parameters: { binary_data_size: 4 } } }) }, // binary extension: not advertised
    ];
    for (const body of bodies) {
      const res = await infer(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expectError(res, 400);
    }
    expectError(await call(dt.url('/v2/models/dt/infer'), { method: 'POST', body: '{"inputs": [' }), 400);
    expectError(await call(dt.url('/v2/models/dt/infer'), { method: 'POST' }), 400);
  });

  it('should answer wrong methods with 405 and an allow header, and unknown routes with 404', async () => {
    const get = await call(dt.url('/v2/models/dt/infer'));
    expectError(get, 405);
    expect(get.headers.get('allow')).toBe('POST');
    const postReady = await call(dt.url('/v2/health/ready'), { method: 'POST' });
    expectError(postReady, 405);
    expect(postReady.headers.get('allow')).toBe('GET, HEAD');
    expectError(await call(dt.url('/v2/models/dt/explain'), { method: 'POST' }), 404);
    expectError(await call(dt.url('/v2/repository/index'), { method: 'POST' }), 404);
  });
});

describe('KServe V1 conformance', () => {
  it('should answer liveness, the model list and model readiness', async () => {
    const alive = await call(iris.url('/'));
    expect(alive.status).toBe(200);
    expect(alive.body).toEqual({ status: 'alive' });
    expect((await call(iris.url('/v1/models'))).body).toEqual({ models: ['iris'] });
    const ready = await call(iris.url('/v1/models/iris'));
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ name: 'iris', ready: true });
    expectError(await call(iris.url('/v1/models/other')), 404);
  });

  const rows = [
    [5.1, 3.5, 1.4, 0.2],
    [6.7, 3.1, 4.7, 1.5],
  ];

  it('should predict from instances as arrays, one prediction per instance, naming the model and version', async () => {
    const res = await post(iris.url('/v1/models/iris:predict'), { instances: rows });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('3');
    const body = res.body as { predictions: { probabilities: number[]; label: number }[] };
    expect(body).toMatchObject({ model_name: 'iris', model_version: '3' });
    // Several outputs: each prediction is an object keyed by output name.
    expect(body.predictions).toHaveLength(2);
    for (const p of body.predictions) {
      expect(Object.keys(p)).toEqual(['probabilities', 'label']);
      expect(p.probabilities).toHaveLength(3);
      expect(Number.isInteger(p.label)).toBe(true);
    }
    expect(body.predictions.map((p) => p.label)).toEqual([0, 1]);
  });

  it('should predict the same from "inputs", rows keyed by input name and columns', async () => {
    const byInstances = (await post(iris.url('/v1/models/iris:predict'), { instances: rows })).body;
    const forms = [
      { inputs: rows },
      { instances: rows.map((input) => ({ input })) },
      { inputs: rows.map((input) => ({ input })) },
      { inputs: { input: rows } },
    ];
    for (const form of forms) {
      const res = await post(iris.url('/v1/models/iris:predict'), form);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(byInstances);
    }
  });

  it('should take scalar rows for a rank-1 input and answer one scalar per row for one output', async () => {
    const res = await post(double.url('/v1/models/double:predict'), { instances: [1.5, -2, 1e300] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ predictions: [3, -4, 2e300], model_name: 'double', model_version: '7' });
    const keyed = await post(double.url('/v1/models/double:predict'), { instances: [{ x: 1.5 }, { x: -2 }] });
    expect((keyed.body as { predictions: number[] }).predictions).toEqual([3, -4]);
  });

  it('should predict every datatype from rows keyed by input name, predictions keyed by output name', async () => {
    const instances = [0, 1].map((row) =>
      Object.fromEntries(
        NAMES.map((name) => {
          const r = ROWS[name] as { shape: number[]; data: unknown[] };
          const width = r.shape.length === 1 ? 1 : (r.shape[1] as number);
          const slice = r.data.slice(row * width, (row + 1) * width);
          return [name, r.shape.length === 1 ? slice[0] : slice];
        }),
      ),
    );
    const res = await post(dt.url('/v1/models/dt:predict'), { instances });
    expect(res.status).toBe(200);
    const predictions = (res.body as { predictions: Record<string, unknown>[] }).predictions;
    expect(predictions).toHaveLength(2);
    predictions.forEach((p, row) => {
      for (const name of NAMES) {
        const e = echoed(name);
        const width = e.shape.length === 1 ? 1 : (e.shape[1] as number);
        const slice = e.data.slice(row * width, (row + 1) * width);
        expect(p[`${name}_out`]).toEqual(e.shape.length === 1 ? slice[0] : slice);
      }
    });
  });

  it('should refuse malformed predict requests with 400 and the error body', async () => {
    const bodies: unknown[] = [
      {},
      { instances: rows, inputs: rows },
      { instances: [] },
      { instances: 'x' },
      { instances: [[1, 2, 3]] }, // 3 features, 4 expected
      {
        instances: [
          [1, 2, 3, 4],
          [1, 2],
        ],
      },
      { instances: [{ nope: [1, 2, 3, 4] }] },
      { instances: [{}] },
      { inputs: { input: rows, extra: rows } },
      { instances: [['a', 'b', 'c', 'd']] },
    ];
    for (const body of bodies) {
      const res = await post(iris.url('/v1/models/iris:predict'), body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expectError(res, 400);
    }
    expectError(await call(iris.url('/v1/models/iris:predict'), { method: 'POST', body: 'not json' }), 400);
  });

  it('should answer an unknown model 404, explain 501 and a wrong method 405', async () => {
    expectError(await post(iris.url('/v1/models/other:predict'), { instances: rows }), 404);
    expectError(await post(iris.url('/v1/models/iris:explain'), { instances: rows }), 501);
    const get = await call(iris.url('/v1/models/iris:predict'));
    expectError(get, 405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});
