/**
 * Model-server lifecycle as the platform sees it: IPC messages, readiness only after warm-up, precise failure
 * reasons with exit code 1, graceful SIGTERM, no orphans when the parent goes away.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  call,
  fixturesDir,
  irisDir,
  irisEnv,
  killAll,
  post,
  repoRoot,
  type ServerProcess,
  spawnServer,
  startServer,
} from './server-process.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'serving-lifecycle-'));
const strayPids: number[] = [];

afterAll(async () => {
  await killAll();
  for (const pid of strayPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

async function eventually<T>(probe: () => T | Promise<T>, what: string, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const waitForLog = (server: ServerProcess, msg: string) =>
  eventually(() => server.logs.find((l) => l.msg === msg), `log line '${msg}'`);

async function expectStartupFailure(server: ServerProcess, reason: string | RegExp) {
  const failed = await server.message('failed').catch(() => undefined);
  const { code } = await server.exited;
  expect(code).toBe(1);
  const last = server.logs.at(-1);
  expect(last?.level).toBe('error');
  if (typeof reason === 'string') expect(last?.msg).toBe(reason);
  else expect(last?.msg).toMatch(reason);
  expect(failed).toEqual({ type: 'failed', reason: last?.msg });
  expect(server.messages.some((m) => m.type === 'ready')).toBe(false);
}

describe('Model server lifecycle: readiness', () => {
  it('should listen first and report ready only after the warm-up inference', async () => {
    const server = spawnServer(irisEnv({ SERVING_TEST_HOLD_WARMUP: '1' }));
    const listening = await server.message('listening');
    expect(listening.port).toBeGreaterThan(0);
    await server.message('loaded');

    // Loaded, not warmed up: live, not ready.
    expect((await call(server.url('/v2/health/live'))).status).toBe(200);
    expect((await call(server.url('/'))).body).toEqual({ status: 'alive' });
    const notReady = await call(server.url('/v2/health/ready'));
    expect(notReady.status).toBe(503);
    expect(notReady.body).toEqual({ error: "model 'iris' is not ready" });
    expect((await call(server.url('/v2/models/iris/ready'))).status).toBe(503);
    const v1 = await call(server.url('/v1/models/iris'));
    expect(v1.status).toBe(503);
    expect(v1.body).toEqual({ name: 'iris', ready: false });
    const infer = await post(server.url('/v1/models/iris:predict'), { instances: [[5.1, 3.5, 1.4, 0.2]] });
    expect(infer.status).toBe(503);
    expect(infer.headers.get('x-model-version')).toBe('3');
    expect(server.logs.map((l) => l.msg)).not.toContain('ready');

    server.child.send({ type: 'warmup' });
    await server.message('ready');
    expect((await call(server.url('/v2/health/ready'))).status).toBe(200);
    expect((await call(server.url('/v1/models/iris'))).body).toEqual({ name: 'iris', ready: true });
    expect(server.messages.map((m) => m.type)).toEqual(['listening', 'loaded', 'ready']);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('should fail, not become ready, when the warm-up inference fails', async () => {
    const server = spawnServer(irisEnv({ ARTIFACT_URI: `file://${fixturesDir}warmup-fails/` }));
    await expectStartupFailure(server, /^model failed to load: warm-up inference failed: .*Reshape/);
  });
});

describe('Model server lifecycle: startup failures exit 1 with a precise reason', () => {
  it('should report an unparseable model', async () => {
    const server = spawnServer(irisEnv({ ARTIFACT_URI: `file://${irisDir}broken/` }));
    await expectStartupFailure(server, /^model failed to load: onnxruntime: .*Protobuf parsing failed/);
  });

  it('should report a missing model file', async () => {
    const server = spawnServer(irisEnv({ ARTIFACT_URI: `file://${tmp}/` }));
    await expectStartupFailure(server, `model failed to load: artifact file model.onnx not found under file://${tmp}/`);
  });

  it('should refuse a model type it cannot serve yet', async () => {
    const server = spawnServer(irisEnv({ MODEL_TYPE: 'tensorflow' }));
    await expectStartupFailure(server, 'model type tensorflow is not supported by this server yet');
  });

  it('should refuse an incomplete configuration', async () => {
    const server = spawnServer(irisEnv({ MODEL_NAME: '' }));
    await expectStartupFailure(server, 'invalid configuration: MODEL_NAME is required');
  });
});

describe('Model server lifecycle: stopping', () => {
  it('should finish an in-flight request on SIGTERM, refuse new connections, and exit 0', async () => {
    const server = await startServer(irisEnv());
    const url = server.url('/v1/models/iris:predict');
    const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });

    // Start a request and hold back the end of its body.
    let inFlightRequest: http.ClientRequest | undefined;
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { 'content-length': String(body.length) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      inFlightRequest = req;
    });
    await eventually(
      async () =>
        (await call(server.url('/metrics'))).text.includes(
          'merlin_inference_requests_in_flight{model="iris",version="3"} 1',
        ),
      'the request to be in flight',
    );

    server.child.kill('SIGTERM');
    await waitForLog(server, 'shutting down');
    await expect(fetch(server.url('/v2/health/live'))).rejects.toThrow();

    inFlightRequest?.end(body.slice(10));
    const answered = await response;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body).predictions).toHaveLength(1);

    const { code } = await server.exited;
    expect(code).toBe(0);
    expect(server.logs.at(-1)?.msg).toBe('stopped');
  });

  it('should exit 0 when its IPC channel disconnects', async () => {
    const server = await startServer(irisEnv());
    server.child.disconnect();
    const { code } = await server.exited;
    expect(code).toBe(0);
    expect(server.logs.at(-1)?.msg).toBe('parent disconnected; exiting');
  });

  it('should not outlive a parent that was killed', async () => {
    // A parent that spawns the server with IPC, reports the server's pid once ready, then waits forever.
    const parentScript = path.join(tmp, 'parent.mjs');
    writeFileSync(
      parentScript,
      `import { spawn } from 'node:child_process';
const child = spawn(process.execPath, ['--import', 'tsx', 'serving/main.ts'], {
  cwd: ${JSON.stringify(repoRoot)},
  env: { PATH: process.env.PATH, MODEL_NAME: 'iris', MODEL_VERSION: '3', ARTIFACT_URI: ${JSON.stringify(`file://${irisDir}`)}, PORT: '0', HOST: '127.0.0.1' },
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
});
child.on('message', (m) => { if (m.type === 'ready') process.stdout.write(JSON.stringify({ pid: child.pid }) + '\\n'); });
setInterval(() => {}, 1000);
`,
    );
    const parent = spawn(process.execPath, [parentScript], { stdio: ['ignore', 'pipe', 'pipe'] });
    const serverPid = await new Promise<number>((resolve, reject) => {
      parent.stdout.setEncoding('utf8');
      parent.stdout.once('data', (line: string) => resolve(JSON.parse(line).pid));
      parent.once('exit', (code) => reject(new Error(`parent exited early with ${code}`)));
    });
    strayPids.push(serverPid);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive(serverPid)).toBe(true);

    parent.kill('SIGKILL');
    await eventually(() => !alive(serverPid), 'the orphaned server to exit');
  });
});
