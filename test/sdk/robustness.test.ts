/**
 * What the SDK must survive: a request that breaks after the server acted on it, a server that does not answer, a
 * caller that gives up, a throttling storage, a failed upload among many, a cursor that does not advance, a browser
 * without `URLSearchParams.size` or `crypto.randomUUID`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Deployment } from '../../core/schemas/deployment.js';
import { randomId } from '../../sdk/client.js';
import {
  Merlin,
  MerlinApiError,
  MerlinConnectionError,
  MerlinError,
  MerlinTimeoutError,
  PagedList,
} from '../../sdk/index.js';
import { DEFAULT_RETRY } from '../../sdk/transport.js';
import { eachLimited, putFile, webSha256 } from '../../sdk/upload.js';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const reset = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });

const ENV = { name: 'local', isDefault: true, cluster: { kind: 'local' }, servingUrl: 'http://serving.test' };
const RULE = { destinations: [{ version: 3, weight: 100 }] };

const routeDeployment = (id: string, status: string, request: Deployment['request']): Deployment =>
  ({
    id,
    kind: 'route',
    project: 'demo',
    model: 'iris',
    environment: 'local',
    status,
    request,
    steps: [],
    execution: { workflow: 'update-route', name: 'x', arn: 'arn' },
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:00:00.000Z',
    revision: 1,
  }) as Deployment;

type Handler = (method: string, path: string, init: RequestInit) => Response | Promise<Response>;

/** A fake API: the environments list, then whatever `handle` answers; every call recorded as `METHOD /path`. */
function api(handle: Handler) {
  const calls: string[] = [];
  const fetch = (async (input: string, init: RequestInit = {}) => {
    const url = new URL(input);
    const method = init.method ?? 'GET';
    calls.push(`${method} ${url.pathname}${url.search}`);
    if (url.pathname === '/v1/environments') return json(200, { items: [ENV], nextCursor: null });
    return handle(method, url.pathname, init);
  }) as unknown as typeof globalThis.fetch;
  const merlin = new Merlin({ url: 'http://api.test', fetch, sleep: async () => {}, random: () => 0 });
  return { merlin, calls };
}

/** A fetch that answers only when its signal aborts (then rejects with the signal's reason). */
const hanging = (init: RequestInit) =>
  new Promise<Response>((_, reject) => {
    const signal = init.signal as AbortSignal;
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

describe('requests that start deployments (PUT, DELETE)', () => {
  it('are not sent again when the connection resets after the server acted: one deployment, a clear error', async () => {
    const started: string[] = [];
    const { merlin, calls } = api((method) => {
      if (method === 'PUT') {
        started.push('route'); // the server acted…
        throw reset(); // …and the answer never came
      }
      return json(404, {});
    });
    const e = await merlin.serveTraffic({ project: 'demo', model: 'iris' }, RULE).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MerlinConnectionError);
    expect((e as Error).message).toMatch(/ECONNRESET\); the PUT may have been carried out: check before repeating it/);
    expect(started).toEqual(['route']);
    expect(calls.filter((c) => c.startsWith('PUT'))).toHaveLength(1);
  });

  it('a retry that meets 409 DEPLOYMENT_IN_PROGRESS follows the deployment it asked for', async () => {
    const d = routeDeployment('01DEP', 'running', { rule: RULE });
    let puts = 0;
    const { merlin, calls } = api((method, path) => {
      if (method === 'PUT') {
        // throttled first (the server did not act), then the retry finds a deployment of this very rule going on
        if (++puts === 1) return json(503, { error: { code: 'DEPENDENCY_UNAVAILABLE', message: 'busy' } });
        return json(409, {
          error: { code: 'DEPLOYMENT_IN_PROGRESS', message: 'in progress', details: { deploymentId: '01DEP' } },
          requestId: 'r',
        });
      }
      if (path === '/v1/deployments/01DEP') return json(200, { ...d, status: 'succeeded' });
      if (path === '/v1/projects/demo/models/iris/endpoints/local') return json(200, { rule: RULE, status: 'active' });
      return json(404, {});
    });
    const me = await merlin.serveTraffic({ project: 'demo', model: 'iris' }, { weights: { 3: 100 } });
    expect(me).toMatchObject({ rule: RULE });
    expect(calls.filter((c) => !c.startsWith('GET /v1/environments'))).toEqual([
      'PUT /v1/projects/demo/models/iris/endpoints/local',
      'PUT /v1/projects/demo/models/iris/endpoints/local',
      'GET /v1/deployments/01DEP',
      'GET /v1/projects/demo/models/iris/endpoints/local',
    ]);
  });

  it('a 409 DEPLOYMENT_IN_PROGRESS of another change, or on the first attempt, is the caller’s to handle', async () => {
    const other = routeDeployment('01OTHER', 'running', { rule: { destinations: [{ version: 2, weight: 100 }] } });
    const conflict = json(409, {
      error: { code: 'DEPLOYMENT_IN_PROGRESS', message: 'in progress', details: { deploymentId: '01OTHER' } },
    });
    let puts = 0;
    const retried = api((method, path) => {
      if (method === 'PUT') return ++puts === 1 ? json(429, {}) : conflict.clone();
      if (path === '/v1/deployments/01OTHER') return json(200, other);
      return json(404, {});
    });
    await expect(retried.merlin.serveTraffic({ project: 'demo', model: 'iris' }, RULE)).rejects.toMatchObject({
      code: 'DEPLOYMENT_IN_PROGRESS',
      attempts: 2,
    });

    const first = api((method) => (method === 'DELETE' ? conflict.clone() : json(404, {})));
    const e = await first.merlin.undeploy({ project: 'demo', model: 'iris', version: 3 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MerlinApiError);
    expect(e).toMatchObject({ code: 'DEPLOYMENT_IN_PROGRESS', attempts: 1 });
    expect(first.calls.filter((c) => c.includes('/deployments/'))).toEqual([]);
  });
});

describe('timeouts and cancellation', () => {
  it('an attempt without an answer times out; a GET is retried, a PUT is not', async () => {
    let gets = 0;
    const fetch = (async (_url: string, init: RequestInit) => {
      if (init.method === 'GET' && ++gets > 1) return json(200, { name: 'demo' });
      return hanging(init);
    }) as unknown as typeof globalThis.fetch;
    const merlin = new Merlin({ url: 'http://api.test', fetch, sleep: async () => {}, requestTimeoutMs: 20 });
    expect(await merlin.projects.get('demo')).toEqual({ name: 'demo' });
    expect(gets).toBe(2);

    const e = await merlin.secrets.put('demo', 's', 'v').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MerlinTimeoutError);
    expect((e as Error).message).toBe(
      'PUT http://api.test/v1/projects/demo/secrets/s: no answer within 20 ms; the PUT may have been carried out: check before repeating it',
    );
  });

  it('the caller’s signal aborts a call, its retries and waits included', async () => {
    const controller = new AbortController();
    let calls = 0;
    const fetch = (async (_url: string, init: RequestInit) => {
      calls++;
      return hanging(init);
    }) as unknown as typeof globalThis.fetch;
    const merlin = new Merlin({ url: 'http://api.test', fetch });
    const p = merlin.request('GET', '/v1/projects', { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(calls).toBe(1);

    // aborted during the wait before a retry
    const waiting = new AbortController();
    const throttled = new Merlin({
      url: 'http://api.test',
      fetch: (async () => json(429, {}, { 'retry-after': '30' })) as unknown as typeof globalThis.fetch,
      sleep: () => {
        waiting.abort(new Error('gave up'));
        return new Promise(() => {}); // a wait that would never end
      },
    });
    await expect(throttled.request('GET', '/v1/projects/demo', { signal: waiting.signal })).rejects.toThrow('gave up');
  });

  it('watching a deployment, a poll that does not answer is cut at the deadline', async () => {
    const fetch = (async (input: string, init: RequestInit) => {
      if (new URL(input).pathname === '/v1/deployments/01DEP') return hanging(init);
      return json(404, {});
    }) as unknown as typeof globalThis.fetch;
    // The per-request timeout (30 s) is far beyond the deadline: the deadline must cut the poll.
    const merlin = new Merlin({ url: 'http://api.test', fetch });
    const e = (await merlin.deployments
      .watch('01DEP', { timeoutMs: 30 })
      .catch((x: unknown) => x)) as MerlinTimeoutError;
    expect(e).toBeInstanceOf(MerlinTimeoutError);
    expect(e.message).toMatch(/^deployment 01DEP could not be read within 0 s/);

    const running = routeDeployment('01DEP', 'running', { rule: RULE });
    const e2 = (await merlin.deployments
      .watch('01DEP', { timeoutMs: 30, initial: running })
      .catch((x: unknown) => x)) as MerlinTimeoutError;
    expect(e2).toBeInstanceOf(MerlinTimeoutError);
    expect(e2.deployment?.id).toBe('01DEP');
    expect(e2.message).toContain('merlin deployments watch 01DEP');
  });
});

describe('uploads', () => {
  /** A file whose reads are counted: `open` and `closed` per attempt. */
  const countedFile = () => {
    const bytes = new TextEncoder().encode('hello merlin');
    const state = { opened: 0, closed: 0 };
    return {
      state,
      file: {
        path: 'model.onnx',
        size: bytes.byteLength,
        async *open() {
          state.opened++;
          try {
            yield bytes.slice(0, 5);
            yield bytes.slice(5);
          } finally {
            state.closed++;
          }
        },
      },
    };
  };

  it('honour S3’s Retry-After (503 SlowDown) and close the file of the refused attempt', async () => {
    const { file, state } = countedFile();
    let n = 0;
    const fetch = (async (_url: string, init: RequestInit) => {
      const reader = (init.body as ReadableStream<Uint8Array>).getReader();
      if (++n === 1) {
        await reader.read(); // S3 answers after the first bytes, without reading the rest
        return new Response('<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>', {
          status: 503,
          headers: { 'retry-after': '7' },
        });
      }
      while (!(await reader.read()).done);
      return new Response('', { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const sleeps: number[] = [];
    await putFile({ url: 'http://s3.test/x', headers: {} }, file, {
      fetch,
      sha256: webSha256,
      retry: DEFAULT_RETRY,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0,
    });
    expect(sleeps).toEqual([7000]);
    expect(state).toEqual({ opened: 2, closed: 2 });
  });

  it('after one file fails, the files not started yet are not uploaded', async () => {
    const started: number[] = [];
    const e = await eachLimited([1, 2, 3, 4, 5, 6], 2, async (i) => {
      started.push(i);
      await Promise.resolve();
      if (i === 2) throw new Error(`upload ${i} failed`);
    }).catch((x: unknown) => x);
    expect((e as Error).message).toBe('upload 2 failed');
    expect(started).toEqual([1, 2, 3]); // 3 started before 2 failed (worker one went on); nothing after
  });
});

describe('browsers', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('sends the cursor without URLSearchParams.size, and stops when a cursor repeats', async () => {
    const size = Object.getOwnPropertyDescriptor(URLSearchParams.prototype, 'size');
    Object.defineProperty(URLSearchParams.prototype, 'size', { get: () => undefined, configurable: true });
    try {
      const urls: string[] = [];
      const fetch = (async (url: string) => {
        urls.push(url);
        return json(200, { items: [{ name: 'p' }], nextCursor: urls.length < 2 ? 'c1' : null });
      }) as unknown as typeof globalThis.fetch;
      const merlin = new Merlin({ url: 'http://api.test', fetch });
      expect(await merlin.projects.list().all()).toHaveLength(2);
      expect(urls).toEqual(['http://api.test/v1/projects', 'http://api.test/v1/projects?cursor=c1']);
    } finally {
      if (size) Object.defineProperty(URLSearchParams.prototype, 'size', size);
    }

    const fetched: (string | undefined)[] = [];
    const stuck = new PagedList<number>(async (cursor) => {
      fetched.push(cursor);
      return { items: [1], nextCursor: 'same' };
    });
    const e = await stuck.all().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MerlinError);
    expect((e as Error).message).toBe('the list returned the cursor "same" twice: stopped paging');
    expect(fetched).toEqual([undefined, 'same']);
  });

  it('makes idempotency keys without crypto.randomUUID (not a secure context)', async () => {
    const real = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: (a: Uint8Array) => real.getRandomValues(a), subtle: real.subtle });
    const a = randomId();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomId()).not.toBe(a);

    const keys: string[] = [];
    const fetch = (async (_url: string, init: RequestInit) => {
      keys.push((init.headers as Record<string, string>)['idempotency-key'] as string);
      return json(201, { name: 'demo' });
    }) as unknown as typeof globalThis.fetch;
    await new Merlin({ url: 'http://api.test', fetch }).projects.create({ name: 'demo' });
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
  });
});
