import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Deployment } from '../../core/schemas/deployment.js';
import {
  DeploymentFailedError,
  Merlin,
  MerlinApiError,
  MerlinConnectionError,
  MerlinTimeoutError,
  PagedList,
  type ProgressEvent,
} from '../../sdk/index.js';
import { DEFAULT_RETRY, Transport } from '../../sdk/transport.js';
import { putFile, webSha256 } from '../../sdk/upload.js';
import { watchDeployment } from '../../sdk/watch.js';

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** A fetch answering from a script, one entry per call; each entry a Response or an error to throw. */
function scripted(...answers: (Response | Error)[]) {
  const calls: Call[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({
      method: init.method ?? 'GET',
      url,
      headers: init.headers as Record<string, string>,
      body: init.body as string | undefined,
    });
    const next = answers.shift();
    if (!next) throw new Error('no more scripted answers');
    if (next instanceof Error) throw next;
    return next;
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const apiError = (status: number, code: string, message: string, details?: unknown) =>
  json(status, { error: { code, message, ...(details !== undefined && { details }) }, requestId: 'req-1' });
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
const reset = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });

function transport(fetch: typeof globalThis.fetch, sleeps: number[] = []) {
  let n = 0;
  return new Transport({
    fetch,
    retry: DEFAULT_RETRY,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    idempotencyKey: () => `key-${++n}`,
    auth: undefined,
    authOrigin: 'http://api.test',
    headers: {},
  });
}

describe('Transport: retries', () => {
  it('retries a POST on 503 with the same Idempotency-Key and growing backoff', async () => {
    const { fetch, calls } = scripted(
      apiError(503, 'DEPENDENCY_UNAVAILABLE', 'down'),
      apiError(503, 'DEPENDENCY_UNAVAILABLE', 'down'),
      json(201, { name: 'demo' }),
    );
    const sleeps: number[] = [];
    const reply = await transport(fetch, sleeps).json({ method: 'POST', url: 'http://api.test/v1/projects', body: {} });
    expect(reply).toMatchObject({ status: 201, body: { name: 'demo' } });
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.headers['idempotency-key']))).toEqual(new Set(['key-1']));
    expect(sleeps).toEqual([200, 400]);
  });

  it('honours Retry-After on 429, up to maxRetryAfterMs', async () => {
    const { fetch } = scripted(
      apiError(429, 'TOO_MANY_REQUESTS', 'slow down', undefined),
      json(200, { items: [], nextCursor: null }),
    );
    const sleeps: number[] = [];
    const t = transport(fetch, sleeps);
    const r = await t.json({ method: 'GET', url: 'http://api.test/v1/projects' });
    expect(r.status).toBe(200);
    expect(sleeps).toEqual([200]);

    const s2: number[] = [];
    const slow = scripted(
      new Response('{}', { status: 429, headers: { 'retry-after': '3' } }),
      new Response('{}', { status: 429, headers: { 'retry-after': '20' } }),
      new Response('{}', { status: 429, headers: { 'retry-after': '3600' } }),
      json(200, {}),
    );
    await transport(slow.fetch, s2).json({ method: 'GET', url: 'http://api.test/v1/projects' });
    expect(s2).toEqual([3000, 20_000, DEFAULT_RETRY.maxRetryAfterMs]);
    expect(DEFAULT_RETRY.maxRetryAfterMs).toBe(60_000);
  });

  it('retries an IDEMPOTENCY_IN_PROGRESS conflict, but no other 409', async () => {
    const ok = scripted(apiError(409, 'IDEMPOTENCY_IN_PROGRESS', 'wait'), json(201, { name: 'demo' }));
    expect((await transport(ok.fetch).json({ method: 'POST', url: 'http://api.test/v1/projects' })).status).toBe(201);

    const dup = scripted(apiError(409, 'ALREADY_EXISTS', 'project "demo" already exists'));
    const e = await transport(dup.fetch)
      .json({ method: 'POST', url: 'http://api.test/v1/projects' })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MerlinApiError);
    expect(e).toMatchObject({ status: 409, code: 'ALREADY_EXISTS', message: 'project "demo" already exists' });
    expect(dup.calls).toHaveLength(1);
  });

  it('fails at once with the API error on a 4xx, carrying code, message, details and request id', async () => {
    const { fetch, calls } = scripted(
      apiError(400, 'VALIDATION_FAILED', 'body.name: must be 3-50 characters', [{ path: 'name' }]),
    );
    const e = (await transport(fetch)
      .json({ method: 'POST', url: 'http://api.test/v1/projects', body: { name: 'X' } })
      .catch((x: unknown) => x)) as MerlinApiError;
    expect(calls).toHaveLength(1);
    expect(e).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      message: 'body.name: must be 3-50 characters',
      details: [{ path: 'name' }],
      requestId: 'req-1',
      method: 'POST',
    });
  });

  it('retries a PATCH, PUT or DELETE only on 429 and 503, which say the server did not act on it', async () => {
    for (const method of ['PATCH', 'PUT', 'DELETE'] as const) {
      const acted = scripted(apiError(502, 'BAD_GATEWAY', 'bad gateway'));
      await expect(
        transport(acted.fetch).json({ method, url: 'http://api.test/v1/projects/demo', body: {} }),
      ).rejects.toMatchObject({ status: 502, attempts: 1 });
      const timedOut = scripted(apiError(504, 'GATEWAY_TIMEOUT', 'timeout'));
      await expect(
        transport(timedOut.fetch).json({ method, url: 'http://api.test/v1/projects/demo', body: {} }),
      ).rejects.toMatchObject({ status: 504 });
      expect([...acted.calls, ...timedOut.calls]).toHaveLength(2);

      const sleeps: number[] = [];
      const notActed = scripted(
        apiError(503, 'DEPENDENCY_UNAVAILABLE', 'down'),
        new Response('{}', { status: 429, headers: { 'retry-after': '2' } }),
        json(200, { name: 'demo' }),
      );
      const r = await transport(notActed.fetch, sleeps).json({
        method,
        url: 'http://api.test/v1/projects/demo',
        body: {},
        headers: { 'If-Match': '"3"' },
      });
      expect(r.status).toBe(200);
      expect(notActed.calls.map((c) => c.headers['if-match'])).toEqual(['"3"', '"3"', '"3"']);
      expect(sleeps).toEqual([200, 2000]);
    }
  });

  it('does not send a PUT again after a reset connection: the server may have acted on it', async () => {
    // The server carries the PUT out (it starts a deployment), then the connection breaks before the answer.
    let applied = 0;
    const calls: string[] = [];
    const fetch = (async (url: string, init: RequestInit) => {
      calls.push(`${init.method} ${url}`);
      if (init.method === 'PUT') applied++;
      throw reset();
    }) as unknown as typeof globalThis.fetch;
    const e = await transport(fetch)
      .json({ method: 'PUT', url: 'http://api.test/v1/projects/demo/models/iris/endpoints/local', body: {} })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MerlinConnectionError);
    expect((e as Error).message).toBe(
      'cannot reach http://api.test (ECONNRESET); the PUT may have been carried out: check before repeating it',
    );
    expect(applied).toBe(1);
    expect(calls).toHaveLength(1);

    // A refused connection never reached a server: it fails at once too, without the warning.
    const down = scripted(refused());
    await expect(transport(down.fetch).json({ method: 'DELETE', url: 'http://api.test/x' })).rejects.toThrow(
      /^cannot reach http:\/\/api.test \(ECONNREFUSED\)$/,
    );
  });

  it('does not retry a refused connection or an unknown host; retries a reset one; gives up after the retries', async () => {
    const unknownHost = scripted(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }));
    await expect(transport(unknownHost.fetch).json({ method: 'GET', url: 'http://api.test/x' })).rejects.toThrow(
      'cannot reach http://api.test (ENOTFOUND)',
    );
    expect(unknownHost.calls).toHaveLength(1);

    const down = scripted(refused());
    const e = await transport(down.fetch)
      .json({ method: 'GET', url: 'http://api.test/v1/projects' })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MerlinConnectionError);
    expect((e as Error).message).toBe('cannot reach http://api.test (ECONNREFUSED)');
    expect(down.calls).toHaveLength(1);

    const flaky = scripted(reset(), json(200, {}));
    expect((await transport(flaky.fetch).json({ method: 'GET', url: 'http://api.test/x' })).status).toBe(200);

    const gone = scripted(...Array.from({ length: DEFAULT_RETRY.retries + 1 }, () => apiError(503, 'X', 'still down')));
    await expect(transport(gone.fetch).json({ method: 'GET', url: 'http://api.test/x' })).rejects.toMatchObject({
      status: 503,
      message: 'still down',
    });
    expect(gone.calls).toHaveLength(DEFAULT_RETRY.retries + 1);
  });

  it('reads the other error shapes: the data plane, API Gateway, S3', async () => {
    const t = (r: Response) =>
      transport(scripted(r).fetch)
        .json({ method: 'POST', url: 'http://api.test/serving/x', idempotent: true })
        .catch((x: unknown) => x as MerlinApiError);
    expect(await t(json(400, { error: 'input "input": expected shape [-1, 4]' }))).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'input "input": expected shape [-1, 4]',
    });
    expect(await t(json(403, { message: 'Forbidden' }))).toMatchObject({ code: 'FORBIDDEN', message: 'Forbidden' });
    expect(
      await t(
        new Response('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>', { status: 403 }),
      ),
    ).toMatchObject({ code: 'AccessDenied', message: 'Request has expired' });
  });

  it('sends no Idempotency-Key with a prediction, and authenticates only the API origin', async () => {
    const { fetch, calls } = scripted(json(200, {}), json(200, {}));
    const t = new Transport({
      fetch,
      retry: DEFAULT_RETRY,
      sleep: async () => {},
      random: () => 0,
      idempotencyKey: () => 'k',
      auth: async () => ({ authorization: 'Bearer t' }),
      authOrigin: 'http://api.test',
      headers: {},
    });
    await t.json({ method: 'POST', url: 'http://serving.test/p/m/v1/models/m:predict', body: {}, idempotent: true });
    await t.json({ method: 'POST', url: 'http://api.test/v1/projects', body: {} });
    expect(calls[0]?.headers).not.toHaveProperty('idempotency-key');
    expect(calls[0]?.headers).not.toHaveProperty('authorization');
    expect(calls[1]?.headers).toMatchObject({ 'idempotency-key': 'k', authorization: 'Bearer t' });
  });
});

describe('Merlin client', () => {
  it('sends If-Match and the bearer token, and pages through lists', async () => {
    const { fetch, calls } = scripted(
      json(200, { items: [{ name: 'a' }, { name: 'b' }], nextCursor: 'c1' }),
      json(200, { items: [{ name: 'c' }], nextCursor: null }),
      json(200, { name: 'a', revision: 4 }),
    );
    const merlin = new Merlin({ url: 'http://api.test/v1/', token: 'tok', fetch });
    const names: string[] = [];
    for await (const p of merlin.projects.list({ pageSize: 2, search: 'x' })) names.push(p.name);
    expect(names).toEqual(['a', 'b', 'c']);
    await merlin.projects.update('a', { description: 'd' }, { ifMatch: 3 });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET http://api.test/v1/projects?search=x&limit=2',
      'GET http://api.test/v1/projects?search=x&limit=2&cursor=c1',
      'PATCH http://api.test/v1/projects/a',
    ]);
    expect(calls[2]?.headers).toMatchObject({ 'if-match': '"3"', authorization: 'Bearer tok' });
  });

  it('PagedList.all(max) fetches no page beyond the one that reaches max', async () => {
    const fetched: (string | undefined)[] = [];
    const list = new PagedList<number>(async (cursor) => {
      fetched.push(cursor);
      const n = Number(cursor ?? 0);
      return { items: [n, n + 1], nextCursor: n < 10 ? String(n + 2) : null };
    });
    expect(await list.all(3)).toEqual([0, 1, 2]);
    expect(fetched).toEqual([undefined, '2']);
  });
});

const step = (name: string, status: string, startedAt?: string, endedAt?: string, error?: string) => ({
  name,
  status,
  attempts: 0,
  ...(startedAt && { startedAt }),
  ...(endedAt && { endedAt }),
  ...(error && { error }),
});
const deployment = (status: string, steps: ReturnType<typeof step>[], error?: { code: string; message: string }) =>
  ({
    id: '01M8AP4VS0H4ZGCBE7HG61B567',
    kind: 'deploy',
    project: 'demo',
    model: 'iris',
    version: 3,
    environment: 'local',
    status,
    request: {},
    steps,
    ...(error && { error }),
    execution: { workflow: 'deploy-version', name: 'x', arn: 'arn' },
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:00:00.000Z',
    revision: 1,
  }) as Deployment;

describe('watchDeployment', () => {
  const T = (ms: number) => new Date(Date.parse('2026-11-26T10:00:00.000Z') + ms).toISOString();

  it('reports each step once as it starts and as it ends, with the duration the server recorded', async () => {
    const states = [
      deployment('running', [step('Prepare', 'running', T(0)), step('Apply Revision', 'pending')]),
      deployment('running', [step('Prepare', 'running', T(0)), step('Apply Revision', 'pending')]),
      deployment('running', [step('Prepare', 'succeeded', T(0), T(40)), step('Apply Revision', 'running', T(40))]),
      deployment('succeeded', [
        step('Prepare', 'succeeded', T(0), T(40)),
        step('Apply Revision', 'succeeded', T(40), T(1290)),
      ]),
    ];
    const events: ProgressEvent[] = [];
    const sleeps: number[] = [];
    const d = await watchDeployment(
      'id',
      {
        get: async () => states.shift()!,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        now: () => 0,
      },
      { onProgress: (e) => events.push(e) },
    );
    expect(d.status).toBe('succeeded');
    expect(events.map((e) => (e.type === 'step' ? [e.step, e.status, e.durationMs] : []))).toEqual([
      ['Prepare', 'running', undefined],
      ['Prepare', 'succeeded', 40],
      ['Apply Revision', 'running', undefined],
      ['Apply Revision', 'succeeded', 1250],
    ]);
    // short after a change, longer while nothing moves
    expect(sleeps).toEqual([100, 150, 100]);
  });

  it('throws the deployment failure with its reason and failed step', async () => {
    const failed = deployment(
      'failed',
      [step('Prepare', 'succeeded', T(0), T(1)), step('Wait Until Ready', 'failed', T(1), T(5), 'boom')],
      { code: 'RevisionFailed', message: 'model server exited with code 1: model failed to load: bad' },
    );
    const e = (await watchDeployment('id', { get: async () => failed, sleep: async () => {}, now: () => 0 }).catch(
      (x: unknown) => x,
    )) as DeploymentFailedError;
    expect(e).toBeInstanceOf(DeploymentFailedError);
    expect(e.reason).toBe('model server exited with code 1: model failed to load: bad');
    expect(e.step).toBe('Wait Until Ready');
    expect(e.code).toBe('RevisionFailed');
    expect(e.message).toBe(
      'deploy of demo/iris@3 in local failed in step "Wait Until Ready": model server exited with code 1: model failed to load: bad',
    );
  });

  it('gives up after timeoutMs, naming the step it was in', async () => {
    let now = 0;
    const stuck = deployment('running', [
      step('Prepare', 'succeeded', T(0), T(1)),
      step('Wait Until Ready', 'running'),
    ]);
    const e = (await watchDeployment(
      'id',
      {
        get: async () => stuck,
        sleep: async (ms) => {
          now += ms;
        },
        now: () => now,
      },
      { timeoutMs: 5000 },
    ).catch((x: unknown) => x)) as MerlinTimeoutError;
    expect(e).toBeInstanceOf(MerlinTimeoutError);
    expect(e.step).toBe('Wait Until Ready');
    expect(e.message).toContain('did not finish within 5 s. It was in step "Wait Until Ready"');
    expect(now).toBe(5000);
  });
});

describe('putFile', () => {
  it('sends a failed upload again from the start and returns the sha256 of the bytes sent', async () => {
    const bytes = new TextEncoder().encode('hello merlin');
    const file = {
      path: 'model.onnx',
      size: bytes.byteLength,
      async *open() {
        yield bytes.slice(0, 5);
        yield bytes.slice(5);
      },
    };
    const bodies: string[] = [];
    let n = 0;
    const fetch = (async (_url: string, init: RequestInit) => {
      bodies.push(await new Response(init.body as ReadableStream).text());
      if (++n === 1) throw reset();
      return new Response('', { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const progress: [number, number][] = [];
    const sha = await putFile({ url: 'http://s3.test/x', headers: {} }, file, {
      fetch,
      sha256: webSha256,
      retry: DEFAULT_RETRY,
      sleep: async () => {},
      random: () => 0,
      onProgress: (p) => progress.push([p.attempt, p.loaded]),
    });
    expect(sha).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bodies).toEqual(['hello merlin', 'hello merlin']);
    expect(progress).toEqual([
      [0, 5],
      [0, 12],
      [1, 5],
      [1, 12],
    ]);
  });
});
