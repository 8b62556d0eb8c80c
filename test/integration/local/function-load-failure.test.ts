/**
 * ProcessCluster and a model server that stays up but can never become ready: the real server on a function model
 * whose `load` throws (test/fixtures/models/function/load-fails). Its IPC `failed` message with `alive: true` fails
 * the revision at once with the server's reason, while the process lives until the revision is removed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessCluster, type ProcessClusterEvent } from '../../../adapters/local/process-cluster.js';
import { eventually, isAlive, pidOf, revisionSpec, settle } from './helpers.js';

const LOAD_FAILS = new URL('../../fixtures/models/function/load-fails/', import.meta.url);
const REASON = 'model failed to load: load() in index.mjs failed: cannot reach the feature store at 10.0.0.1:6379';

describe('ProcessCluster: a model server that reports failed while alive', () => {
  const events: ProcessClusterEvent[] = [];
  const cluster = new ProcessCluster({ healthIntervalMs: 20, onEvent: (e) => events.push(e) });
  const spec = (number: number) =>
    revisionSpec(
      `scorer-1-r${number}`,
      {},
      { model: 'scorer', number, modelType: 'function', artifactUri: LOAD_FAILS.href, modelFile: 'index.mjs' },
    );

  afterAll(() => cluster.shutdown());

  it('fails the revision with the server reason while the process still runs, then removes it', async () => {
    const r1 = spec(1);
    await cluster.applyRevision(r1);
    expect(await settle(cluster, r1)).toEqual({ state: 'failed', reason: REASON });
    const pid = pidOf(cluster, r1.name);
    expect(isAlive(pid)).toBe(true);
    expect(cluster.list().revisions).toEqual([
      expect.objectContaining({ name: r1.name, state: 'failed', reason: REASON }),
    ]);
    expect(cluster.resolveVersion('proj', 'scorer', 1)).toBeUndefined();
    expect(events.filter((e) => e.type === 'failed')).toEqual([
      { type: 'failed', revision: `proj/${r1.name}`, reason: REASON },
    ]);
    const logs = await cluster.revisionLogs(r1, { tail: 5 });
    expect(logs.some((l) => l.includes(`"msg":${JSON.stringify(REASON)}`))).toBe(true);

    await cluster.deleteRevision(r1);
    expect(isAlive(pid)).toBe(false);
    expect(cluster.list().revisions).toEqual([]);
    expect(await cluster.revisionStatus(r1)).toEqual({ state: 'absent' });
    // Reported once: the exit after removal is not a second failure.
    expect(events.filter((e) => e.type === 'failed')).toHaveLength(1);
  });

  it('replaces a failed, still running revision when it is applied again', async () => {
    const r2 = spec(2);
    await cluster.applyRevision(r2);
    expect((await settle(cluster, r2)).state).toBe('failed');
    const first = pidOf(cluster, r2.name);
    await cluster.applyRevision(r2);
    await eventually(() => !isAlive(first));
    expect(pidOf(cluster, r2.name)).not.toBe(first);
    expect(await settle(cluster, r2)).toEqual({ state: 'failed', reason: REASON });
  });
});
