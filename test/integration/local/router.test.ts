import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../../../adapters/local/process-cluster.js';
import type { RevisionSpec } from '../../../core/ports.js';
import { createRouter, pickDestination, type RouteTable } from '../../../serving/router.js';
import { closedPort, eventually, FAKE_COMMAND, isAlive, listen, pidOf, revisionSpec, settle } from './helpers.js';

interface Echo {
  model: string;
  version: string;
  method: string;
  url: string;
  body: string;
}

function front(table: RouteTable): Server {
  const route = createRouter(table);
  return createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (!path.startsWith('/serving/')) {
      res.writeHead(404).end();
      return;
    }
    route(req, res, path.slice('/serving'.length));
  });
}

describe('router over real model server processes', () => {
  const cluster = new ProcessCluster({ command: FAKE_COMMAND, healthIntervalMs: 20 });
  const server = front(cluster);
  let base: string;
  const model = { project: 'proj', model: 'iris' };
  const specs: Record<number, RevisionSpec> = {};

  beforeAll(async () => {
    for (const version of [1, 2, 3]) {
      const spec = revisionSpec(`iris-${version}-r1`, { TAG: `r1` }, { version });
      specs[version] = spec;
      await cluster.applyRevision(spec);
    }
    for (const version of [1, 2, 3]) {
      const spec = specs[version]!;
      expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
      await cluster.routeVersion({ ...model, version }, spec);
    }
    base = `http://127.0.0.1:${await listen(server)}/serving/proj/iris`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await cluster.shutdown();
  });

  it('forwards V1 and V2 version paths and names the version that answered', async () => {
    let res = await fetch(`${base}/versions/1/v1/models/iris:predict?trace=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"instances":[[5.1,3.5,1.4,0.2]]}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('1');
    expect(await res.json()).toMatchObject({
      model: 'iris',
      version: '1',
      method: 'POST',
      url: '/v1/models/iris:predict?trace=1',
      body: '{"instances":[[5.1,3.5,1.4,0.2]]}',
    });

    res = await fetch(`${base}/versions/2/v2/models/iris/infer`, {
      method: 'POST',
      body: '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}',
    });
    expect(res.headers.get('x-model-version')).toBe('2');
    expect(await res.json()).toMatchObject({ version: '2', url: '/v2/models/iris/infer' });

    res = await fetch(`${base}/versions/3/v2/health/ready`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('3');
  });

  it('splits model endpoint traffic by weight, the same way for the same key', async () => {
    const rule = {
      destinations: [
        { version: 1, weight: 80 },
        { version: 2, weight: 20 },
      ],
    };
    await cluster.applyModelRoute(model, rule);
    const counts = new Map<string, number>();
    const n = 300;
    for (let i = 0; i < n; i++) {
      const key = `customer-${i}`;
      const res = await fetch(`${base}/v2/models/iris/infer`, {
        method: 'POST',
        body: '{}',
        headers: { 'x-merlin-route-key': key },
      });
      const answered = res.headers.get('x-model-version') ?? '';
      const echo = (await res.json()) as Echo;
      expect(echo.version).toBe(answered);
      expect(answered).toBe(String(pickDestination(rule.destinations, key)?.version));
      counts.set(answered, (counts.get(answered) ?? 0) + 1);
    }
    expect(Math.abs((100 * (counts.get('1') ?? 0)) / n - 80)).toBeLessThanOrEqual(6);
    expect((counts.get('1') ?? 0) + (counts.get('2') ?? 0)).toBe(n);
  });

  it('follows a redeploy that re-points the version route without re-applying the model route', async () => {
    await cluster.applyModelRoute(model, { destinations: [{ version: 3, weight: 100 }] });
    const r2 = revisionSpec('iris-3-r2', { TAG: 'r2' }, { version: 3, number: 2 });
    await cluster.applyRevision(r2);
    expect(await settle(cluster, r2)).toEqual({ state: 'ready' });
    const tagOf = async () => ((await (await fetch(`${base}/__env`)).json()) as Record<string, string>)['TAG'];
    expect(await tagOf()).toBe('r1');
    await cluster.routeVersion({ ...model, version: 3 }, r2);
    expect(await tagOf()).toBe('r2');
    await cluster.deleteRevision(specs[3]!);
    expect(await tagOf()).toBe('r2');
  });

  it('answers 404 for unknown models and versions, 503 for a destination that is not ready', async () => {
    let res = await fetch(`http://${new URL(base).host}/serving/proj/nope/v2/models/nope/infer`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no model endpoint for proj/nope in this environment' });
    res = await fetch(`${base}/versions/42/v2/health/ready`);
    expect(res.status).toBe(404);
    await cluster.applyModelRoute(model, { destinations: [{ version: 42, weight: 100 }] });
    res = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'version 42 of proj/iris is not ready' });
  });

  it('mirrors to a shadow version without ever failing or holding up the caller', async () => {
    await cluster.applyModelRoute(model, {
      destinations: [{ version: 1, weight: 100 }],
      mirror: { version: 2, percent: 100 },
    });
    const shadowPort = cluster.resolveVersion('proj', 'iris', 2)!.port;
    const shadowRequests = async () =>
      (await (await fetch(`http://127.0.0.1:${shadowPort}/__requests`)).json()) as {
        url: string;
        body: string;
        shadow: string | null;
      }[];
    const before = (await shadowRequests()).length;
    const res = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: '{"inputs":"mirrored"}' });
    expect(res.headers.get('x-model-version')).toBe('1');
    expect(((await res.json()) as Echo).version).toBe('1');
    await eventually(async () => (await shadowRequests()).length > before);
    expect((await shadowRequests()).at(-1)).toEqual({
      method: 'POST',
      url: '/v2/models/iris/infer',
      body: '{"inputs":"mirrored"}',
      shadow: 'true',
    });

    // A hung shadow (stopped process: connections are accepted, never answered) does not hold up the caller.
    const shadowPid = pidOf(cluster, 'iris-2-r1');
    process.kill(shadowPid, 'SIGSTOP');
    try {
      for (let i = 0; i < 5; i++) {
        const answer = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: '{}' });
        expect(answer.status).toBe(200);
        expect(answer.headers.get('x-model-version')).toBe('1');
        await answer.arrayBuffer();
      }
    } finally {
      process.kill(shadowPid, 'SIGKILL');
    }
    // A dead shadow neither.
    await eventually(() => !isAlive(shadowPid));
    for (let i = 0; i < 5; i++) {
      const answer = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: '{}' });
      expect(answer.status).toBe(200);
      await answer.arrayBuffer();
    }
  });

  it('does not fail the caller when the mirror connection is refused', async () => {
    const dead = await closedPort();
    const table: RouteTable = {
      resolveVersion: (p, m, v) => cluster.resolveVersion(p, m, v),
      resolveModel: () => ({
        destinations: [{ version: 1, weight: 100, target: cluster.resolveVersion('proj', 'iris', 1) }],
        mirror: { version: 9, percent: 100, target: { host: '127.0.0.1', port: dead, revision: 'gone' } },
      }),
    };
    const other = front(table);
    const port = await listen(other);
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/serving/proj/iris/v1/models/iris:predict`, {
          method: 'POST',
          body: '{"instances":[[1,2,3,4]]}',
        });
        expect(res.status).toBe(200);
        expect(((await res.json()) as Echo).version).toBe('1');
      }
    } finally {
      other.closeAllConnections();
      await new Promise<void>((r) => other.close(() => r()));
    }
  });
});
