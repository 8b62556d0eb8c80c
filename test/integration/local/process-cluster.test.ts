import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, type ProcessClusterEvent } from '../../../adapters/local/process-cluster.js';
import { eventually, FAKE_COMMAND, isAlive, pidOf, revisionSpec, settle } from './helpers.js';

const clusters: ProcessCluster[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'merlin-process-cluster-'));

function newCluster(options: ConstructorParameters<typeof ProcessCluster>[0] = {}): ProcessCluster {
  const cluster = new ProcessCluster({ command: FAKE_COMMAND, healthIntervalMs: 20, ...options });
  clusters.push(cluster);
  return cluster;
}

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ProcessCluster', () => {
  it('spawns a revision that becomes ready, and applying it again is a no-op', async () => {
    const events: ProcessClusterEvent[] = [];
    const cluster = newCluster({ onEvent: (e) => events.push(e) });
    const spec = revisionSpec('iris-1-r1');
    await cluster.applyRevision(spec);
    expect((await cluster.revisionStatus(spec)).state).toMatch(/^(starting|ready)$/);
    expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
    const pid = pidOf(cluster, 'iris-1-r1');
    await cluster.applyRevision(spec);
    expect(cluster.list().revisions).toHaveLength(1);
    expect(pidOf(cluster, 'iris-1-r1')).toBe(pid);
    expect(events.map((e) => e.type)).toEqual(['spawned', 'listening', 'ready']);
    const logs = await cluster.revisionLogs(spec, { tail: 10 });
    expect(logs.some((l) => l.includes('"msg":"ready"'))).toBe(true);
  });

  it('gives the model server the platform variables, which user variables cannot override', async () => {
    process.env.MERLIN_TEST_PLATFORM_SECRET = 'not for model servers';
    const cluster = newCluster({ baseEnv: { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1' } });
    const spec = revisionSpec(
      'iris-1-r1',
      { MODEL_NAME: 'evil', PORT: '80', HOST: '0.0.0.0', ARTIFACT_URI: 's3://other/', USER_FLAG: 'on' },
      { version: 7, artifactUri: 'file:///models/iris/', modelFile: 'iris.onnx' },
    );
    await cluster.applyRevision(spec);
    expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
    const target = cluster.resolveVersion('proj', 'iris', 7);
    expect(target).toBeUndefined(); // not routed yet
    await cluster.routeVersion({ project: 'proj', model: 'iris', version: 7 }, spec);
    const ready = cluster.resolveVersion('proj', 'iris', 7);
    expect(ready).toMatchObject({ host: '127.0.0.1', version: 7, revision: 'iris-1-r1' });
    const env = (await (await fetch(`http://127.0.0.1:${ready?.port}/__env`)).json()) as Record<string, string>;
    expect(env).toMatchObject({
      MODEL_NAME: 'iris',
      MODEL_VERSION: '7',
      MODEL_TYPE: 'onnx',
      ARTIFACT_URI: 'file:///models/iris/',
      MODEL_FILE: 'iris.onnx',
      PORT: '0',
      HOST: '127.0.0.1',
      USER_FLAG: 'on',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      AWS_REGION: 'us-east-1',
    });
    expect(env.MERLIN_TEST_PLATFORM_SECRET).toBeUndefined();
    delete process.env.MERLIN_TEST_PLATFORM_SECRET;
  });

  it('waits for a change without polling and answers starting when none comes', async () => {
    const cluster = newCluster();
    const readyFile = join(tmp, 'ready-1');
    const spec = revisionSpec('iris-1-r1', { FAKE_READY_FILE: readyFile });
    await cluster.applyRevision(spec);
    expect(await cluster.revisionStatus(spec, { waitMs: 50 })).toMatchObject({ state: 'starting' });
    // A wait longer than the test timeout: only an event can end it.
    const waiting = cluster.revisionStatus(spec, { waitMs: 600_000 });
    await eventually(() => cluster.list().revisions[0]?.port !== undefined);
    writeFileSync(readyFile, '');
    expect(await waiting).toEqual({ state: 'ready' });
  });

  it('confirms readiness over HTTP when the server never sends the IPC ready', async () => {
    const cluster = newCluster();
    const spec = revisionSpec('iris-1-r1', { FAKE_NO_IPC_READY: '1', FAKE_READY_DELAY_MS: '100' });
    await cluster.applyRevision(spec);
    expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
  });

  it('stays starting while the port is unknown', async () => {
    const cluster = newCluster();
    const spec = revisionSpec('iris-1-r1', { FAKE_NO_IPC: '1' });
    await cluster.applyRevision(spec);
    expect(await cluster.revisionStatus(spec, { waitMs: 200 })).toEqual({
      state: 'starting',
      reason: 'waiting for the model server to listen',
    });
  });

  it('reports a load failure with the exit code and the message of the last log line', async () => {
    const cluster = newCluster();
    const spec = revisionSpec('iris-1-r1', { FAKE_FAIL_LOAD: "no such file 'model.onnx'" });
    await cluster.applyRevision(spec);
    expect(await settle(cluster, spec)).toEqual({
      state: 'failed',
      reason: "model server exited with code 1: model failed to load: no such file 'model.onnx'",
    });
    const logs = await cluster.revisionLogs(spec, { tail: 1 });
    expect(JSON.parse(logs[0] ?? '{}')).toMatchObject({ level: 'error' });
  });

  it('reports an uncaught exception by its error line, not the stack trace', async () => {
    const cluster = newCluster();
    const spec = revisionSpec('iris-1-r1', { FAKE_THROW_ON_START: 'cannot parse config' });
    await cluster.applyRevision(spec);
    expect(await settle(cluster, spec)).toEqual({
      state: 'failed',
      reason: 'model server exited with code 1: Error: cannot parse config',
    });
  });

  it('reports a crash after ready as unexpected and stops routing to it', async () => {
    const cluster = newCluster();
    const spec = revisionSpec('iris-1-r1');
    await cluster.applyRevision(spec);
    await cluster.routeVersion({ project: 'proj', model: 'iris', version: 1 }, spec);
    expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
    const target = cluster.resolveVersion('proj', 'iris', 1);
    expect(target).toBeDefined();
    await fetch(`http://127.0.0.1:${target?.port}/__crash?code=3`, { method: 'POST', body: 'out of memory' }).catch(
      () => undefined,
    );
    await eventually(async () => (await cluster.revisionStatus(spec)).state !== 'ready');
    expect(await cluster.revisionStatus(spec)).toEqual({
      state: 'failed',
      reason: 'model server exited unexpectedly with code 3: out of memory',
    });
    expect(cluster.resolveVersion('proj', 'iris', 1)).toBeUndefined();
  });

  it('reports a spawn error by its message', async () => {
    const cluster = newCluster({ command: [join(tmp, 'no-such-program')] });
    const spec = revisionSpec('iris-1-r1');
    await cluster.applyRevision(spec);
    const status = await settle(cluster, spec);
    expect(status.state).toBe('failed');
    expect(status.state === 'failed' && status.reason).toContain('ENOENT');
  });

  it('replaces a failed revision when it is applied again', async () => {
    const cluster = newCluster();
    const readyFile = join(tmp, 'ready-retry');
    const failing = revisionSpec('iris-1-r1', { FAKE_FAIL_LOAD: 'flaky', FAKE_READY_FILE: readyFile });
    await cluster.applyRevision(failing);
    expect((await settle(cluster, failing)).state).toBe('failed');
    const fixed = revisionSpec('iris-1-r1');
    await cluster.applyRevision(fixed);
    expect(await settle(cluster, fixed)).toEqual({ state: 'ready' });
  });

  it('deletes a revision: the process exits, the status is absent, routes to it resolve to nothing', async () => {
    const cluster = newCluster();
    const spec = revisionSpec('iris-1-r1');
    await cluster.applyRevision(spec);
    await cluster.routeVersion({ project: 'proj', model: 'iris', version: 1 }, spec);
    await cluster.applyModelRoute({ project: 'proj', model: 'iris' }, { destinations: [{ version: 1, weight: 100 }] });
    expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
    const pid = pidOf(cluster, 'iris-1-r1');
    expect(cluster.resolveModel('proj', 'iris')?.destinations[0]?.target).toBeDefined();

    await cluster.deleteRevision(spec);
    expect(isAlive(pid)).toBe(false);
    expect(await cluster.revisionStatus(spec, { waitMs: 100 })).toEqual({ state: 'absent' });
    expect(cluster.resolveVersion('proj', 'iris', 1)).toBeUndefined();
    expect(cluster.resolveModel('proj', 'iris')?.destinations[0]).toEqual({
      version: 1,
      weight: 100,
      target: undefined,
    });
    // The logs of a removed revision stay readable (a failed deploy removes its revision).
    expect((await cluster.revisionLogs(spec, { tail: 100 })).some((l) => l.includes('draining'))).toBe(true);
    await expect(cluster.deleteRevision(spec)).resolves.toBeUndefined();
    await expect(cluster.deleteRevision(revisionSpec('never-existed'))).resolves.toBeUndefined();
  });

  it('escalates to SIGKILL when a model server ignores SIGTERM', async () => {
    const cluster = newCluster({ stopTimeoutMs: 200 });
    const spec = revisionSpec('iris-1-r1', { FAKE_IGNORE_SIGTERM: '1' });
    await cluster.applyRevision(spec);
    expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
    const pid = pidOf(cluster, 'iris-1-r1');
    await cluster.deleteRevision(spec);
    expect(isAlive(pid)).toBe(false);
    expect((await cluster.revisionLogs(spec, { tail: 100 })).some((l) => l.includes('ignoring SIGTERM'))).toBe(true);
  });

  it('deletes a revision that is still starting', async () => {
    const cluster = newCluster();
    const spec = revisionSpec('iris-1-r1', { FAKE_READY_FILE: join(tmp, 'never') });
    await cluster.applyRevision(spec);
    const waiting = cluster.revisionStatus(spec, { waitMs: 600_000 });
    await eventually(() => cluster.list().revisions[0]?.pid !== undefined);
    const pid = pidOf(cluster, 'iris-1-r1');
    await cluster.deleteRevision(spec);
    expect(await waiting).toEqual({ state: 'absent' });
    expect(isAlive(pid)).toBe(false);
  });

  it('resolves model routes through the version routes at request time', async () => {
    const cluster = newCluster();
    const r1 = revisionSpec('iris-1-r1');
    const r2 = revisionSpec('iris-1-r2', {}, { number: 2 });
    await cluster.applyRevision(r1);
    await cluster.applyRevision(r2);
    await settle(cluster, r1);
    await settle(cluster, r2);
    await cluster.applyModelRoute(
      { project: 'proj', model: 'iris' },
      { destinations: [{ version: 1, weight: 100 }], mirror: { version: 2, percent: 5 } },
    );
    expect(cluster.resolveModel('proj', 'iris')).toEqual({
      destinations: [{ version: 1, weight: 100, target: undefined }],
      mirror: { version: 2, percent: 5, target: undefined },
    });
    await cluster.routeVersion({ project: 'proj', model: 'iris', version: 1 }, r1);
    expect(cluster.resolveModel('proj', 'iris')?.destinations[0]?.target?.revision).toBe('iris-1-r1');
    await cluster.routeVersion({ project: 'proj', model: 'iris', version: 1 }, r2);
    expect(cluster.resolveModel('proj', 'iris')?.destinations[0]?.target?.revision).toBe('iris-1-r2');
    await cluster.unrouteVersion({ project: 'proj', model: 'iris', version: 1 });
    expect(cluster.resolveModel('proj', 'iris')?.destinations[0]?.target).toBeUndefined();
    await cluster.deleteModelRoute({ project: 'proj', model: 'iris' });
    expect(cluster.resolveModel('proj', 'iris')).toBeUndefined();
    await cluster.unrouteVersion({ project: 'proj', model: 'iris', version: 1 });
    await cluster.deleteModelRoute({ project: 'proj', model: 'iris' });
  });

  it('shuts down every child and accepts no new revision afterwards', async () => {
    const cluster = newCluster({ stopTimeoutMs: 300 });
    const specs = [
      revisionSpec('iris-1-r1'),
      revisionSpec('iris-2-r1', {}, { version: 2 }),
      revisionSpec('iris-3-r1', { FAKE_IGNORE_SIGTERM: '1' }, { version: 3 }),
      revisionSpec('iris-4-r1', { FAKE_READY_FILE: join(tmp, 'never') }, { version: 4 }),
    ];
    for (const spec of specs) await cluster.applyRevision(spec);
    for (const spec of specs.slice(0, 3)) await settle(cluster, spec);
    await eventually(() => cluster.list().revisions.every((r) => r.pid !== undefined));
    const pids = specs.map((s) => pidOf(cluster, s.name));
    await cluster.shutdown();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(cluster.list().revisions).toEqual([]);
    await expect(cluster.applyRevision(revisionSpec('late'))).rejects.toThrow(/shutting down/);
  });

  it('leaves no model server behind when the platform process is killed', async () => {
    const parentScript = fileURLToPath(new URL('./orphan-parent.ts', import.meta.url));
    const parent = spawn(process.execPath, ['--import', 'tsx', parentScript], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    try {
      await eventually(() => /pid=(\d+)/.test(output), 1_000);
      expect(output).toContain('state=ready');
      const pid = Number(/pid=(\d+)/.exec(output)?.[1]);
      expect(isAlive(pid)).toBe(true);
      parent.kill('SIGKILL');
      await eventually(() => !isAlive(pid), 500);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
