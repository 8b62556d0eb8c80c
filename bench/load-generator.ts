/**
 * A closed-loop HTTP load generator, run as its own process by bench/serving.ts so that it never shares an event
 * loop with the server it measures: `concurrency` workers, each on its own keep-alive connection, POST the same body
 * one request after the other. Requests of the first `warmup` ms are sent but not counted.
 *
 *   node --import tsx bench/load-generator.ts --url http://127.0.0.1:8080/v1/models/m:predict \
 *     --body '{"instances": [[1, 2]]}' --concurrency 8 --duration 3000 --warmup 500
 *
 * Prints one JSON line: `{requests, total, errors, seconds, rps, p50, p99, max}` (latencies in ms). Spawned with an IPC
 * channel (as bench/serving.ts does), it takes one run per message instead and answers each with that object.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';

export interface LoadOptions {
  readonly url: string;
  readonly body: string;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly warmupMs: number;
}

export interface LoadResult {
  /** Answered requests in the measured window. */
  requests: number;
  /** Every answered request, warm-up included. */
  total: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  const body = Buffer.from(options.body);
  const { concurrency, durationMs, warmupMs } = options;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const headers = { 'content-type': 'application/json', 'content-length': body.length };

  const once = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let total = 0;

  const worker = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      let status = 0;
      try {
        status = await once();
      } catch {
        status = 0;
      }
      const t1 = performance.now();
      total++;
      if (t0 < measureFrom) continue;
      if (status === 200) latencies.push(t1 - t0);
      else errors++;
    }
  };

  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  const seconds = durationMs / 1000;
  return {
    requests: latencies.length,
    total,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: pick(0.5),
    p99: pick(0.99),
    max: latencies.at(-1) ?? Number.NaN,
  };
}

if (process.send) {
  // Driven by bench/serving.ts: one run per message, answered with its result; exits when the parent disconnects.
  process.on('message', (m: LoadOptions) => {
    void runLoad(m).then((result) => process.send?.(result));
  });
  process.once('disconnect', () => process.exit(0));
} else {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      body: { type: 'string' },
      concurrency: { type: 'string', default: '1' },
      duration: { type: 'string', default: '3000' },
      warmup: { type: 'string', default: '500' },
    },
  });
  if (!values.url || values.body === undefined) throw new Error('--url and --body are required');
  const result = await runLoad({
    url: values.url,
    body: values.body,
    concurrency: Number(values.concurrency),
    durationMs: Number(values.duration),
    warmupMs: Number(values.warmup),
  });
  console.log(JSON.stringify(result));
}
