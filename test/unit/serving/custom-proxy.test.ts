/**
 * The custom model's proxy: header handling as pure functions, then the proxy in this process in front of a small
 * upstream server on loopback (what is passed on, what is answered here, failures).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../serving/custom-process.js';
import {
  type CustomProxy,
  createCustomProxy,
  requestHeaders,
  responseHeaders,
  type Upstream,
} from '../../../serving/custom-proxy.js';

describe('requestHeaders', () => {
  it('should keep end-to-end headers as sent (case, order, repeats) and host', () => {
    expect(
      requestHeaders(['Host', 'a:1', 'X-Trace', 't1', 'x-trace', 't2', 'Content-Type', 'application/json']),
    ).toEqual(['Host', 'a:1', 'X-Trace', 't1', 'x-trace', 't2', 'Content-Type', 'application/json']);
  });

  it('should drop hop-by-hop headers, those named by Connection, and expect', () => {
    expect(
      requestHeaders([
        'Connection',
        'keep-alive, X-Hop',
        'Keep-Alive',
        'timeout=5',
        'X-Hop',
        'gone',
        'Transfer-Encoding',
        'chunked',
        'TE',
        'trailers',
        'Upgrade',
        'h2c',
        'Proxy-Authorization',
        'Basic x',
        'Expect',
        '100-continue',
        'Content-Length',
        '12',
        'Authorization',
        'Bearer t',
      ]),
    ).toEqual(['Content-Length', '12', 'Authorization', 'Bearer t']);
  });
});

describe('responseHeaders', () => {
  it('should add x-model-version when the command did not send one', () => {
    expect(responseHeaders(['Content-Type', 'application/json', 'Content-Length', '2'], '3', false)).toEqual([
      'Content-Type',
      'application/json',
      'Content-Length',
      '2',
      'x-model-version',
      '3',
    ]);
  });

  it("should keep the command's own x-model-version", () => {
    expect(responseHeaders(['X-Model-Version', 'mine'], '3', false)).toEqual(['X-Model-Version', 'mine']);
  });

  it('should drop hop-by-hop headers and keep repeats (set-cookie)', () => {
    expect(
      responseHeaders(
        [
          'Connection',
          'keep-alive',
          'Keep-Alive',
          'timeout=5',
          'Transfer-Encoding',
          'chunked',
          'Set-Cookie',
          'a=1',
          'Set-Cookie',
          'b=2',
        ],
        '3',
        false,
      ),
    ).toEqual(['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'x-model-version', '3']);
  });

  it('should close the connection while draining', () => {
    expect(responseHeaders([], '3', true)).toEqual(['x-model-version', '3', 'connection', 'close']);
  });
});

/** A stand-in for the user's server. */
function upstreamServer() {
  const received: { method?: string; url?: string; rawHeaders: string[]; body: string }[] = [];
  let healthy = true;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, body });
      if (req.url === '/v2/health/ready') return res.writeHead(healthy ? 200 : 503).end();
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a');
        setTimeout(() => res.end('b'), 10);
        return;
      }
      if (req.url === '/hang') return; // never answers
      if (req.url === '/mine') return res.writeHead(201, { 'x-model-version': 'mine' }).end('{}');
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'x-upstream': 'yes' });
      res.end(JSON.stringify({ echoed: body }));
    });
  });
  return {
    server,
    received,
    setHealthy: (v: boolean) => {
      healthy = v;
    },
  };
}

describe('createCustomProxy', () => {
  const up = upstreamServer();
  let target: Upstream | undefined;
  let proxy: CustomProxy;
  let base: string;

  const make = (o: { requestTimeoutMs?: number } = {}) =>
    createCustomProxy({
      modelName: 'doubler',
      modelVersion: '2',
      upstream: () => target,
      probe: async () => {
        const t = target;
        if (!t) return { ok: false, detail: 'is not running' };
        const res = await fetch(`http://${t.host}:${t.port}/v2/health/ready`);
        return { ok: res.status === 200, detail: `answered ${res.status}` };
      },
      ...o,
    });

  beforeAll(async () => {
    await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', r));
    proxy = make();
    base = `http://127.0.0.1:${await proxy.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await proxy.close();
    up.server.closeAllConnections();
    await new Promise<void>((r) => up.server.close(() => r()));
  });
  const ready = () => {
    target = { host: '127.0.0.1', port: (up.server.address() as AddressInfo).port };
  };

  it('should answer liveness, and 503 for readiness and everything else, before the command is ready', async () => {
    target = undefined;
    const live = await fetch(`${base}/v2/health/live`);
    const readiness = await fetch(`${base}/v2/health/ready`);
    const infer = await fetch(`${base}/v2/models/doubler/infer`, { method: 'POST', body: '{}' });

    expect(live.status).toBe(200);
    expect(await live.text()).toBe('');
    expect(readiness.status).toBe(503);
    expect(infer.status).toBe(503);
    expect(infer.headers.get('x-model-version')).toBe('2');
    expect(await infer.json()).toEqual({ error: "model 'doubler' is not ready" });
    expect(up.received).toEqual([]);
  });

  it('should pass a request on unchanged and add x-model-version to the answer', async () => {
    ready();
    const res = await fetch(`${base}/v1/models/doubler:predict?trace=1&x=%2F`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-caller': 'test' },
      body: '{"instances":[[1,2]]}',
    });

    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('2');
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ echoed: '{"instances":[[1,2]]}' });
    const got = up.received.at(-1);
    expect(got?.method).toBe('POST');
    expect(got?.url).toBe('/v1/models/doubler:predict?trace=1&x=%2F');
    const headers = Object.fromEntries(
      (got?.rawHeaders ?? []).flatMap((v, i, a) => (i % 2 === 0 ? [[v.toLowerCase(), a[i + 1]]] : [])),
    );
    expect(headers).toMatchObject({ 'content-type': 'application/json', 'x-caller': 'test' });
    expect(headers.host).toBe(new URL(base).host);
  });

  it("should keep the command's own x-model-version and status", async () => {
    const res = await fetch(`${base}/mine`);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-model-version')).toBe('mine');
  });

  it('should stream a chunked answer through', async () => {
    const res = await fetch(`${base}/stream`);
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.text()).toBe('ab');
  });

  it('should stream a large request body through', async () => {
    const body = 'x'.repeat(3 * 1024 * 1024);
    const res = await fetch(`${base}/big`, { method: 'PUT', body });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { echoed: string }).echoed.length).toBe(body.length);
  });

  it("should reflect the command's health in /v2/health/ready", async () => {
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    up.setHealthy(false);
    const res = await fetch(`${base}/v2/health/ready`);
    up.setHealthy(true);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: "model 'doubler' is not ready: its server's health check answered 503",
    });
  });

  it('should answer 502 when the command cannot be reached', async () => {
    target = { host: '127.0.0.1', port: await freePort('127.0.0.1') };
    const res = await fetch(`${base}/v2/models/doubler/infer`, { method: 'POST', body: '{}' });
    ready();
    expect(res.status).toBe(502);
    expect(res.headers.get('x-model-version')).toBe('2');
    expect(((await res.json()) as { error: string }).error).toMatch(/^model 'doubler' is unreachable: .*ECONNREFUSED/);
  });

  it('should send a request again, once, when a pooled connection turns out to be closed', async () => {
    // Answers the first request of each connection, and drops the connection at the second one (as a server does
    // when it closes an idle keep-alive connection just as a request is sent on it).
    const perSocket = new WeakMap<object, number>();
    const bodies: string[] = [];
    const flaky = http.createServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1) return void req.socket.destroy();
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        bodies.push(body);
        res.end(body);
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const saved = target;
    target = { host: '127.0.0.1', port: (flaky.address() as AddressInfo).port };

    const first = await fetch(`${base}/x`, { method: 'POST', body: 'one' });
    expect(await first.text()).toBe('one');
    const second = await fetch(`${base}/x`, { method: 'POST', body: 'two' });
    const text = await second.text();

    target = saved;
    flaky.closeAllConnections();
    await new Promise<void>((r) => flaky.close(() => r()));
    expect(second.status).toBe(200);
    expect(text).toBe('two');
    expect(bodies).toEqual(['one', 'two']);
  });

  it('should answer 504 when the command does not answer within REQUEST_TIMEOUT_MS', async () => {
    const timed = make({ requestTimeoutMs: 50 });
    const port = await timed.listen(0, '127.0.0.1');
    const res = await fetch(`http://127.0.0.1:${port}/hang`, { method: 'POST', body: '{}' });
    await timed.close();
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ error: "model 'doubler' did not answer within 50 ms" });
  });

  it('should let in-flight requests finish while draining, and refuse new ones', async () => {
    const draining = make();
    const port = await draining.listen(0, '127.0.0.1');
    const agent = new http.Agent({ keepAlive: true });
    const get = (path: string) =>
      new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path, agent }, (res) => {
            let body = '';
            res.on('data', (c) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
          })
          .on('error', reject);
      });
    // A kept-alive connection, then a streamed answer still in flight.
    expect((await get('/first')).status).toBe(200);
    const slow = get('/stream');
    while (draining.inFlight() === 0) await new Promise((r) => setTimeout(r, 1));
    const drained = draining.drain(5_000);
    const refused = fetch(`http://127.0.0.1:${port}/v2/health/live`).then(
      () => 'answered',
      () => 'refused',
    );
    const answered = await slow;
    await drained;

    expect(answered).toMatchObject({ status: 200, body: 'ab' });
    expect(await refused).toBe('refused');
    expect(draining.inFlight()).toBe(0);
    await draining.close();
    agent.destroy();
  });
});
