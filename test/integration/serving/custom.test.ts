/**
 * The real model server with MODEL_TYPE=custom, spawned as the platform spawns it, in front of the fixture user
 * server (test/fixtures/models/custom/server.mjs, plain node:http): both protocols through it, the command's output
 * in the logs, precise startup failures, a command that dies after ready, and no process left behind however the
 * model server ends (SIGTERM, IPC disconnect, SIGKILL).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import {
  call,
  fixturesDir,
  killAll,
  type LogLine,
  post,
  type ServerProcess,
  spawnServer,
  startServer,
} from './server-process.js';

const customDir = `${fixturesDir}custom/`;
const strayPids: number[] = [];

afterAll(async () => {
  await killAll();
  for (const pid of strayPids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const customEnv = (over: Record<string, string> = {}): Record<string, string> => ({
  MODEL_NAME: 'doubler',
  MODEL_VERSION: '2',
  MODEL_TYPE: 'custom',
  ARTIFACT_URI: `file://${customDir}`,
  CUSTOM_COMMAND: JSON.stringify(['node', 'server.mjs']),
  CUSTOM_PROTOCOL: 'v2',
  ...over,
});

/** Gone, or a zombie nobody reaps (this machine's init does not reap orphans): not running either way. */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function eventually<T>(probe: () => T | Promise<T>, what: string, attempts = 800): Promise<NonNullable<T>> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const started = (server: ServerProcess) =>
  eventually(() => server.logs.find((l) => l.msg === 'custom command started'), 'the command to start') as Promise<
    LogLine & { pid: number; port: number }
  >;

const commandLines = (server: ServerProcess) => server.logs.filter((l) => l.source === 'custom');

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

describe('Custom model server: serving through the command', () => {
  let server: ServerProcess;
  afterAll(() => server?.child.kill('SIGTERM'));

  it('should start the command, wait for its health check and report ready', async () => {
    server = await startServer(customEnv({ USER_SETTING: 'kept', MODEL_CACHE_DIR: '/tmp/not-for-the-command' }));

    expect(server.messages.map((m) => m.type)).toEqual(['listening', 'loaded', 'ready']);
    await eventually(() => server.logs.some((l) => l.msg === 'ready'), "the 'ready' line"); // IPC may come first
    const msgs = server.logs.map((l) => l.msg);
    expect(msgs.indexOf('custom command started')).toBeLessThan(msgs.indexOf('ready'));
    expect(await started(server)).toMatchObject({
      command: ['node', 'server.mjs'],
      protocol: 'v2',
      cwd: customDir,
    });
    expect((await call(server.url('/v2/health/ready'))).status).toBe(200);
    expect((await call(server.url('/v2/health/live'))).status).toBe(200);
  });

  it('should answer V2 inference through the command, naming the version in x-model-version', async () => {
    const res = await post(server.url('/v2/models/doubler/infer'), {
      id: 'r1',
      inputs: [{ name: 'x', datatype: 'FP64', shape: [2, 2], data: [1, 2, 3, 4.5] }],
    });

    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('2');
    expect(res.body).toEqual({
      model_name: 'doubler',
      id: 'r1',
      outputs: [{ name: 'x_doubled', datatype: 'FP64', shape: [2, 2], data: [2, 4, 6, 9] }],
    });
    const meta = await call(server.url('/v2/models/doubler'));
    expect(meta.body).toMatchObject({ name: 'doubler', platform: 'custom_fixture' });
  });

  it('should answer V1 predict through the command', async () => {
    const res = await post(server.url('/v1/models/doubler:predict'), {
      instances: [
        [1, 2],
        [3, 4],
      ],
    });

    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('2');
    expect(res.body).toEqual({
      predictions: [
        [2, 4],
        [6, 8],
      ],
    });
    expect((await call(server.url('/v1/models/doubler'))).body).toEqual({ name: 'doubler', ready: true });
  });

  it("should pass the command's own errors, headers and streamed answers through unchanged", async () => {
    const missing = await call(server.url('/v2/models/other/infer'), { method: 'POST', body: '{}' });
    const own = await call(server.url('/__own-version'));
    const stream = await call(server.url('/__stream'));

    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'fixture: no route for POST /v2/models/other/infer' });
    expect(missing.headers.get('x-model-version')).toBe('2');
    expect(own.headers.get('x-model-version')).toBe('custom-own');
    expect(stream.text).toBe('part 1\npart 2\npart 3\n');
    expect(stream.headers.get('x-model-version')).toBe('2');
  });

  it('should give the command PORT, MODEL_NAME, MODEL_VERSION and its artifact directory, not its own settings', async () => {
    const { body } = await call(server.url('/__env'));
    const { env, cwd } = body as { env: Record<string, string>; cwd: string };
    const startedLine = await started(server);

    expect(cwd).toBe(customDir.replace(/\/$/, ''));
    expect(env).toMatchObject({
      PORT: String(startedLine?.port),
      HOST: '127.0.0.1',
      MODEL_NAME: 'doubler',
      MODEL_VERSION: '2',
      MODEL_DIR: customDir,
      CARAML_HTTP_PORT: String(startedLine?.port),
      CARAML_MODEL_FULL_NAME: 'doubler',
      USER_SETTING: 'kept',
    });
    for (const name of ['MODEL_CACHE_DIR', 'CUSTOM_COMMAND', 'CUSTOM_PROTOCOL', 'MODEL_TYPE']) {
      expect(env, name).not.toHaveProperty(name);
    }
    expect(Number(env.PORT)).not.toBe(server.port());
  });

  it("should log the command's stdout and stderr lines as JSON lines with source 'custom'", async () => {
    await eventually(() => commandLines(server).length >= 2, 'both lines');
    const lines = commandLines(server);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        msg: expect.stringMatching(/^fixture listening on 127\.0\.0\.1:\d+ pid=\d+$/),
        model: 'doubler',
        version: '2',
        source: 'custom',
        stream: 'stdout',
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'fixture says hello on stderr', source: 'custom', stream: 'stderr' }),
    );
    expect(server.rawStdout).toEqual([]);
  });

  it("should reflect the command's readiness in its own /v2/health/ready", async () => {
    await post(server.url('/__ready?value=false'), {});
    const notReady = await call(server.url('/v2/health/ready'));
    await post(server.url('/__ready?value=true'), {});

    expect(notReady.status).toBe(503);
    expect(notReady.body).toEqual({
      error: "model 'doubler' is not ready: its server's health check answered 503",
    });
    expect((await call(server.url('/v2/health/ready'))).status).toBe(200);
  });
});

describe('Custom model server: V1 commands', () => {
  it('should check a V1 command with GET /v1/models/{MODEL_NAME} and serve V1 through it', async () => {
    const server = await startServer(customEnv({ CUSTOM_PROTOCOL: 'v1', FIXTURE_PROTOCOL: 'v1' }));
    const predict = await post(server.url('/v1/models/doubler:predict'), { instances: [1.5, 2] });
    const ready = await call(server.url('/v2/health/ready'));
    const v2 = await call(server.url('/v2/health/live'));
    server.child.kill('SIGTERM');
    await server.exited;

    expect(predict.body).toEqual({ predictions: [3, 4] });
    expect(ready.status).toBe(200); // answered by the model server, from the V1 check
    expect(v2.status).toBe(200);
  });
});

describe('Custom model server: examples/custom', () => {
  it('should serve the tips example over V1 and V2 (tip = 0.6689 + 0.0927 × bill + 0.1926 × size)', async () => {
    const exampleDir = new URL('../../../examples/custom/', import.meta.url).pathname;
    const server = await startServer(customEnv({ MODEL_NAME: 'tips', ARTIFACT_URI: `file://${exampleDir}` }));
    const v1 = await post(server.url('/v1/models/tips:predict'), {
      instances: [[24.5, 2], { total_bill: 50, size: 4 }],
    });
    const v2 = await post(server.url('/v2/models/tips/infer'), {
      inputs: [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [2, 2],
          data: [
            [24.5, 2],
            [10, 1],
          ],
        },
      ],
    });
    const bad = await post(server.url('/v1/models/tips:predict'), { instances: [[1]] });
    server.child.kill('SIGTERM');
    await server.exited;

    const predictions = (v1.body as { predictions: number[] }).predictions;
    expect(predictions[0]).toBeCloseTo(3.32525, 12);
    expect(predictions[1]).toBeCloseTo(6.0743, 12);
    const output = (v2.body as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs[0];
    expect(output).toMatchObject({ name: 'tip', shape: [2] });
    expect(output?.data[0]).toBeCloseTo(3.32525, 12);
    expect(output?.data[1]).toBeCloseTo(1.7885, 12);
    expect(v2.headers.get('x-model-version')).toBe('2');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'instance 0 must be 2 numbers [total_bill, size] or an object with those keys' });
  });
});

describe('Custom model server: not ready until the command is', () => {
  it('should stay live but not ready, and pass nothing on, while the health check fails', async () => {
    const server = spawnServer(customEnv({ FIXTURE_NEVER_READY: '1' }));
    const { port } = await started(server);
    await eventually(() => commandLines(server).length >= 2, 'the command to listen');

    const ready = await call(server.url('/v2/health/ready'));
    const infer = await post(server.url('/v2/models/doubler/infer'), { inputs: [] });
    const live = await call(server.url('/v2/health/live'));
    // The command becomes ready: so does the server.
    await fetch(`http://127.0.0.1:${port}/__ready?value=true`, { method: 'POST' });
    await server.message('ready');
    const after = await call(server.url('/v2/health/ready'));
    server.child.kill('SIGTERM');
    await server.exited;

    expect(ready.status).toBe(503);
    expect(infer.status).toBe(503);
    expect(infer.body).toEqual({ error: "model 'doubler' is not ready" });
    expect(live.status).toBe(200);
    expect(after.status).toBe(200);
  });
});

describe('Custom model server: startup failures exit 1 with a precise reason', () => {
  it('should report a command that exits before it is ready, with its last output line', async () => {
    const server = spawnServer(customEnv({ FIXTURE_FAIL_AT_START: 'cannot open weights.bin: no such file' }));
    await expectStartupFailure(
      server,
      'model failed to load: custom command exited with code 1 before it was ready: cannot open weights.bin: no such file',
    );
    expect(commandLines(server).map((l) => l.msg)).toEqual([
      'fixture starting',
      'cannot open weights.bin: no such file',
    ]);
  });

  it('should report a command that throws, with the error rather than the stack trace', async () => {
    const server = spawnServer(
      customEnv({ CUSTOM_COMMAND: JSON.stringify(['node', '-e', 'throw new Error("boom")']) }),
    );
    await expectStartupFailure(
      server,
      /^model failed to load: custom command exited with code 1 before it was ready: Error: boom$/,
    );
  });

  it('should report a program that does not exist', async () => {
    const server = spawnServer(customEnv({ CUSTOM_COMMAND: '["merlin-no-such-program-x1"]' }));
    await expectStartupFailure(
      server,
      'model failed to load: cannot start custom command ["merlin-no-such-program-x1"]: spawn merlin-no-such-program-x1 ENOENT',
    );
  });

  it('should report a command that is not ready in time, with what the health check saw', async () => {
    const server = spawnServer(
      customEnv({ FIXTURE_PROTOCOL: 'v1', CUSTOM_PROTOCOL: 'v2', CUSTOM_START_TIMEOUT_MS: '1500' }),
    );
    const { pid } = await started(server);
    await expectStartupFailure(
      server,
      'model failed to load: custom command was not ready within 1500 ms (GET /v2/health/ready: answered 404); its last output: fixture says hello on stderr',
    );
    expect(isGone(pid)).toBe(true);
  });

  it('should refuse a malformed CUSTOM_COMMAND', async () => {
    const server = spawnServer(customEnv({ CUSTOM_COMMAND: 'node server.mjs' }));
    await expectStartupFailure(server, /^invalid configuration: CUSTOM_COMMAND must be a JSON array of strings/);
  });

  it('should report a missing artifact directory', async () => {
    const server = spawnServer(customEnv({ ARTIFACT_URI: 'file:///nonexistent/merlin-custom/' }));
    await expectStartupFailure(
      server,
      'model failed to load: artifact directory /nonexistent/merlin-custom/ not found (file:///nonexistent/merlin-custom/)',
    );
  });

  it('should check the model file when the version names one', async () => {
    const server = spawnServer(customEnv({ MODEL_FILE: 'weights.bin' }));
    await expectStartupFailure(
      server,
      `model failed to load: artifact file weights.bin not found under file://${customDir}`,
    );
  });
});

describe('Custom model server: the command dies after ready', () => {
  it('should log why and exit non-zero', async () => {
    const server = await startServer(customEnv());
    const { pid } = await started(server);

    await post(server.url('/__crash?code=3'), 'out of memory in the user code').catch(() => undefined);
    const { code } = await server.exited;

    expect(code).toBe(1);
    expect(server.logs.at(-1)).toMatchObject({
      level: 'error',
      msg: 'custom command exited unexpectedly with code 3: out of memory in the user code',
    });
    expect(isGone(pid)).toBe(true);
  });
});

describe('Custom model server: no process left behind', () => {
  it('should stop the command (and what it started) on SIGTERM and exit 0', async () => {
    const server = await startServer(customEnv({ FIXTURE_SPAWN_GRANDCHILD: '1' }));
    const { pid } = await started(server);
    const grandchild = Number(
      (
        await eventually(() => commandLines(server).find((l) => l.msg.startsWith('grandchild pid=')), 'the grandchild')
      ).msg.split('=')[1],
    );
    strayPids.push(pid);
    expect(isGone(pid)).toBe(false);
    expect(isGone(grandchild)).toBe(false);

    server.child.kill('SIGTERM');
    const { code } = await server.exited;

    expect(code).toBe(0);
    expect(server.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'fixture stopping', 'custom command stopped', 'stopped']),
    );
    expect(server.logs.at(-1)?.msg).toBe('stopped');
    expect(isGone(pid)).toBe(true);
    await eventually(() => isGone(grandchild), 'the grandchild to be gone');
  });

  it('should let an in-flight request finish before stopping the command', async () => {
    const server = await startServer(customEnv());
    const slow = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(server.url('/__slow?ms=300'), { method: 'POST' }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('in flight');
    });
    await eventually(
      () => commandLines(server).some((l) => l.msg === 'slow request received: in flight'),
      'the request',
    );

    server.child.kill('SIGTERM');
    const answered = await slow;
    const { code } = await server.exited;

    expect(answered).toEqual({ status: 200, body: '{"slow":true}' });
    expect(code).toBe(0);
  });

  it('should SIGKILL a command that ignores SIGTERM after CUSTOM_STOP_GRACE_MS', async () => {
    const server = await startServer(customEnv({ FIXTURE_IGNORE_SIGTERM: '1', CUSTOM_STOP_GRACE_MS: '200' }));
    const { pid } = await started(server);
    strayPids.push(pid);

    server.child.kill('SIGTERM');
    const { code } = await server.exited;

    expect(code).toBe(0);
    expect(server.logs.find((l) => l.msg === 'custom command stopped')).toMatchObject({
      code: null,
      signal: 'SIGKILL',
    });
    expect(commandLines(server).map((l) => l.msg)).toContain('fixture ignores SIGTERM');
    expect(isGone(pid)).toBe(true);
  });

  it('should stop the command and exit 0 when the IPC channel disconnects', async () => {
    const server = await startServer(customEnv());
    const { pid } = await started(server);
    strayPids.push(pid);

    server.child.disconnect();
    const { code } = await server.exited;

    expect(code).toBe(0);
    expect(server.logs.map((l) => l.msg)).toContain('parent disconnected; exiting');
    expect(isGone(pid)).toBe(true);
  });

  it('should not leave the command running when the model server is killed outright (SIGKILL)', async () => {
    const server = await startServer(customEnv());
    const { pid } = await started(server);
    strayPids.push(pid);

    server.child.kill('SIGKILL');
    await server.exited;

    await eventually(() => isGone(pid), 'the orphaned command to be stopped by the watchdog');
  });
});
