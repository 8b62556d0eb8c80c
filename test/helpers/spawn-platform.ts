import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { EnvironmentConfig } from '../../core/schemas/environment.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Pids of the direct children of a process (Linux /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** The model-server processes a platform started (its other children, e.g. tsx's esbuild service, excluded). */
export function modelServerPids(platformPid: number): number[] {
  return childPids(platformPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('serving/main.');
    } catch {
      return false;
    }
  });
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function eventually<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`condition not met in time; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RunningPlatform {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the local platform the way `npm start` does (tsx on local/main.ts) in its own process, and waits for its
 * "ready" banner.
 */
export async function spawnPlatform(args: {
  port: number;
  dataDir: string;
  command?: 'node' | 'npm';
  /** Environments written to a merlin.config.json in the data dir and passed with --config. */
  environments?: EnvironmentConfig[];
}): Promise<RunningPlatform> {
  const argv = ['--port', String(args.port), '--data-dir', args.dataDir];
  if (args.environments) {
    const config = join(args.dataDir, 'merlin.config.json');
    writeFileSync(config, JSON.stringify({ environments: args.environments }));
    argv.push('--config', config);
  }
  const child =
    args.command === 'npm'
      ? spawn('npm', ['start', '--', ...argv], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, ['--import', 'tsx', 'local/main.ts', ...argv], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes('Merlin local platform ready')) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`platform exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${args.port}`,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (args.command === 'npm') process.kill(-child.pid!, signal);
      else child.kill(signal);
      return exited;
    },
  };
}
