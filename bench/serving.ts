/**
 * Model-server throughput and latency (DESIGN §8: at least 0.9× a bare `node:http` + onnxruntime baseline on the same
 * model in the same run; adaptive batching at least 2× our own unbatched throughput at concurrency 32).
 *
 * One run, one process tree: this script starts
 *   - the baseline, bench/baseline-server.ts (parse the V1 body, build the tensor, run the session, answer the JSON);
 *   - the model server as the platform runs it: `node --import tsx serving/main.ts`;
 *   - the model server as the container runs it: the esbuild bundle built by serving/Dockerfile's own command;
 *   - both again with adaptive batching on (BATCH_MAX_SIZE=32, BATCH_MAX_LATENCY_MS=2);
 * all on bench/fixtures/mlp (64→256→256→10), and measures each with bench/load-generator.ts, a separate process
 * (closed loop, keep-alive, one V1 request of one row at a time per connection) at concurrency 1, 8 and 32. Servers
 * are measured one at a time, in an order rotated every round; each cell is the median of the rounds.
 *
 *   npx tsx bench/serving.ts [--model bench/fixtures/mlp] [--rounds 7] [--duration 1500] [--warmup 300]
 *     [--concurrency 1,8,32] [--ort-threads 1]
 * (`--model bench/fixtures/mlp-wide`: a wider MLP, 256→1024→1024→16, whose compute per row dominates a request.)
 *
 * Every server gets the same onnxruntime settings: one intra-op thread by default (`--ort-threads default` leaves
 * onnxruntime's choice). On a small machine shared with the load generator, the intra-op pool's spin-waiting would
 * otherwise dominate both CPU time and noise. Besides throughput, each cell reports the server's CPU time per request
 * (all its threads, from /proc): it hardly depends on what else runs on the machine.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { LoadOptions, LoadResult } from './load-generator.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    duration: { type: 'string', default: '1500' },
    warmup: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '1,8,32' },
    'ort-threads': { type: 'string', default: '1' },
    model: { type: 'string', default: 'bench/fixtures/mlp' },
  },
});
const MLP = path.join(ROOT, `${values.model as string}/`);
const reference = JSON.parse(readFileSync(path.join(MLP, 'reference.json'), 'utf8')) as {
  layers: number[];
  instances: number[][];
  predictions: number[][];
};
const MODEL_LABEL = `${values.model as string} (${reference.layers.join('→')})`;
const BODY = JSON.stringify({ instances: [reference.instances[0]] });

const ROUNDS = Number(values.rounds);
const CONCURRENCY = (values.concurrency as string).split(',').map(Number);
const BATCHING = { BATCH_MAX_SIZE: '32', BATCH_MAX_LATENCY_MS: '2' };

interface Server {
  readonly key: string;
  readonly label: string;
  readonly command: string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly predictPath: string;
  child?: ChildProcess;
  port?: number;
}

interface Sample {
  requests: number;
  total: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  /** Mean rows per model call during the sample (batching servers). */
  rowsPerCall?: number;
  /** CPU time the server process (all its threads) spent per answered request, in µs (Linux). */
  cpuUsPerRequest?: number;
}

/** CPU time of a process, all threads, in ns (Linux /proc/<pid>/task/<tid>/schedstat); undefined elsewhere. */
function cpuNs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    return total;
  } catch {
    return undefined;
  }
}

/** The environment of a child: ours without model-server or node settings of this shell. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(MODEL_|ARTIFACT_|AWS_|ORT_|SERVING_|BATCH_|REQUEST_|NODE_OPTIONS$|PORT$|HOST$)/.test(k),
    ),
  );
  const ort = values['ort-threads'] === 'default' ? {} : { ORT_INTRA_OP_NUM_THREADS: values['ort-threads'] as string };
  return { ...inherited, PORT: '0', HOST: '127.0.0.1', ...ort, ...extra };
}

/** Builds the container's program with serving/Dockerfile's own esbuild command, beside a node_modules link. */
async function buildBundle(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'merlin-bench-bundle-'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const dockerfile = readFileSync(path.join(ROOT, 'serving/Dockerfile'), 'utf8');
  const line = dockerfile.split('\n').find((l) => l.startsWith('RUN ["npx", "esbuild"'));
  if (!line) throw new Error('serving/Dockerfile has no esbuild RUN line');
  const args = (JSON.parse(line.slice('RUN '.length)) as string[])
    .slice(2)
    .map((a) => (a.startsWith('--outfile=') ? `--outfile=${path.join(dir, 'main.mjs')}` : a));
  await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/esbuild'), args, { cwd: ROOT });
  return dir;
}

function start(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = server.command as [string, ...string[]];
    const child = spawn(cmd, args, {
      cwd: server.cwd,
      env: childEnv(server.env),
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    server.child = child;
    child.on('message', (m: { type: string; port?: number; reason?: string }) => {
      if (m.type === 'listening') server.port = m.port;
      if (m.type === 'ready') resolve();
      if (m.type === 'failed') reject(new Error(`${server.label}: ${m.reason}`));
    });
    child.once('exit', (code) => reject(new Error(`${server.label} exited with ${code}`)));
  });
}

async function checkAnswers(server: Server): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${server.port}${server.predictPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: reference.instances }),
  });
  const body = (await res.json()) as { predictions: number[][] };
  const worst = Math.max(
    ...body.predictions.flatMap((row, i) => row.map((v, j) => Math.abs(v - (reference.predictions[i]?.[j] ?? NaN)))),
  );
  if (res.status !== 200 || !(worst <= 1e-5)) {
    throw new Error(`${server.label} answered ${res.status}, max deviation from numpy ${worst}`);
  }
}

async function callsAndRows(server: Server): Promise<{ calls: number; rows: number } | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const calls = value('merlin_batch_size_count');
  const rows = value('merlin_batch_size_sum');
  return calls === undefined || rows === undefined ? undefined : { calls, rows };
}

/** The load generator: one child process for the whole run, one measurement per message. */
function startLoadGenerator(): { run: (options: LoadOptions) => Promise<LoadResult>; child: ChildProcess } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-generator.ts'], {
    cwd: ROOT,
    env: childEnv({}),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let pending: ((r: LoadResult) => void) | undefined;
  child.on('message', (m: LoadResult) => {
    pending?.(m);
    pending = undefined;
  });
  const run = (options: LoadOptions) =>
    new Promise<LoadResult>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load generator exited with ${code}`));
      child.once('exit', onExit);
      pending = (r) => {
        child.off('exit', onExit);
        resolve(r);
      };
      child.send(options);
    });
  return { run, child };
}

let generator: ReturnType<typeof startLoadGenerator>;

async function load(server: Server, concurrency: number): Promise<Sample> {
  const before = await callsAndRows(server);
  const cpuBefore = cpuNs(server.child?.pid);
  const sample: Sample = await generator.run({
    url: `http://127.0.0.1:${server.port}${server.predictPath}`,
    body: BODY,
    concurrency,
    durationMs: Number(values.duration),
    warmupMs: Number(values.warmup),
  });
  if (sample.errors > 0)
    throw new Error(`${server.label}: ${sample.errors} requests failed at concurrency ${concurrency}`);
  const cpuAfter = cpuNs(server.child?.pid);
  if (cpuBefore !== undefined && cpuAfter !== undefined) {
    sample.cpuUsPerRequest = (cpuAfter - cpuBefore) / 1000 / sample.total;
  }
  const after = await callsAndRows(server);
  if (before && after && after.calls > before.calls) {
    sample.rowsPerCall = (after.rows - before.rows) / (after.calls - before.calls);
  }
  return sample;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const f = (v: number, digits = 2) => v.toFixed(digits);

async function main(): Promise<void> {
  const bundleDir = await buildBundle();
  const ours = (extra: Record<string, string>) => ({
    MODEL_NAME: 'mlp',
    MODEL_VERSION: '1',
    MODEL_TYPE: 'onnx',
    ARTIFACT_URI: `file://${MLP}`,
    ...extra,
  });
  const servers: Server[] = [
    {
      key: 'baseline',
      label: 'baseline: node:http + onnxruntime',
      command: [process.execPath, '--import', 'tsx', 'bench/baseline-server.ts'],
      env: { MODEL_PATH: path.join(MLP, 'model.onnx') },
      cwd: ROOT,
      predictPath: '/',
    },
    {
      key: 'tsx',
      label: 'model server (node --import tsx)',
      command: [process.execPath, '--import', 'tsx', 'serving/main.ts'],
      env: ours({}),
      cwd: ROOT,
      predictPath: '/v1/models/mlp:predict',
    },
    {
      key: 'bundle',
      label: 'model server (esbuild bundle)',
      command: [process.execPath, 'main.mjs'],
      env: ours({}),
      cwd: bundleDir,
      predictPath: '/v1/models/mlp:predict',
    },
    {
      key: 'tsx-batching',
      label: 'model server (tsx), batching 32/2 ms',
      command: [process.execPath, '--import', 'tsx', 'serving/main.ts'],
      env: ours(BATCHING),
      cwd: ROOT,
      predictPath: '/v1/models/mlp:predict',
    },
    {
      key: 'bundle-batching',
      label: 'model server (bundle), batching 32/2 ms',
      command: [process.execPath, 'main.mjs'],
      env: ours(BATCHING),
      cwd: bundleDir,
      predictPath: '/v1/models/mlp:predict',
    },
  ];
  generator = startLoadGenerator();
  try {
    for (const s of servers) await start(s);
    for (const s of servers) await checkAnswers(s);

    const samples = new Map<string, Sample[]>();
    for (const c of CONCURRENCY) {
      for (let round = 0; round < ROUNDS; round++) {
        const order = servers.map((_, i) => servers[(i + round) % servers.length] as Server);
        for (const s of order) {
          const key = `${s.key}@${c}`;
          const list = samples.get(key) ?? [];
          list.push(await load(s, c));
          samples.set(key, list);
          process.stderr.write('.');
        }
      }
    }
    process.stderr.write('\n');

    /** Per round, a server's throughput over another's measured in the same round; the median over rounds. */
    const pairedRatio = (key: string, over: string, c: number) => {
      const a = samples.get(`${key}@${c}`) ?? [];
      const b = samples.get(`${over}@${c}`) ?? [];
      return median(a.map((x, i) => x.rps / (b[i]?.rps ?? Number.NaN)));
    };
    const cell = (key: string, c: number) => {
      const list = samples.get(`${key}@${c}`) ?? [];
      const rows = list.map((x) => x.rowsPerCall).filter((x): x is number => x !== undefined);
      const cpu = list.map((x) => x.cpuUsPerRequest).filter((x): x is number => x !== undefined);
      return {
        cpuUs: cpu.length > 0 ? median(cpu) : undefined,
        rps: median(list.map((x) => x.rps)),
        p50: median(list.map((x) => x.p50)),
        p99: median(list.map((x) => x.p99)),
        rowsPerCall: rows.length > 0 ? median(rows) : undefined,
      };
    };
    const cpus = os.cpus().length;
    console.log(`Model server vs node:http + onnxruntime baseline, ${MODEL_LABEL}, V1, 1 row per request`);
    console.log(
      `${ROUNDS} rounds × ${values.duration} ms per cell (after ${values.warmup} ms warm-up); req/s and latencies are ` +
        'medians over the rounds, ratios the median of the ratios within each round;',
    );
    console.log(
      `  Node ${process.version}, ${cpus} CPUs, load average ${os.loadavg()[0]?.toFixed(1)} at the end, ` +
        `onnxruntime intra-op threads: ${values['ort-threads']}`,
    );
    console.log('');
    const header = `${'server'.padEnd(42)} ${'conc'.padStart(4)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'vs baseline'.padStart(11)} ${'vs unbatched'.padStart(12)} ${'rows/call'.padStart(9)} ${'CPU µs/req'.padStart(10)}`;
    console.log(header);
    for (const c of CONCURRENCY) {
      for (const s of servers) {
        const x = cell(s.key, c);
        const unbatched = s.key.endsWith('-batching') ? s.key.replace('-batching', '') : undefined;
        console.log(
          `${s.label.padEnd(42)} ${String(c).padStart(4)} ${f(x.rps, 0).padStart(8)} ${f(x.p50).padStart(7)} ${f(x.p99).padStart(7)} ` +
            `${(s.key === 'baseline' ? '' : `${f(pairedRatio(s.key, 'baseline', c))}×`).padStart(11)} ` +
            `${(unbatched ? `${f(pairedRatio(s.key, unbatched, c))}×` : '').padStart(12)} ` +
            `${(x.rowsPerCall === undefined ? '' : f(x.rowsPerCall, 1)).padStart(9)} ` +
            `${(x.cpuUs === undefined ? '' : f(x.cpuUs, 0)).padStart(10)}`,
        );
      }
    }
    console.log('');
    for (const key of ['tsx', 'bundle']) {
      const ratios = CONCURRENCY.map((c) => pairedRatio(key, 'baseline', c));
      const worst = Math.min(...ratios);
      console.log(
        `budget ≥ 0.90× baseline, ${key.padEnd(6)}: ${ratios.map((r, i) => `c=${CONCURRENCY[i]} ${f(r)}×`).join(', ')} → ` +
          `${worst >= 0.9 ? 'within' : 'NOT reached'}`,
      );
    }
    // CPU per request hardly depends on what else runs on the machine: baseline CPU / ours is the throughput ratio
    // both would reach with a CPU of their own.
    for (const key of ['tsx', 'bundle']) {
      const ratios = CONCURRENCY.map(
        (c) => (cell('baseline', c).cpuUs ?? Number.NaN) / (cell(key, c).cpuUs ?? Number.NaN),
      );
      if (ratios.some((r) => Number.isNaN(r))) continue;
      console.log(
        `CPU-time ratio baseline / ${key.padEnd(6)} : ${ratios.map((r, i) => `c=${CONCURRENCY[i]} ${f(r)}×`).join(', ')}`,
      );
    }
    const top = Math.max(...CONCURRENCY);
    for (const key of ['tsx', 'bundle']) {
      const r = pairedRatio(`${key}-batching`, key, top);
      console.log(
        `budget ≥ 2× unbatched at c=${top}, ${key.padEnd(6)}: ${f(r)}× → ${r >= 2 ? 'within' : 'NOT reached'}`,
      );
    }
  } finally {
    for (const s of servers) s.child?.kill('SIGTERM');
    generator.child.kill('SIGTERM');
    rmSync(bundleDir, { recursive: true, force: true });
  }
}

await main();
