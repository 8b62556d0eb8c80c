/**
 * The local router carries out a model endpoint's rule (DESIGN §5), seen from outside: the platform started as a
 * user starts it, three versions of the iris example deployed through the HTTP API, predictions through the model
 * endpoint. Weighted split, sticky route keys, the answering version named in every response, a mirror that gets
 * its share and never hurts the callers (even when hung or dead), and rule switches under load that lose nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, type Reply } from '../helpers/http.js';
import { enableContract } from '../helpers/openapi-contract.js';
import {
  answeredBy,
  IRIS_INSTANCE,
  inParallel,
  ModelApi,
  modelServerPid,
  predictV1,
  spawnPlatformWithConfig,
  v1RequestCount,
} from '../helpers/serving-e2e.js';
import { eventually, freePort, type RunningPlatform } from '../helpers/spawn-platform.js';

const PROJECT = 'routing';
const MODEL = 'iris';

/** Requests that did not answer 200, summarized for the assertion message. */
const failures = (replies: Reply[]) =>
  replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.body)}`);

/** How many replies each version gave. */
function tally(replies: Reply[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of replies) counts.set(answeredBy(r), (counts.get(answeredBy(r)) ?? 0) + 1);
  return counts;
}

describe('e2e: the local router carries out the model endpoint rule', () => {
  let dataDir: string;
  let p: RunningPlatform;
  let m: ModelApi;
  let predictUrl: string;
  let v1: number;
  let v2: number;
  let v3: number;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'merlin-e2e-routing-'));
    // Three active versions (destinations and a mirror) need a limit above Merlin's default of 2.
    p = await spawnPlatformWithConfig({
      port: await freePort(),
      dataDir,
      environments: [{ name: 'local', isDefault: true, cluster: { kind: 'local' }, maxActiveVersionsPerModel: 3 }],
    });
    await enableContract(p.url);
    m = new ModelApi(`${p.url}/v1`, PROJECT, MODEL);
    await m.create();
    v1 = await m.irisVersion();
    v2 = await m.irisVersion();
    v3 = await m.irisVersion();
    await Promise.all([m.deploy(v1), m.deploy(v2), m.deploy(v3)]);
    predictUrl = `${p.url}/serving/${PROJECT}/${MODEL}/v1/models/${MODEL}:predict`;
  }, 90_000);

  afterAll(async () => {
    if (p && p.child.exitCode === null) await p.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('splits 90/10: over 2,000 predictions the shares are within 3 points of the weights', async () => {
    await m.route({
      destinations: [
        { version: v1, weight: 90 },
        { version: v2, weight: 10 },
      ],
    });
    const replies = await inParallel(2_000, 8, () => predictV1(predictUrl));
    expect(failures(replies)).toEqual([]);
    const counts = tally(replies);
    expect([...counts.keys()].sort()).toEqual([v1, v2]);
    const share1 = (100 * (counts.get(v1) ?? 0)) / replies.length;
    const share2 = (100 * (counts.get(v2) ?? 0)) / replies.length;
    expect(Math.abs(share1 - 90), `version ${v1} got ${share1}%`).toBeLessThanOrEqual(3);
    expect(Math.abs(share2 - 10), `version ${v2} got ${share2}%`).toBeLessThanOrEqual(3);
  });

  it('sends the same x-merlin-route-key to the same version every time, and different keys to both', async () => {
    await m.route({
      destinations: [
        { version: v1, weight: 50 },
        { version: v2, weight: 50 },
      ],
    });
    const keys = Array.from({ length: 30 }, (_, i) => `customer-${i}`);
    const perKey = 20;
    const replies = await inParallel(keys.length * perKey, 8, (i) =>
      predictV1(predictUrl, { 'x-merlin-route-key': keys[i % keys.length]! }),
    );
    expect(failures(replies)).toEqual([]);
    const versionsOf = new Map<string, Set<number>>(keys.map((k) => [k, new Set()]));
    for (const [i, r] of replies.entries()) versionsOf.get(keys[i % keys.length]!)!.add(answeredBy(r));
    for (const [key, versions] of versionsOf) expect([...versions], `route key ${key}`).toHaveLength(1);
    const chosen = [...versionsOf.values()].map((s) => [...s][0]);
    expect(new Set(chosen)).toEqual(new Set([v1, v2]));
    // Still sticky after a rule change that keeps the same weights (a fresh Deployment, the same split).
    await m.route({
      destinations: [
        { version: v1, weight: 50 },
        { version: v2, weight: 50 },
      ],
    });
    const again = await inParallel(keys.length, 8, (i) => predictV1(predictUrl, { 'x-merlin-route-key': keys[i]! }));
    expect(again.map(answeredBy)).toEqual(chosen);
  });

  it('names the version that answered: x-model-version header, V1 and V2 model_version', async () => {
    await m.route({
      destinations: [
        { version: v1, weight: 50 },
        { version: v2, weight: 50 },
      ],
    });
    const base = `${p.url}/serving/${PROJECT}/${MODEL}`;
    const v1Replies = await inParallel(100, 4, () => predictV1(`${base}/v1/models/${MODEL}:predict`));
    const v2Replies = await inParallel(100, 4, (i) =>
      http('POST', `${base}/v2/models/${MODEL}/infer`, {
        id: `r${i}`,
        inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: IRIS_INSTANCE }],
      }),
    );
    for (const replies of [v1Replies, v2Replies]) {
      expect(failures(replies)).toEqual([]);
      for (const r of replies) {
        expect([v1, v2]).toContain(answeredBy(r));
        expect(r.body.model_version).toBe(String(answeredBy(r)));
        expect(r.body.model_name).toBe(MODEL);
      }
      expect(new Set(replies.map(answeredBy))).toEqual(new Set([v1, v2]));
    }
    // A version path names its version too, whether or not the rule routes to it.
    const direct = await predictV1(`${base}/versions/${v3}/v1/models/${MODEL}:predict`);
    expect(direct.status).toBe(200);
    expect(answeredBy(direct)).toBe(v3);
    expect(direct.body.model_version).toBe(String(v3));
  });

  it('switches a rule under load (v1 → v2 → v1) without losing a request; after success only the new version answers', async () => {
    await m.route({ destinations: [{ version: v1, weight: 100 }] });
    /** The version whose switch has been seen to succeed, or undefined while a switch is underway. */
    let expected: number | undefined = v1;
    let stop = false;
    const log: { status: number; version: number; expected: number | undefined; body: unknown }[] = [];
    const worker = async () => {
      while (!stop) {
        const atStart = expected;
        const r = await predictV1(predictUrl);
        log.push({ status: r.status, version: answeredBy(r), expected: atStart, body: r.body });
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    const answeredFor = (v: number) => log.filter((e) => e.expected === v).length;
    try {
      await eventually(
        () => answeredFor(v1),
        (n) => n >= 50,
      );
      for (const target of [v2, v1]) {
        const before = answeredFor(target);
        expected = undefined;
        await m.route({ destinations: [{ version: target, weight: 100 }] });
        expected = target;
        await eventually(
          () => answeredFor(target) - before,
          (n) => n >= 100,
        );
      }
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    const failed = log.filter((e) => e.status !== 200);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    const stray = log.filter((e) => e.expected !== undefined && e.version !== e.expected);
    expect(stray, JSON.stringify(stray.slice(0, 5))).toEqual([]);
    // The load really ran across both switches.
    expect(log.filter((e) => e.expected === undefined).length).toBeGreaterThan(0);
    expect(new Set(log.map((e) => e.version))).toEqual(new Set([v1, v2]));
  });

  describe('a mirror', () => {
    const N = 600;

    it('gets about its share of the traffic while callers only ever hear from the destinations', async () => {
      await m.route({
        destinations: [
          { version: v1, weight: 50 },
          { version: v2, weight: 50 },
        ],
        mirror: { version: v3, percent: 50 },
      });
      const before = await v1RequestCount(p, PROJECT, MODEL, v3);
      const replies = await inParallel(N, 8, () => predictV1(predictUrl));
      expect(failures(replies)).toEqual([]);
      expect(new Set(replies.map(answeredBy))).toEqual(new Set([v1, v2]));
      for (const r of replies) expect(r.body.model_version).not.toBe(String(v3));
      // Fire-and-forget: the copies may still be arriving when the callers are done.
      const mirrored = await eventually(
        async () => (await v1RequestCount(p, PROJECT, MODEL, v3)) - before,
        (n) => n >= N * 0.4,
      );
      expect(mirrored).toBeLessThanOrEqual(N * 0.6);
    });

    it('cannot be undeployed while the rule mirrors to it', async () => {
      const r = await http('DELETE', `${m.versionsUrl}/${v3}/endpoints/local`);
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('ENDPOINT_SERVING');
    });

    it('that hangs (SIGSTOP) never holds up the callers: all answered while it is frozen', async () => {
      // Every request copied, more copies than the router keeps sockets per upstream (256): they pile up unanswered.
      await m.route({
        destinations: [
          { version: v1, weight: 50 },
          { version: v2, weight: 50 },
        ],
        mirror: { version: v3, percent: 100 },
      });
      const pid = modelServerPid(p.child.pid!, MODEL, v3);
      expect(pid, 'the mirror version has a model server').toBeDefined();
      process.kill(pid!, 'SIGSTOP');
      try {
        const replies = await inParallel(400, 8, () => predictV1(predictUrl));
        expect(failures(replies)).toEqual([]);
        expect(new Set(replies.map(answeredBy))).toEqual(new Set([v1, v2]));
      } finally {
        process.kill(pid!, 'SIGCONT');
      }
    });

    it('that is dead (SIGKILL) never fails the callers, before or after the platform notices', async () => {
      const pid = modelServerPid(p.child.pid!, MODEL, v3);
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      // At once: the router may still send copies to the dead port.
      const early = await inParallel(200, 8, () => predictV1(predictUrl));
      expect(failures(early)).toEqual([]);
      expect(new Set(early.map(answeredBy))).toEqual(new Set([v1, v2]));
      await eventually(
        () => http('GET', `${m.versionsUrl}/${v3}/endpoints/local`),
        (r) => r.body.status === 'failed',
      );
      const late = await inParallel(200, 8, () => predictV1(predictUrl));
      expect(failures(late)).toEqual([]);
      expect(new Set(late.map(answeredBy))).toEqual(new Set([v1, v2]));
      const me = await http('GET', m.modelEndpointUrl);
      expect(me.body.rule.mirror).toEqual({ version: v3, percent: 100 });
    });
  });
});
