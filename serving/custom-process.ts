/**
 * The user's command of a `custom` model, run as a child of the model server (custom.ts):
 * - started in its own process group (so SIGTERM/SIGKILL reach whatever it starts in turn), stdin closed,
 *   stdout/stderr read line by line (each line handed to `onLine`, the last few kept for failure reasons);
 * - watched by a tiny `sh` watchdog in its own session, reading a pipe from this process: when this process dies
 *   without stopping the command (even by SIGKILL), the pipe closes and the watchdog stops the command's group
 *   (SIGTERM, SIGKILL after the grace period) — the command is never left orphaned;
 * - stopped with SIGTERM, then SIGKILL after a grace period.
 *
 * Also the health probe (one GET with a time limit) and a free loopback port for the command.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CommandProcess {
  readonly pid: number;
  /** Resolves once the command exited and its output was read (or a short while after exit, if a descendant holds it). */
  readonly exited: Promise<ExitStatus>;
  /** Whether the command has exited. */
  hasExited(): boolean;
  /** The last output line that says something on its own (see {@link isTelling}), if any. */
  lastLine(): string | undefined;
  /** SIGTERM to the process group; SIGKILL after `graceMs` if still running. Resolves with the exit status. */
  stop(graceMs: number): Promise<ExitStatus>;
  /** SIGKILL to the process group, synchronously (for `process.on('exit')`). */
  killNow(): void;
}

export interface StartOptions {
  readonly command: readonly [string, ...string[]];
  readonly cwd: string;
  readonly env: Record<string, string>;
  /** Each output line, without its end of line (lines longer than {@link MAX_LINE_CHARS} are cut). */
  readonly onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Grace period the watchdog gives the command after SIGTERM. */
  readonly watchdogGraceMs: number;
}

/** The command could not be started at all (no process): e.g. `spawn python3 ENOENT`. */
export class StartError extends Error {
  override readonly name = 'StartError';
}

export const MAX_LINE_CHARS = 16 * 1024;
/** After `exit`, how long to wait for the output pipes to end (a descendant may hold them open). */
const OUTPUT_GRACE_MS = 300;
const KEPT_LINES = 50;

/**
 * Whether an output line says something on its own: skips blank lines, indented continuation lines (stack frames),
 * and the trailer Node prints after an uncaught exception (`Node.js v20…`, `^`, `}`).
 */
export function isTelling(line: string): boolean {
  if (line === '' || line.startsWith(' ') || line.startsWith('\t')) return false;
  const t = line.trim();
  return t !== '' && t !== '}' && !/^\^+$/.test(t) && !/^Node\.js v\d/.test(t);
}

/** Splits a byte stream into lines (`\n` or `\r\n`), decoding UTF-8 across chunk boundaries; cuts long lines. */
export class LineSplitter {
  #pending = '';
  #decoder = new TextDecoder('utf-8');
  #dropping = false;

  constructor(private readonly onLine: (line: string) => void) {}

  write(chunk: Uint8Array): void {
    let text = this.#pending + this.#decoder.decode(chunk, { stream: true });
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.#dropping) this.#dropping = false;
      else this.#emit(line);
      nl = text.indexOf('\n');
    }
    if (text.length > MAX_LINE_CHARS) {
      // An endless line: emit what fits, drop the rest of it.
      if (!this.#dropping) this.#emit(text);
      this.#dropping = true;
      text = '';
    }
    this.#pending = text;
  }

  /** Emits a last line without an end of line. */
  flush(): void {
    const text = this.#pending + this.#decoder.decode();
    this.#pending = '';
    if (text !== '' && !this.#dropping) this.#emit(text);
    this.#dropping = false;
  }

  #emit(line: string): void {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    this.onLine(l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}…` : l);
  }
}

function signalGroup(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, name);
    return true;
  } catch {
    return false; // gone
  }
}

/** Stops the command's group once stdin ends (this process died or let it go); $1 = group, $2 = grace in ms. */
const WATCHDOG_SCRIPT = `read -r _
kill -s TERM -- "-$1" 2>/dev/null || exit 0
n=$(( ($2 + 99) / 100 ))
while [ "$n" -gt 0 ]; do
  kill -s 0 -- "-$1" 2>/dev/null || exit 0
  sleep 0.1
  n=$((n - 1))
done
kill -s KILL -- "-$1" 2>/dev/null
exit 0`;

function startWatchdog(pgid: number, graceMs: number): ChildProcess | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    const watchdog = spawn(
      '/bin/sh',
      ['-c', WATCHDOG_SCRIPT, 'merlin-custom-watchdog', String(pgid), String(graceMs)],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
        detached: true,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      },
    );
    watchdog.on('error', () => {});
    watchdog.stdin?.on('error', () => {});
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return watchdog;
  } catch {
    return undefined;
  }
}

/**
 * Starts the command. Resolves once it runs (it has a pid; the caller's continuation runs before any other event);
 * rejects with {@link StartError} when it cannot start
 * (unknown program, not executable, missing directory).
 */
export function startCommand(options: StartOptions): Promise<CommandProcess> {
  const [program, ...args] = options.command;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: signals reach everything it starts; the watchdog can find it after we are gone.
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (err) {
      reject(new StartError((err as Error).message));
      return;
    }
    if (child.pid === undefined) {
      // Reported on the next tick (ENOENT, EACCES, a missing working directory).
      child.once('error', (err) => reject(new StartError(err.message)));
      return;
    }
    // Supervised at once, so no exit path can miss it.
    resolve(supervise(child, options));
  });
}

function supervise(child: ChildProcess, options: StartOptions): CommandProcess {
  const pid = child.pid as number;
  const lines: string[] = [];
  const keep = (line: string) => {
    if (!isTelling(line)) return;
    lines.push(line);
    if (lines.length > KEPT_LINES) lines.shift();
  };
  const splitters = (['stdout', 'stderr'] as const).map((stream) => {
    const splitter = new LineSplitter((line) => {
      keep(line);
      options.onLine(line, stream);
    });
    const source = child[stream];
    source?.on('data', (chunk: Buffer) => splitter.write(chunk));
    source?.on('error', () => {});
    const ended = new Promise<void>((r) => {
      if (!source) return r();
      source.once('end', () => r());
      source.once('close', () => r());
    });
    return { splitter, ended };
  });
  const watchdog = startWatchdog(pid, options.watchdogGraceMs);
  let exited = false;
  const exit = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      // The group may still hold descendants: they go with it.
      signalGroup(pid, 'SIGKILL');
      const outputRead = Promise.all(splitters.map((s) => s.ended));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => {
        timer = setTimeout(r, OUTPUT_GRACE_MS);
      });
      void Promise.race([outputRead, grace]).then(() => {
        clearTimeout(timer);
        for (const s of splitters) s.splitter.flush();
        child.stdout?.destroy();
        child.stderr?.destroy();
        // Nothing left to watch: the watchdog finds no group and exits.
        watchdog?.stdin?.end();
        resolve({ code, signal });
      });
    });
  });

  let stopping: Promise<ExitStatus> | undefined;
  return {
    pid,
    exited: exit,
    hasExited: () => exited,
    lastLine: () => lines.at(-1),
    stop(graceMs) {
      if (stopping) return stopping;
      stopping = (async () => {
        if (!exited) {
          signalGroup(pid, 'SIGTERM');
          let timer: NodeJS.Timeout | undefined;
          const killed = new Promise<void>((r) => {
            timer = setTimeout(() => {
              signalGroup(pid, 'SIGKILL');
              r();
            }, graceMs);
          });
          await Promise.race([exit, killed]);
          clearTimeout(timer);
        }
        return exit;
      })();
      return stopping;
    },
    killNow() {
      if (!exited) signalGroup(pid, 'SIGKILL');
    },
  };
}

/** Describes how a process ended: `with code 1`, `by signal SIGKILL`. */
export function describeExit(status: ExitStatus): string {
  return status.code !== null ? `with code ${status.code}` : `by signal ${status.signal ?? 'unknown'}`;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** What happened: `answered 200`, `answered 503`, `connect ECONNREFUSED 127.0.0.1:4001`, `no answer within 2000 ms`. */
  readonly detail: string;
}

/** One GET on `host:port` + `path` (a fresh connection, body discarded): ok when the answer is 200. */
export function probe(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = http.request({ host, port, path, method: 'GET', agent: false }, (res) => {
      res.resume();
      finish({ ok: res.statusCode === 200, detail: `answered ${res.statusCode}` });
    });
    const timer = setTimeout(() => {
      finish({ ok: false, detail: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => finish({ ok: false, detail: err.message }));
    req.end();
  });
}

/** A loopback port free right now (bound, then released) for the command to listen on. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
