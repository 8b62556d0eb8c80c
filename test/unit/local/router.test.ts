import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRouter,
  hashRouteKey,
  type ModelRoute,
  parseServingPath,
  pickDestination,
  type RouterHandler,
  type RouteTable,
  type VersionTarget,
} from '../../../serving/router.js';

describe('parseServingPath', () => {
  it('parses version endpoint paths', () => {
    expect(parseServingPath('/p/m/versions/3/v1/models/iris:predict')).toEqual({
      kind: 'version',
      project: 'p',
      model: 'm',
      version: '3',
      rest: '/v1/models/iris:predict',
    });
    expect(parseServingPath('/p/m/versions/12')).toEqual({
      kind: 'version',
      project: 'p',
      model: 'm',
      version: '12',
      rest: '/',
    });
    expect(parseServingPath('/p/m/versions/abc/v2')).toMatchObject({ kind: 'version', version: 'abc', rest: '/v2' });
  });

  it('parses model endpoint paths', () => {
    expect(parseServingPath('/p/m/v2/models/iris/infer')).toEqual({
      kind: 'model',
      project: 'p',
      model: 'm',
      rest: '/v2/models/iris/infer',
    });
    expect(parseServingPath('/p/m')).toEqual({ kind: 'model', project: 'p', model: 'm', rest: '/' });
    expect(parseServingPath('/p/m/')).toEqual({ kind: 'model', project: 'p', model: 'm', rest: '/' });
    // `versions` only counts as a whole segment.
    expect(parseServingPath('/p/m/versionsx/1')).toMatchObject({ kind: 'model', rest: '/versionsx/1' });
  });

  it('rejects paths that name no project and model', () => {
    for (const path of ['', '/', '/p', '/p/', '//m/x', 'p/m', '/p/m/versions', '/p/m/versions/']) {
      expect(parseServingPath(path), path).toBeUndefined();
    }
  });
});

describe('route choice', () => {
  const destinations = [
    { version: 1, weight: 70 },
    { version: 2, weight: 20 },
    { version: 3, weight: 0 },
    { version: 4, weight: 10 },
  ];

  function shares(pick: (i: number) => { version: number } | undefined, n: number): Map<number, number> {
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const v = pick(i)?.version ?? -1;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return new Map([...counts].map(([v, c]) => [v, (100 * c) / n]));
  }

  it('splits keyed traffic in proportion to the weights', () => {
    const s = shares((i) => pickDestination(destinations, `customer-${i}`), 2_000);
    expect(Math.abs((s.get(1) ?? 0) - 70)).toBeLessThanOrEqual(3);
    expect(Math.abs((s.get(2) ?? 0) - 20)).toBeLessThanOrEqual(3);
    expect(Math.abs((s.get(4) ?? 0) - 10)).toBeLessThanOrEqual(3);
    expect(s.get(3)).toBeUndefined();
  });

  it('splits unkeyed traffic in proportion to the weights', () => {
    // A seeded generator (mulberry32) keeps the test reproducible.
    let seed = 42;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const s = shares(() => pickDestination(destinations, undefined, random), 2_000);
    expect(Math.abs((s.get(1) ?? 0) - 70)).toBeLessThanOrEqual(3);
    expect(Math.abs((s.get(2) ?? 0) - 20)).toBeLessThanOrEqual(3);
    expect(Math.abs((s.get(4) ?? 0) - 10)).toBeLessThanOrEqual(3);
  });

  it('sends the same key to the same destination while the rule is unchanged', () => {
    for (let i = 0; i < 200; i++) {
      const key = `user-${i}`;
      const first = pickDestination(destinations, key, () => 0);
      for (let j = 0; j < 5; j++) expect(pickDestination(destinations, key, Math.random)).toBe(first);
    }
    expect(hashRouteKey('user-1')).toBe(hashRouteKey('user-1'));
    expect(hashRouteKey('user-1')).not.toBe(hashRouteKey('user-2'));
  });

  it('never picks a zero weight, and picks nothing when all weights are zero', () => {
    expect(pickDestination([{ version: 1, weight: 0 }], 'k')).toBeUndefined();
    expect(pickDestination([], undefined)).toBeUndefined();
    const only = [
      { version: 1, weight: 0 },
      { version: 2, weight: 100 },
    ];
    for (const r of [0, 0.5, 0.999999]) expect(pickDestination(only, undefined, () => r)?.version).toBe(2);
  });
});

/** An upstream that echoes what it received. */
function echoServer(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        body: Buffer.concat(chunks).toString('utf8'),
        host: req.headers.host,
        connection: req.headers.connection,
        custom: req.headers['x-custom'] ?? null,
        shadow: req.headers['x-merlin-shadow'] ?? null,
      });
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes', 'x-model-version': 'stale' });
      res.end(body);
    });
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('createRouter', () => {
  const upstream = echoServer();
  const front = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    handler(req, res, url.startsWith('/serving') ? url.slice('/serving'.length).split('?')[0]! : url);
  });
  let handler: RouterHandler;
  let base: string;
  let upstreamPort: number;
  let deadPort: number;
  let table: RouteTable;
  const mirrored: string[] = [];
  const mirrorServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      mirrored.push(`${req.method} ${req.url} ${body} shadow=${req.headers['x-merlin-shadow']}`);
      res.end();
    });
  });
  let mirrorPort: number;

  beforeAll(async () => {
    upstreamPort = await listen(upstream);
    mirrorPort = await listen(mirrorServer);
    const dead = createServer();
    deadPort = await listen(dead);
    await new Promise<void>((r) => dead.close(() => r()));
    const target = (port: number, version: number): VersionTarget => ({
      host: '127.0.0.1',
      port,
      version,
      revision: `m-${version}-r1`,
    });
    const routes: Record<string, ModelRoute> = {
      'p/split': {
        destinations: [
          { version: 1, weight: 50, target: target(upstreamPort, 1) },
          { version: 2, weight: 50, target: target(upstreamPort, 2) },
        ],
      },
      'p/notready': { destinations: [{ version: 4, weight: 100 }] },
      'p/zero': { destinations: [{ version: 1, weight: 0, target: target(upstreamPort, 1) }] },
      'p/dead': { destinations: [{ version: 5, weight: 100, target: target(deadPort, 5) }] },
      'p/mirror': {
        destinations: [{ version: 1, weight: 100, target: target(upstreamPort, 1) }],
        mirror: { version: 2, percent: 100, target: target(mirrorPort, 2) },
      },
      'p/deadmirror': {
        destinations: [{ version: 1, weight: 100, target: target(upstreamPort, 1) }],
        mirror: { version: 2, percent: 100, target: target(deadPort, 2) },
      },
    };
    table = {
      resolveVersion: (project, model, version) => {
        if (project === 'p' && model === 'm' && version === 3) return target(upstreamPort, 3);
        if (project === 'p' && model === 'm' && version === 9) return target(deadPort, 9);
        if (project === 'boom') throw new Error('table exploded');
        return undefined;
      },
      resolveModel: (project, model) => routes[`${project}/${model}`],
    };
    handler = createRouter(table);
    base = `http://127.0.0.1:${await listen(front)}/serving`;
  });

  afterAll(async () => {
    for (const s of [front, upstream, mirrorServer]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  it('forwards a version path with its query, body, method and headers, and names the version', async () => {
    const res = await fetch(`${base}/p/m/versions/3/v1/models/iris:predict?verbose=1&x=%2F`, {
      method: 'POST',
      body: '{"instances":[[1,2,3,4]]}',
      headers: { 'content-type': 'application/json', 'x-custom': 'kept' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-model-version')).toBe('3');
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(await res.json()).toMatchObject({
      method: 'POST',
      url: '/v1/models/iris:predict?verbose=1&x=%2F',
      body: '{"instances":[[1,2,3,4]]}',
      host: `127.0.0.1:${upstreamPort}`,
      custom: 'kept',
    });
  });

  it('forwards the bare version path as /', async () => {
    const res = await fetch(`${base}/p/m/versions/3`);
    expect(await res.json()).toMatchObject({ method: 'GET', url: '/', body: '' });
  });

  it('takes the query from the path argument when the caller kept it there', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve) => {
      const server = createServer((req, r) => createRouter(table)(req, r, '/p/m/versions/3/v2/health/ready?a=b'));
      void listen(server).then(async (port) => {
        const answer = await fetch(`http://127.0.0.1:${port}/anything?ignored=1`);
        resolve({ status: answer.status, body: await answer.text() });
        server.closeAllConnections();
        server.close();
      });
    });
    expect(JSON.parse(res.body)).toMatchObject({ url: '/v2/health/ready?a=b' });
  });

  it('answers 404 naming what is missing', async () => {
    const cases: [string, string][] = [
      ['/p/unknown/v2/models/x/infer', 'no model endpoint for p/unknown in this environment'],
      ['/p/m/versions/7/v2/health/ready', 'no ready version endpoint for p/m version 7 in this environment'],
      ['/p/m/versions/x1/v2', 'no ready version endpoint for p/m version x1 in this environment'],
      ['/p', "no model named in the path '/p': expected /{project}/{model}/..."],
    ];
    for (const [path, error] of cases) {
      const res = await fetch(`${base}${path}`, { method: 'POST', body: '{}' });
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual({ error });
    }
  });

  it('answers 503 when the chosen destination is not ready or no weight is positive', async () => {
    let res = await fetch(`${base}/p/notready/v2/models/x/infer`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'version 4 of p/notready is not ready' });
    res = await fetch(`${base}/p/zero/v2/models/x/infer`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'model endpoint p/zero has no destination with a positive weight' });
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    let res = await fetch(`${base}/p/dead/v1/models/x:predict`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /^version 5 of p\/dead is unreachable: .*ECONNREFUSED/,
    );
    res = await fetch(`${base}/p/m/versions/9/v2`);
    expect(res.status).toBe(502);
  });

  it('answers 500 instead of throwing when the route table fails', async () => {
    const res = await fetch(`${base}/boom/m/versions/1/v2`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'router error: table exploded' });
  });

  it('routes model paths by weight, deterministically for a route key, and names the version', async () => {
    const seen = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const key = `k${i}`;
      const first = await fetch(`${base}/p/split/v2/models/x/infer`, {
        method: 'POST',
        body: '{}',
        headers: { 'x-merlin-route-key': key },
      });
      const version = first.headers.get('x-model-version') ?? '';
      await first.arrayBuffer();
      const again = await fetch(`${base}/p/split/v2/models/x/infer`, {
        method: 'POST',
        body: '{}',
        headers: { 'x-merlin-route-key': key },
      });
      expect(again.headers.get('x-model-version')).toBe(version);
      await again.arrayBuffer();
      seen.set(key, version);
    }
    expect(new Set(seen.values())).toEqual(new Set(['1', '2']));
  });

  it('mirrors a copy of the request and still answers from the destination', async () => {
    mirrored.length = 0;
    const res = await fetch(`${base}/p/mirror/v2/models/x/infer?q=1`, { method: 'POST', body: '{"inputs":[]}' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-model-version')).toBe('1');
    expect(await res.json()).toMatchObject({ body: '{"inputs":[]}', shadow: null });
    for (let i = 0; i < 200 && mirrored.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(mirrored).toEqual(['POST /v2/models/x/infer?q=1 {"inputs":[]} shadow=true']);
  });

  it('never fails the caller when the mirror target is unreachable', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/p/deadmirror/v2/models/x/infer`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(201);
      expect(res.headers.get('x-model-version')).toBe('1');
      await res.arrayBuffer();
    }
  });
});
