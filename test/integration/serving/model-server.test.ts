/**
 * The model server as a process, serving examples/iris from a file:// artifact: predictions against scikit-learn's
 * reference values, both protocols, metadata, validation errors, limits.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateOip } from './oip/validate.js';
import { call, irisDir, irisEnv, killAll, post, type ServerProcess, startServer } from './server-process.js';

const reference = JSON.parse(readFileSync(`${irisDir}reference.json`, 'utf8')) as {
  instances: number[][];
  probabilities: number[][];
  labels: number[];
};

const MAX_BODY = 64 * 1024;
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer(irisEnv({ MAX_REQUEST_BODY_BYTES: String(MAX_BODY) }));
});

afterAll(async () => {
  await killAll();
});

function expectClose(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => {
    expect(Math.abs(v - (expected[i] as number))).toBeLessThanOrEqual(1e-5);
  });
}

describe('Model server: iris over KServe V1', () => {
  it('should predict what scikit-learn predicts', async () => {
    const res = await post(server.url('/v1/models/iris:predict'), { instances: reference.instances });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('3');
    const body = res.body as {
      predictions: { probabilities: number[]; label: number }[];
      model_name: string;
      model_version: string;
    };
    expect(body.model_name).toBe('iris');
    expect(body.model_version).toBe('3');
    expect(body.predictions).toHaveLength(reference.instances.length);
    body.predictions.forEach((p, i) => {
      expectClose(p.probabilities, reference.probabilities[i] as number[]);
      expect(p.label).toBe(reference.labels[i]);
    });
  });

  it('should accept "inputs" and rows keyed by input name', async () => {
    const byInputs = await post(server.url('/v1/models/iris:predict'), { inputs: reference.instances.slice(0, 2) });
    const byObjects = await post(server.url('/v1/models/iris:predict'), {
      instances: reference.instances.slice(0, 2).map((row) => ({ input: row })),
    });
    expect(byInputs.status).toBe(200);
    expect(byObjects.body).toEqual(byInputs.body);
  });

  it('should answer liveness, the model list and model readiness', async () => {
    expect((await call(server.url('/'))).body).toEqual({ status: 'alive' });
    expect((await call(server.url('/v1/models'))).body).toEqual({ models: ['iris'] });
    const ready = await call(server.url('/v1/models/iris'));
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ name: 'iris', ready: true });
  });
});

describe('Model server: iris over the Open Inference Protocol (V2)', () => {
  it('should infer what scikit-learn predicts, with a schema-valid response', async () => {
    const request = {
      id: 'req-1',
      inputs: [
        {
          name: 'input',
          shape: [reference.instances.length, 4],
          datatype: 'FP32',
          data: reference.instances.flat(),
        },
      ],
    };
    expect(validateOip('inference_request', request)).toEqual([]);
    const res = await post(server.url('/v2/models/iris/infer'), request);
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    const body = res.body as {
      id: string;
      model_name: string;
      model_version: string;
      outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
    };
    expect(body).toMatchObject({ id: 'req-1', model_name: 'iris', model_version: '3' });
    const [probabilities, label] = body.outputs;
    expect(probabilities).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [8, 3] });
    expectClose(probabilities?.data ?? [], reference.probabilities.flat());
    expect(label).toMatchObject({ name: 'label', datatype: 'INT64', shape: [8], data: reference.labels });
  });

  it('should accept nested data, the versioned path and an outputs filter', async () => {
    const res = await post(server.url('/v2/models/iris/versions/3/infer'), {
      inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: reference.instances.slice(0, 2) }],
      outputs: [{ name: 'label' }],
    });
    expect(res.status).toBe(200);
    expect(validateOip('inference_response', res.body)).toEqual([]);
    expect(res.body).toEqual({
      model_name: 'iris',
      model_version: '3',
      outputs: [{ name: 'label', datatype: 'INT64', shape: [2], data: reference.labels.slice(0, 2) }],
    });
  });

  it('should describe the server and the model with the real tensor metadata', async () => {
    const server2 = await call(server.url('/v2'));
    expect(server2.status).toBe(200);
    expect(validateOip('metadata_server_response', server2.body)).toEqual([]);

    const expected = {
      name: 'iris',
      versions: ['3'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    };
    for (const path of ['/v2/models/iris', '/v2/models/iris/versions/3']) {
      const res = await call(server.url(path));
      expect(res.status).toBe(200);
      expect(validateOip('metadata_model_response', res.body)).toEqual([]);
      expect(res.body).toEqual(expected);
    }
  });

  it('should answer health and model readiness with 200 and an empty body', async () => {
    for (const path of [
      '/v2/health/live',
      '/v2/health/ready',
      '/v2/models/iris/ready',
      '/v2/models/iris/versions/3/ready',
    ]) {
      const res = await call(server.url(path));
      expect(res.status, path).toBe(200);
      expect(res.text, path).toBe('');
      expect(res.headers.get('x-model-version')).toBe('3');
    }
  });
});

describe('Model server: unknown models, versions and routes', () => {
  it.each([
    ['GET', '/v1/models/other', "model 'other' not found (this server serves 'iris')"],
    ['POST', '/v1/models/other:predict', "model 'other' not found (this server serves 'iris')"],
    ['GET', '/v2/models/other', "model 'other' not found (this server serves 'iris')"],
    ['GET', '/v2/models/other/ready', "model 'other' not found (this server serves 'iris')"],
    ['POST', '/v2/models/other/infer', "model 'other' not found (this server serves 'iris')"],
    ['GET', '/v2/models/iris/versions/4', "model 'iris' has no version '4' (this server serves version '3')"],
    ['GET', '/v2/models/iris/versions/4/ready', "model 'iris' has no version '4' (this server serves version '3')"],
    ['POST', '/v2/models/iris/versions/4/infer', "model 'iris' has no version '4' (this server serves version '3')"],
    ['GET', '/v3/anything', 'no route for GET /v3/anything'],
    ['GET', '/v2/models/iris/explain', 'no route for GET /v2/models/iris/explain'],
  ])('should answer 404 to %s %s', async (method, path, message) => {
    const res = await call(server.url(path), {
      method,
      ...(method === 'POST' ? { body: JSON.stringify({ instances: [[1, 2, 3, 4]] }) } : {}),
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: message });
    expect(res.headers.get('x-model-version')).toBe('3');
  });

  it('should answer 405 with an allow header for a wrong method', async () => {
    const res = await call(server.url('/v2/models/iris/infer'));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.body).toEqual({ error: 'method GET is not allowed here (allowed: POST)' });
    const put = await call(server.url('/v2/health/ready'), { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('Model server: bad input is a 400 that names the problem', () => {
  const v1 = (body: unknown) => post(server.url('/v1/models/iris:predict'), body);
  const v2 = (input: Record<string, unknown>) =>
    post(server.url('/v2/models/iris/infer'), {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2], ...input }],
    });

  it('should refuse malformed JSON', async () => {
    const res = await v1('{"instances": [[1, 2, 3, 4]');
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toMatch(/^malformed JSON in request body: /);
  });

  it('should refuse an empty body', async () => {
    const res = await call(server.url('/v2/models/iris/infer'), { method: 'POST' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'request body is empty; expected JSON' });
  });

  it('should refuse empty instances', async () => {
    const res = await v1({ instances: [] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'instances must not be empty' });
  });

  it('should refuse ragged rows', async () => {
    const res = await v1({
      instances: [
        [5.1, 3.5, 1.4, 0.2],
        [5.1, 3.5],
      ],
    });
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toContain("input 'input': instances[1] has 2 elements, expected 4");
  });

  it('should refuse non-numeric data', async () => {
    const res = await v1({ instances: [[5.1, 'wide', 1.4, 0.2]] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: `input 'input': instances[0][1] is "wide", expected a number (FP32)` });
  });

  it('should refuse an unknown input name', async () => {
    const res = await v2({ name: 'features' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "unknown input 'features'; the model's inputs are: input" });
  });

  it('should refuse a missing input', async () => {
    const res = await post(server.url('/v2/models/iris/infer'), { inputs: [] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "inputs must be a non-empty array (the model's inputs are: input)" });
  });

  it('should refuse a wrong datatype', async () => {
    const res = await v2({ datatype: 'INT64' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "input 'input' has datatype INT64, expected FP32" });
  });

  it('should refuse a wrong rank', async () => {
    const res = await v2({ shape: [4] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "input 'input' has shape [4], expected [-1, 4] (-1 = any size)" });
  });

  it('should refuse a fixed dimension that does not match', async () => {
    const res = await v2({ shape: [2, 2] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "input 'input' has shape [2, 2], expected [-1, 4] (-1 = any size)" });
  });

  it('should refuse data whose size is not product(shape)', async () => {
    const res = await v2({ shape: [2, 4] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: "input 'input': shape [2, 4] needs 8 elements, got 4 (data must have product(shape) elements)",
    });
  });

  it('should refuse a wrong row width over V1', async () => {
    const res = await v1({ instances: [[5.1, 3.5, 1.4]] });
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toContain(
      'instances[0] has shape [3], expected each instance to have shape [4]',
    );
  });

  it('should still serve after all that', async () => {
    const res = await post(server.url('/v1/models/iris:predict'), { instances: reference.instances.slice(0, 1) });
    expect(res.status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});

describe('Model server: limits and metrics', () => {
  it('should answer 413 to a body over the limit with a Content-Length', async () => {
    const big = JSON.stringify({ instances: Array.from({ length: 5000 }, () => [5.1, 3.5, 1.4, 0.2]) });
    expect(big.length).toBeGreaterThan(MAX_BODY);
    const res = await post(server.url('/v1/models/iris:predict'), big);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: `request body exceeds the limit of ${MAX_BODY} bytes` });
  });

  it('should answer 413 to a chunked body that grows over the limit', async () => {
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(server.url('/v2/models/iris/infer'), { method: 'POST' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      const chunk = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 6; i++) req.write(chunk); // 96 KiB, no Content-Length: chunked
      req.end();
    });
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body)).toEqual({ error: `request body exceeds the limit of ${MAX_BODY} bytes` });
  });

  it('should expose Prometheus metrics', async () => {
    const res = await call(server.url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toContain('merlin_model_ready{model="iris",version="3"} 1');
    expect(res.text).toMatch(
      /merlin_requests_total\{model="iris",version="3",protocol="v1",code="200",status="200"\} [1-9]/,
    );
    expect(res.text).toMatch(/merlin_inference_duration_seconds_count\{model="iris",version="3"\} [1-9]/);
  });
});

describe('Model server: logs', () => {
  it('should write one JSON object per line: listening, model loaded, ready', () => {
    expect(server.rawStdout).toEqual([]);
    expect(server.stderr()).toBe('');
    for (const line of server.logs) {
      expect(typeof line.time).toBe('string');
      expect(['info', 'warn', 'error']).toContain(line.level);
      expect(typeof line.msg).toBe('string');
    }
    const msgs = server.logs.map((l) => l.msg);
    expect(msgs.slice(0, 3)).toEqual(['listening', 'model loaded', 'ready']);
    expect(server.logs[0]).toMatchObject({ port: server.port(), model: 'iris', version: '3' });
    expect(typeof server.logs[1]?.loadMs).toBe('number');
  });
});
