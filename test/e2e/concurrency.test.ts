/**
 * Races at the local platform over HTTP: 20 requests at once that each want the same thing. Conditional writes must
 * let exactly one win (or, for version numbers, give each its own), losers get a 409 that says why, and nothing is
 * left half-done: no duplicate entity, no orphan Deployment, no second model server, no rule made of two requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickDestination } from '../../serving/router.js';
import { http, type Reply } from '../helpers/http.js';
import { enableContract } from '../helpers/openapi-contract.js';
import {
  answeredBy,
  type Deployment,
  inParallel,
  ModelApi,
  modelServerPidsOf,
  predictV1,
  type Rule,
  untilDeployment,
} from '../helpers/serving-e2e.js';
import { freePort, type RunningPlatform, spawnPlatform } from '../helpers/spawn-platform.js';

const N = 20;
const PROJECT = 'races';

/** Fires `N` requests at once (each built by `request(i)`) and returns the replies in order. */
const race = (request: (i: number) => Promise<Reply>): Promise<Reply[]> =>
  Promise.all(Array.from({ length: N }, (_, i) => request(i)));

const statuses = (replies: Reply[]) => replies.map((r) => r.status).sort();

describe('e2e: 20 concurrent requests at the local platform', () => {
  let dataDir: string;
  let p: RunningPlatform;
  let api: string;
  let m: ModelApi;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'merlin-e2e-races-'));
    p = await spawnPlatform({ port: await freePort(), dataDir });
    await enableContract(p.url);
    api = `${p.url}/v1`;
    m = new ModelApi(api, PROJECT, 'iris');
    await m.create();
  });

  afterAll(async () => {
    if (p && p.child.exitCode === null) await p.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates of one model name: exactly one 201, the others 409 ALREADY_EXISTS; the winner is stored whole', async () => {
    const replies = await race((i) =>
      http('POST', `${api}/projects/${PROJECT}/models`, {
        name: 'contested',
        type: 'onnx',
        description: `attempt ${i}`,
        labels: { attempt: String(i) },
      }),
    );
    expect(statuses(replies)).toEqual([201, ...Array(N - 1).fill(409)]);
    for (const r of replies.filter((r) => r.status === 409)) {
      expect(r.body.error.code).toBe('ALREADY_EXISTS');
    }
    const winner = replies.findIndex((r) => r.status === 201);
    const list = await http('GET', `${api}/projects/${PROJECT}/models?search=contested&limit=100`);
    expect(list.body.items.map((x: { name: string }) => x.name)).toEqual(['contested']);
    const stored = await http('GET', `${api}/projects/${PROJECT}/models/contested`);
    expect(stored.body).toMatchObject({
      description: `attempt ${winner}`,
      labels: { attempt: String(winner) },
      latestVersion: 0,
    });
  });

  it('creates of versions of one model: 20 distinct numbers 1..20, each version holding its own request', async () => {
    const replies = await race((i) => http('POST', m.versionsUrl, { labels: { attempt: String(i) } }));
    expect(statuses(replies)).toEqual(Array(N).fill(201));
    const numbers = replies.map((r) => r.body.version as number);
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const stored = await inParallel(N, 4, (i) => http('GET', `${m.versionsUrl}/${numbers[i]}`));
    for (const [i, r] of stored.entries()) {
      expect(r.body.labels, `version ${numbers[i]}`).toEqual({ attempt: String(i) });
    }
    const list = await http('GET', `${m.versionsUrl}?limit=100`);
    expect(list.body.items).toHaveLength(N);
    expect((await http('GET', `${api}/projects/${PROJECT}/models/iris`)).body.latestVersion).toBe(N);
    // The counter goes on from there: no reuse.
    expect((await http('POST', m.versionsUrl, {})).body.version).toBe(N + 1);
  });

  it('deploys of one version into one environment: one 202, the others 409; one Deployment, one model server', async () => {
    await m.uploadIris(1);
    const replies = await race(() => http('POST', `${m.versionsUrl}/1/endpoints`, {}));
    expect(statuses(replies)).toEqual([202, ...Array(N - 1).fill(409)]);
    for (const r of replies.filter((r) => r.status === 409)) {
      expect(['DEPLOYMENT_IN_PROGRESS', 'CONCURRENT_CHANGE']).toContain(r.body.error.code);
    }
    const accepted = replies.find((r) => r.status === 202)!.body as Deployment;
    const history = await http('GET', `${m.versionsUrl}/1/endpoints/local/deployments?limit=100`);
    expect(history.body.items.map((d: Deployment) => d.id)).toEqual([accepted.id]);
    expect((await untilDeployment(api, accepted.id)).status).toBe('succeeded');
    expect((await http('GET', `${m.versionsUrl}/1/endpoints/local`)).body.status).toBe('running');
    expect(modelServerPidsOf(p.child.pid!, 'iris', 1)).toHaveLength(1);
    const direct = await predictV1(`${p.url}/serving/${PROJECT}/iris/versions/1/v1/models/iris:predict`);
    expect(direct.status).toBe(200);
  });

  it('deploys of three versions at once against a limit of 2 active versions: two 202, one 409 naming the limit', async () => {
    const limited = new ModelApi(api, PROJECT, 'limited');
    await limited.create();
    const versions = [await limited.irisVersion(), await limited.irisVersion(), await limited.irisVersion()];
    const replies = await Promise.all(versions.map((v) => http('POST', `${limited.versionsUrl}/${v}/endpoints`, {})));
    expect(statuses(replies)).toEqual([202, 202, 409]);
    expect(replies.find((r) => r.status === 409)!.body.error.code).toBe('ACTIVE_LIMIT_REACHED');
    for (const r of replies.filter((r) => r.status === 202)) {
      expect((await untilDeployment(api, r.body.id)).status).toBe('succeeded');
    }
  });

  describe('PUTs of one model endpoint with 20 different rules', () => {
    beforeAll(async () => {
      await m.uploadIris(2);
      await m.deploy(2);
    });

    /** Rule i of a round: weights w/100-w over versions 1 and 2, with w distinct per request and per round. */
    const ruleOf = (round: number, i: number): Rule => {
      const w = 5 * i + round;
      return {
        destinations: [
          { version: 1, weight: w },
          { version: 2, weight: 100 - w },
        ],
      };
    };

    it.each([
      ['creating the model endpoint', 0],
      ['changing the existing model endpoint', 2],
    ])('%s: the stored rule is one accepted request’s, whole, and the router serves it', async (_what, round) => {
      const replies = await race((i) => http('PUT', m.modelEndpointUrl, { rule: ruleOf(round, i) }));
      const acceptedIdx = replies.flatMap((r, i) => (r.status === 202 ? [i] : []));
      expect(acceptedIdx.length).toBeGreaterThanOrEqual(1);
      for (const r of replies.filter((r) => r.status !== 202)) {
        expect(r.status).toBe(409);
        expect(['DEPLOYMENT_IN_PROGRESS', 'CONCURRENT_CHANGE']).toContain(r.body.error.code);
      }
      const ends = await Promise.all(acceptedIdx.map((i) => untilDeployment(api, replies[i]!.body.id)));
      expect(ends.map((d) => d.status)).toEqual(ends.map(() => 'succeeded'));

      const me = await http('GET', m.modelEndpointUrl);
      expect(me.body.status).toBe('serving');
      const stored = me.body.rule as Rule;
      expect(acceptedIdx.map((i) => ruleOf(round, i))).toContainEqual(stored);

      // The router carries out exactly that rule: every route key lands where that rule's split puts it.
      const keys = Array.from({ length: 300 }, (_, i) => `key-${round}-${i}`);
      const expected = keys.map((k) => pickDestination(stored.destinations, k)!.version);
      const served = await inParallel(keys.length, 8, (i) =>
        predictV1(`${p.url}/serving/${PROJECT}/iris/v1/models/iris:predict`, { 'x-merlin-route-key': keys[i]! }),
      );
      expect(served.filter((r) => r.status !== 200)).toEqual([]);
      expect(served.map(answeredBy)).toEqual(expected);
      // …and no other of the 20 rules would have routed these keys the same way.
      for (let i = 0; i < N; i++) {
        const other = ruleOf(round, i);
        if (other.destinations[0]!.weight === stored.destinations[0]!.weight) continue;
        expect(keys.map((k) => pickDestination(other.destinations, k)!.version)).not.toEqual(expected);
      }
    });
  });
});
