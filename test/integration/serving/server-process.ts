/**
 * Spawns the real model server as a child process, the way the local cluster does:
 * `node --import tsx serving/main.ts`, PORT=0, stdout/stderr piped, an IPC channel.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const irisDir = fileURLToPath(new URL('../../../examples/iris/', import.meta.url));
export const fixturesDir = fileURLToPath(new URL('../../fixtures/models/', import.meta.url));

export interface LogLine {
  time: string;
  level: 'info' | 'warn' | 'error';
  msg: string;
  [field: string]: unknown;
}

export type ServerMessage = { type: string; port?: number; reason?: string; loadMs?: number };

export interface ServerProcess {
  readonly child: ChildProcess;
  /** Parsed stdout lines. */
  readonly logs: LogLine[];
  /** stdout lines that are not JSON objects (there should be none). */
  readonly rawStdout: string[];
  readonly messages: ServerMessage[];
  stderr(): string;
  /** Resolves with the first IPC message of that type; rejects if the process exits first. */
  message(type: string): Promise<ServerMessage>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port(): number;
  url(path: string): string;
}

const running = new Set<ChildProcess>();

/** Environment for the child: ours plus the basics, without any MODEL_* / AWS_* / NODE_OPTIONS of the test process. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(MODEL_|ARTIFACT_|AWS_|ORT_|SERVING_|NODE_OPTIONS$|PORT$|HOST$|VITEST)/.test(k),
    ),
  );
  return { ...inherited, PORT: '0', HOST: '127.0.0.1', ...env };
}

export function spawnServer(env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'serving/main.ts'], {
    cwd: repoRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  const rawStdout: string[] = [];
  const messages: ServerMessage[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const parsed = JSON.parse(line) as unknown;
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) logs.push(parsed as LogLine);
        else rawStdout.push(line);
      } catch {
        rawStdout.push(line);
      }
      nl = buffered.indexOf('\n');
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.on('message', (m) => messages.push(m as ServerMessage));
  // Resolved once the process exited and stdout/stderr ended (so `logs` is complete). Not 'close': after a
  // parent-side disconnect() node never emits it.
  const ended = (stream: NodeJS.ReadableStream | null) =>
    new Promise<void>((resolve) => {
      if (!stream || (stream as { readableEnded?: boolean }).readableEnded) return resolve();
      stream.once('end', () => resolve());
      stream.once('close', () => resolve());
    });
  const exitStatus = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const exited = Promise.all([exitStatus, ended(child.stdout), ended(child.stderr)]).then(([status]) => status);

  const message = (type: string) =>
    new Promise<ServerMessage>((resolve, reject) => {
      const found = messages.find((m) => m.type === type);
      if (found) return resolve(found);
      const onMessage = (m: unknown) => {
        if ((m as ServerMessage).type === type) {
          child.off('message', onMessage);
          resolve(m as ServerMessage);
        }
      };
      child.on('message', onMessage);
      void exited.then(({ code, signal }) => {
        child.off('message', onMessage);
        reject(
          new Error(
            `server exited (code ${code}, signal ${signal}) before '${type}'; last log: ` +
              `${JSON.stringify(logs.at(-1))}; stderr: ${stderr.slice(-2000)}`,
          ),
        );
      });
    });

  const port = () => {
    const listening = messages.find((m) => m.type === 'listening');
    if (!listening?.port) throw new Error('the server has not reported its port yet');
    return listening.port;
  };

  return {
    child,
    logs,
    rawStdout,
    messages,
    stderr: () => stderr,
    message,
    exited,
    port,
    url: (path) => `http://127.0.0.1:${port()}${path}`,
  };
}

/** Spawns a server and waits until it reports ready. */
export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const server = spawnServer(env);
  await server.message('ready');
  return server;
}

/** Kills every server this test file started and that is still running (SIGKILL, by child handle). */
export async function killAll(): Promise<void> {
  const children = [...running];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

export const irisEnv = (over: Record<string, string> = {}): Record<string, string> => ({
  MODEL_NAME: 'iris',
  MODEL_VERSION: '3',
  MODEL_TYPE: 'onnx',
  ARTIFACT_URI: `file://${irisDir}`,
  ...over,
});

/** fetch that returns status, headers and the parsed JSON body (or the text when it is not JSON). */
export async function call(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body, text };
}

export const post = (url: string, body: unknown) =>
  call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
