/**
 * Local deploy latency (DESIGN §8 budget: POST …/endpoints → first successful prediction through the model endpoint
 * in under 3 s for a small ONNX model). Measured side by side in one run against a bare baseline: the same model
 * server started directly from a file:// artifact, to its first prediction. The ratio is the control plane's cost
 * (API, workflow, S3 download, routing) on top of starting the process. Both run the model server the same way: the
 * esbuild bundle the local cluster builds (as the container does).
 *
 *   npx tsx bench/deploy.ts [--runs 5]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildModelServerCommand } from '../adapters/local/model-server-bundle.js';
import { http } from '../test/helpers/http.js';
import { freePort, spawnPlatform } from '../test/helpers/spawn-platform.js';

const ROOT = new URL('..', import.meta.url).pathname;
const MODEL = readFileSync(join(ROOT, 'examples/iris/model.onnx'));
const BODY = { instances: [[5.1, 3.5, 1.4, 0.2]] };
const BUDGET_MS = 3000;
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
};

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    await sleep(10);
  }
}

/** Baseline: spawn the model server on the same model (local file) and wait for its first prediction. */
async function bareServerStart(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const [program, ...args] = await buildModelServerCommand();
  const child = spawn(program!, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      MODEL_NAME: 'iris',
      MODEL_VERSION: '1',
      MODEL_TYPE: 'onnx',
      ARTIFACT_URI: `file://${join(ROOT, 'examples/iris')}/`,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: 'ignore',
  });
  await until(
    () =>
      fetch(`http://127.0.0.1:${port}/v1/models/iris:predict`, { method: 'POST', body: JSON.stringify(BODY) })
        .then((r) => r.status)
        .catch(() => 0),
    (s) => s === 200,
  );
  const ms = performance.now() - t0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'merlin-bench-'));
  const platform = await spawnPlatform({ port: await freePort(), dataDir });
  const api = `${platform.url}/v1`;
  const V = `${api}/projects/bench/models/iris/versions`;
  await http('POST', `${api}/projects`, { name: 'bench' });
  await http('POST', `${api}/projects/bench/models`, { name: 'iris', type: 'onnx' });

  const total: number[] = [];
  const ready: number[] = [];
  const waitStep: number[] = [];
  const bare: number[] = [];
  let previous: number | undefined;
  for (let i = 0; i < RUNS; i++) {
    const { body: v } = await http('POST', V, {});
    const up = await http('POST', `${V}/${v.version}/artifact:upload`, { files: [{ path: 'model.onnx' }] });
    await fetch(up.body.uploads[0].url, { method: 'PUT', body: MODEL, headers: up.body.uploads[0].headers });
    const sha256 = createHash('sha256').update(MODEL).digest('hex');
    await http('POST', `${V}/${v.version}/artifact:complete`, {
      files: [{ path: 'model.onnx', size: MODEL.length, sha256 }],
    });

    const t0 = performance.now();
    const dep = await http('POST', `${V}/${v.version}/endpoints`, {});
    const done = await until(
      () => http('GET', `${api}/deployments/${dep.body.id}`),
      (r) => r.body.status !== 'pending' && r.body.status !== 'running',
    );
    if (done.body.status !== 'succeeded') throw new Error(`deploy failed: ${done.body.error?.message}`);
    ready.push(performance.now() - t0);
    const w = done.body.steps.find((s: { name: string }) => s.name === 'Wait Until Ready');
    waitStep.push(Date.parse(w.endedAt) - Date.parse(w.startedAt));
    const route = await http('PUT', `${api}/projects/bench/models/iris/endpoints/local`, {
      rule: { destinations: [{ version: v.version, weight: 100 }] },
    });
    await until(
      () => http('GET', `${api}/deployments/${route.body.id}`),
      (r) => r.body.status === 'succeeded',
    );
    await until(
      () => http('POST', `${platform.url}/serving/bench/iris/v1/models/iris:predict`, BODY),
      (r) => r.status === 200 && r.headers.get('x-model-version') === String(v.version),
    );
    total.push(performance.now() - t0);
    bare.push(await bareServerStart());

    if (previous !== undefined) {
      const d = await http('DELETE', `${V}/${previous}/endpoints/local`);
      await until(
        () => http('GET', `${api}/deployments/${d.body.id}`),
        (r) => r.body.status === 'succeeded',
      );
    }
    previous = v.version;
  }
  await platform.stop();
  rmSync(dataDir, { recursive: true, force: true });

  const t = stats(total);
  const b = stats(bare);
  const fmt = (x: { median: number; min: number; max: number }) =>
    `median ${x.median.toFixed(0)} ms (min ${x.min.toFixed(0)}, max ${x.max.toFixed(0)})`;
  console.log(`Local deploy, ${RUNS} runs, small ONNX model (examples/iris, ${MODEL.length} bytes)`);
  console.log(`  POST …/endpoints → deployment succeeded:                 ${fmt(stats(ready))}`);
  console.log(`    of which Wait Until Ready (model server start):        ${fmt(stats(waitStep))}`);
  console.log(`  POST …/endpoints → first prediction via model endpoint:  ${fmt(t)}`);
  console.log(`  baseline: bare model server spawn → first prediction:    ${fmt(b)}`);
  console.log(`  ratio platform / baseline (medians):                     ${(t.median / b.median).toFixed(2)}×`);
  console.log(
    `  budget ${BUDGET_MS} ms: median is ${(t.median / BUDGET_MS).toFixed(2)}× the budget → ${t.median < BUDGET_MS ? 'within' : 'OVER'}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
