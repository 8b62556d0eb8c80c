/**
 * REQUEST_TIMEOUT_MS: the HTTP server of the model server, in-process, on runtimes the test controls (a model that
 * never answers, one that blocks the event loop, one that answers when told). No wall-clock assertions: a hanging
 * inference is one that never resolves, a blocking one spins until its time is certainly past the limit.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseServingOptions, type ServingOptions } from '../../../serving/config.js';
import { createLogger } from '../../../serving/log.js';
import { Metrics } from '../../../serving/metrics.js';
import type { ServedModel } from '../../../serving/protocols/common.js';
import type { Runtime } from '../../../serving/runtimes/runtime.js';
import { createModelServer, type ModelServer } from '../../../serving/server.js';
import type { Tensor } from '../../../serving/tensors.js';
import { call } from './server-process.js';

function parseConfigError(env: Record<string, string>): string {
  try {
    parseServingOptions(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

/** x FP32 [N, 1] → y = x + 1. Rows with x = -1 hang for ever, x = -2 block the event loop past `blockMs`. */
function controlledRuntime(blockMs: number, batchable = false) {
  const hanging: (() => void)[] = [];
  let calls = 0;
  const runtime: Runtime = {
    platform: 'test',
    batchable,
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    infer: async (inputs: ReadonlyMap<string, Tensor>) => {
      calls++;
      const x = inputs.get('x') as Tensor;
      const xs = Array.from(x.data as Float32Array);
      const answer = () =>
        new Map([
          ['y', { datatype: 'FP32', shape: [...x.shape], data: Float32Array.from(xs, (v) => v + 1) } as Tensor],
        ]);
      if (xs.includes(-1)) {
        return new Promise<Map<string, Tensor>>((resolve) => {
          hanging.push(() => resolve(answer()));
        });
      }
      if (xs.includes(-2)) {
        const until = performance.now() + blockMs;
        while (performance.now() < until) {
          // a synchronous runtime (onnxruntime-node runs on the main thread)
        }
      }
      return answer();
    },
    close: async () => undefined,
  };
  return { runtime, hanging, calls: () => calls };
}

interface Started {
  url: (path: string) => string;
  server: ModelServer;
  metrics: Metrics;
  logs: string[];
}

const started: ModelServer[] = [];

async function start(runtime: Runtime, serving: ServingOptions): Promise<Started> {
  const model: ServedModel = { name: 'm', version: '1', runtime, ready: true };
  const metrics = new Metrics('m', '1', () => model.ready);
  const logs: string[] = [];
  const logger = createLogger({}, (line) => logs.push(line));
  const server = createModelServer({ model, maxBodyBytes: 1 << 20, logger, metrics, serving });
  started.push(server);
  const port = await server.listen(0, '127.0.0.1');
  expect((server.server.address() as AddressInfo).port).toBe(port);
  return { url: (path) => `http://127.0.0.1:${port}${path}`, server, metrics, logs };
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.shutdown(0)));
});

const v1 = (s: Started, x: number[]) =>
  call(s.url('/v1/models/m:predict'), { method: 'POST', body: JSON.stringify({ instances: x.map((v) => [v]) }) });
const v2 = (s: Started, x: number[]) =>
  call(s.url('/v2/models/m/infer'), {
    method: 'POST',
    body: JSON.stringify({ id: 'r', inputs: [{ name: 'x', shape: [x.length, 1], datatype: 'FP32', data: x }] }),
  });

describe('Model server: REQUEST_TIMEOUT_MS', () => {
  it('should answer 504 when the model does not answer in time, over V1 and V2, and keep serving', async () => {
    const model = controlledRuntime(0);
    const s = await start(model.runtime, { batching: undefined, requestTimeoutMs: 30 });
    const [a, b] = await Promise.all([v1(s, [-1]), v2(s, [-1])]);
    for (const res of [a, b]) {
      expect(res.status).toBe(504);
      expect(res.body).toEqual({ error: 'inference timed out after 30 ms' });
      expect(res.headers.get('x-model-version')).toBe('1');
    }
    const ok = await v1(s, [1, 2]);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ predictions: [[2], [3]] });
    // The late answers of the hung calls are dropped without harm.
    for (const release of model.hanging) release();
    expect((await v2(s, [5])).body).toMatchObject({ id: 'r', outputs: [{ name: 'y', data: [6] }] });
    const metrics = (await call(s.url('/metrics'))).text;
    expect(metrics).toContain('merlin_requests_total{model="m",version="1",protocol="v1",code="504",status="504"} 1');
    expect(metrics).toContain('merlin_requests_total{model="m",version="1",protocol="v2",code="504",status="504"} 1');
    expect(metrics).toContain('merlin_inference_requests_in_flight{model="m",version="1"} 0');
  });

  it('should answer 504 when a runtime blocks the event loop past the limit', async () => {
    const model = controlledRuntime(60);
    const s = await start(model.runtime, { batching: undefined, requestTimeoutMs: 20 });
    const res = await v2(s, [-2]);
    expect(res.status).toBe(504);
    expect(res.body).toEqual({ error: 'inference timed out after 20 ms' });
    expect((await v2(s, [1])).status).toBe(200);
  });

  it('should let any inference finish without a limit', async () => {
    const model = controlledRuntime(60);
    const s = await start(model.runtime, { batching: undefined, requestTimeoutMs: undefined });
    const res = await v2(s, [-2]);
    expect(res.status).toBe(200);
    const pending = v1(s, [-1]);
    await vi.waitFor(() => expect(model.hanging).toHaveLength(1));
    for (const release of model.hanging) release();
    expect((await pending).status).toBe(200);
  });

  it('should withdraw a request that times out while queued for a batch, and answer the others', async () => {
    const model = controlledRuntime(0, true);
    const s = await start(model.runtime, {
      batching: { maxBatchSize: 64, maxLatencyMs: 3_600_000 },
      requestTimeoutMs: 40,
    });
    // The first request hangs the model; the next queue behind it (the model is busy) until they time out.
    const hung = v2(s, [-1]);
    await vi.waitFor(() => expect(model.calls()).toBe(1));
    const queued = await Promise.all([v1(s, [1]), v2(s, [2, 3])]);
    expect((await hung).status).toBe(504);
    for (const res of queued) expect(res.body).toEqual({ error: 'inference timed out after 40 ms' });
    // Withdrawn: they never reached the model.
    expect(model.calls()).toBe(1);
    for (const release of model.hanging) release();
    const ok = await Promise.all([v1(s, [1]), v2(s, [2, 3])]);
    expect(ok.map((r) => r.status)).toEqual([200, 200]);
    expect(ok[1]?.body).toMatchObject({ outputs: [{ name: 'y', shape: [2, 1], data: [3, 4] }] });
  });

  it('should refuse invalid values at startup', () => {
    expect(parseConfigError({ REQUEST_TIMEOUT_MS: 'soon' })).toBe(
      'invalid configuration: REQUEST_TIMEOUT_MS must be an integer between 1 and 3600000',
    );
    expect(parseConfigError({ REQUEST_TIMEOUT_MS: '0' })).toBe(
      'invalid configuration: REQUEST_TIMEOUT_MS must be an integer between 1 and 3600000',
    );
    expect(parseConfigError({ BATCH_MAX_LATENCY_MS: '5' })).toBe(
      'invalid configuration: BATCH_MAX_LATENCY_MS is set without BATCH_MAX_SIZE',
    );
  });
});
