/**
 * Control-plane API latency with many models in one project (DESIGN §8 budget: p99 < 50 ms per call locally with
 * 10,000 models in a project; list cost grows with the page, not the table).
 *
 * The embedded platform runs in this process (dynalite on disk in a temp dir). Models are seeded straight through the
 * same DynamoDB adapter the handlers use (the `createModel` use case on the platform's dependencies) because 10,000
 * HTTP creates would dominate the run; every figure is then measured through the local HTTP API, one call at a time
 * over a keep-alive connection, so each sample is the whole round trip a client sees (client parsing included).
 *
 * Measured at 1,000 models, then again after seeding to 10,000, side by side in one run:
 *   GET model · POST create model · GET list models (first page) · GET list models (page 50, reached by following
 *   nextCursor). Pages hold the default 20 items, so page 50 is models 981–1000 at both sizes.
 *
 *   npx tsx bench/api.ts [--samples 500]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { startPlatform } = await import('../local/platform.js');
const { getDeps } = await import('../functions/shared/container.js');
const { createModel, createProject } = await import('../core/use-cases/catalog.js');

const { values } = parseArgs({ options: { samples: { type: 'string', default: '500' } } });
const SAMPLES = Number(values.samples);
const WARMUP = 100;
const PROJECT = 'bench';
const PAGE = 20;
const DEEP_PAGE = 50;
const BUDGET_P99_MS = 50;
const SIZES = [1_000, 10_000] as const;

const modelName = (i: number) => `m-${String(i).padStart(5, '0')}`;

interface Stats {
  p50: number;
  p99: number;
  max: number;
}
const stats = (xs: number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1]! };
};

/** One timed HTTP call: the status, the parsed body and the milliseconds from sending to the last byte. */
async function call(method: string, url: string, body?: unknown) {
  const t0 = performance.now();
  const res = await fetch(url, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  return { status: res.status, body: text ? JSON.parse(text) : undefined, ms };
}

/** One call, checked: the milliseconds it took. */
async function timed(what: string, r: { method: string; url: string; body?: unknown }, expect: number) {
  const reply = await call(r.method, r.url, r.body);
  if (reply.status !== expect) throw new Error(`${what}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.ms;
}

/** Seeds models [from, to) through the DynamoDB adapter, `concurrency` writes at a time. */
async function seed(from: number, to: number, concurrency = 32): Promise<number> {
  const deps = getDeps();
  const t0 = performance.now();
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < to; i = next++) {
        await createModel(deps, { project: PROJECT }, { name: modelName(i), type: 'onnx' });
      }
    }),
  );
  return performance.now() - t0;
}

/** Lets the emulator's storage and the garbage collector catch up after seeding, before anything is timed. */
const settle = () => new Promise((r) => setTimeout(r, 2_000));

async function measure(api: string, size: number) {
  const models = `${api}/projects/${PROJECT}/models`;
  const rows: Record<string, Stats> = {};
  let seq = 0;
  const getModel = () => ({ method: 'GET', url: `${models}/${modelName(Math.floor(Math.random() * size))}` });
  const create = () => ({ method: 'POST', url: models, body: { name: `new-${size}-${seq++}`, type: 'onnx' } });
  const firstPage = () => ({ method: 'GET', url: `${models}?limit=${PAGE}` });

  // Page 50 by following the cursors (each page must be full and in order).
  let cursor: string | undefined;
  const walk0 = performance.now();
  for (let page = 1; page < DEEP_PAGE; page++) {
    const r = await call('GET', `${models}?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (r.status !== 200 || r.body.items.length !== PAGE || !r.body.nextCursor) {
      throw new Error(`page ${page}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    cursor = r.body.nextCursor;
  }
  const walkMs = performance.now() - walk0;
  const deepUrl = `${models}?limit=${PAGE}&cursor=${encodeURIComponent(cursor!)}`;
  const deep = await call('GET', deepUrl);
  const expectedFirst = modelName((DEEP_PAGE - 1) * PAGE);
  if (deep.body.items[0]?.name !== expectedFirst) {
    throw new Error(`page ${DEEP_PAGE} starts at ${deep.body.items[0]?.name}, expected ${expectedFirst}`);
  }
  const deepPage = () => ({ method: 'GET', url: deepUrl });

  const ops: [string, () => { method: string; url: string; body?: unknown }, number][] = [
    ['GET model', getModel, 200],
    ['POST create model', create, 201],
    [`GET list models, first page (${PAGE} items)`, firstPage, 200],
    [`GET list models, page ${DEEP_PAGE} (via cursor)`, deepPage, 200],
  ];
  // Round robin: one call of each kind per round, so a disturbance from outside hits every row alike.
  const samples = ops.map((): number[] => []);
  for (let round = 0; round < WARMUP + SAMPLES; round++) {
    for (const [k, [what, request, status]] of ops.entries()) {
      const ms = await timed(what, request(), status);
      if (round >= WARMUP) samples[k]!.push(ms);
    }
  }
  for (const [k, [what]] of ops.entries()) rows[what] = stats(samples[k]!);
  return { rows, walkMs };
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'merlin-bench-api-'));
  const platform = await startPlatform({ port: 0, dataDir });
  try {
    await createProject(getDeps(), { name: PROJECT });
    const results: { size: number; seedMs: number; rows: Record<string, Stats>; walkMs: number }[] = [];
    let seeded = 0;
    for (const size of SIZES) {
      const seedMs = await seed(seeded, size);
      seeded = size;
      await settle();
      const { rows, walkMs } = await measure(platform.apiUrl, size);
      results.push({ size, seedMs, rows, walkMs });
    }

    const ops = Object.keys(results[0]!.rows);
    const width = Math.max(...ops.map((o) => o.length));
    const cell = (s: Stats) =>
      `${s.p50.toFixed(2).padStart(6)} ${s.p99.toFixed(2).padStart(6)} ${s.max.toFixed(1).padStart(6)}`;
    console.log(
      `API latency through the local HTTP API, one call at a time, ${SAMPLES} samples per row (after ${WARMUP} warm-up), ms`,
    );
    console.log(
      `${''.padEnd(width)}  ${results.map((r) => `${r.size.toLocaleString('en')} models`.padEnd(20)).join('   ')}`,
    );
    console.log(
      `${'call'.padEnd(width)}  ${results.map(() => '   p50    p99    max').join('   ')}   budget p99 < ${BUDGET_P99_MS}`,
    );
    for (const op of ops) {
      const worst = Math.max(...results.map((r) => r.rows[op]!.p99));
      console.log(
        `${op.padEnd(width)}  ${results.map((r) => cell(r.rows[op]!)).join('   ')}   ${worst < BUDGET_P99_MS ? 'within' : 'OVER'}`,
      );
    }
    const [small, large] = results as [(typeof results)[0], (typeof results)[0]];
    const ratio = (op: string, k: keyof Stats) => (large.rows[op]![k] / small.rows[op]![k]).toFixed(2);
    for (const op of ops.filter((o) => o.startsWith('GET list'))) {
      console.log(
        `ratio ${large.size.toLocaleString('en')} / ${small.size.toLocaleString('en')} models, ${op}: p50 ${ratio(op, 'p50')}×, p99 ${ratio(op, 'p99')}×`,
      );
    }
    for (const r of results) {
      console.log(
        `${r.size.toLocaleString('en')} models: seeding through the DynamoDB adapter took ${(r.seedMs / 1000).toFixed(1)} s; following nextCursor to page ${DEEP_PAGE} took ${r.walkMs.toFixed(0)} ms (${(r.walkMs / (DEEP_PAGE - 1)).toFixed(2)} ms a page)`,
      );
    }
  } finally {
    await platform.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
