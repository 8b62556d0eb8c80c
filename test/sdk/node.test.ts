import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Authenticator, authFor, createMerlin, filesFrom, Merlin, nodeSha256, sigv4 } from '../../sdk/node.js';

/** The AWS SigV4 test suite's credentials and time (aws-sig-v4-test-suite). */
const EXAMPLE = {
  region: 'us-east-1',
  service: 'service',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  now: () => new Date('2015-08-30T12:36:00Z'),
};

describe('sigv4', () => {
  it('signs the test suite’s get-vanilla request as AWS does', async () => {
    const headers = await sigv4(EXAMPLE)({
      method: 'GET',
      url: 'https://example.amazonaws.com/',
      headers: {},
      body: undefined,
    });
    expect(headers).toEqual({
      'x-amz-date': '20150830T123600Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    });
  });

  it('signs the query in canonical order (get-vanilla-query-order-key-case)', async () => {
    const headers = await sigv4(EXAMPLE)({
      method: 'GET',
      url: 'https://example.amazonaws.com/?Param2=value2&Param1=value1',
      headers: {},
      body: undefined,
    });
    expect(headers.authorization).toMatch(
      /Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500$/,
    );
  });

  it('adds the session token of temporary credentials and signs the body and headers sent', async () => {
    const sign = sigv4({ ...EXAMPLE, credentials: { ...EXAMPLE.credentials, sessionToken: 'tok' } });
    const a = await sign({
      method: 'POST',
      url: 'https://example.amazonaws.com/v1/projects',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
      body: '{"name":"demo"}',
    });
    const b = await sign({
      method: 'POST',
      url: 'https://example.amazonaws.com/v1/projects',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
      body: '{"name":"other"}',
    });
    expect(a['x-amz-security-token']).toBe('tok');
    expect(a.authorization).toContain(
      'SignedHeaders=content-type;host;idempotency-key;x-amz-date;x-amz-security-token',
    );
    expect(a.authorization).not.toBe(b.authorization);
  });

  it('says what to do when there are no credentials to sign with', async () => {
    const sign = sigv4({
      ...EXAMPLE,
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
    });
    await expect(
      sign({ method: 'GET', url: 'https://example.amazonaws.com/', headers: {}, body: undefined }),
    ).rejects.toThrow(
      /cannot sign the request with SigV4 \(Could not load credentials from any providers\): configure AWS credentials/,
    );
  });
});

/** SigV4 as the AWS documentation describes it, independently of the SDK's signer: the signature of what is sent. */
function expectedSignature(o: { method: string; url: string; headers: Record<string, string>; body: string }) {
  const url = new URL(o.url);
  const enc = (x: string) =>
    encodeURIComponent(x).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  // every path segment, as sent, encoded once more (all services but S3)
  const path = url.pathname
    .split('/')
    .map((seg) => enc(seg))
    .join('/');
  const query = url.search
    .slice(1)
    .split('&')
    .filter(Boolean)
    .map((p) => p.split('=').map((x) => enc(decodeURIComponent(x))) as [string, string])
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers: Record<string, string> = { ...o.headers, host: url.host };
  // the headers the signature says it covers (what matters here is the path and the query)
  const names = /SignedHeaders=([^,]+)/.exec(o.headers.authorization ?? '')![1]!.split(';');
  const canonical =
    `${o.method}\n${path}\n${query}\n${names.map((k) => `${k}:${headers[k]!.trim()}\n`).join('')}\n` +
    `${names.join(';')}\n${createHash('sha256').update(o.body).digest('hex')}`;
  const date = headers['x-amz-date']!;
  const scope = `${date.slice(0, 8)}/${EXAMPLE.region}/execute-api/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = Buffer.from(`AWS4${EXAMPLE.credentials.secretAccessKey}`);
  for (const part of [date.slice(0, 8), EXAMPLE.region, 'execute-api', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('sigv4 through the client', () => {
  it('signs exactly the path and query sent: a cursor, a label with a space and a colon, an `artifact:` path', async () => {
    const sent: { method: string; url: string; headers: Record<string, string>; body: string }[] = [];
    const pages = [
      { items: [{ version: 1 }], nextCursor: 'eyJ2IjoxfQ+/=' },
      { items: [{ version: 2 }], nextCursor: null },
    ];
    const fetch = (async (url: string, init: RequestInit) => {
      sent.push({
        method: init.method ?? 'GET',
        url,
        headers: init.headers as Record<string, string>,
        body: (init.body as string | undefined) ?? '',
      });
      return new Response(JSON.stringify(url.includes(':upload') ? { uploads: [] } : pages.shift()), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const merlin = new Merlin({
      url: 'https://api.example.com/prod',
      fetch,
      auth: sigv4({ ...EXAMPLE, service: 'execute-api' }),
      idempotencyKey: () => 'k',
    });
    const ref = { project: 'demo', model: 'iris' };
    await merlin.versions.list(ref, { label: { team: 'data science', 'owner(s)': "o'neil*" } }).all();
    await merlin.request('POST', '/v1/projects/demo/models/iris/versions/1/artifact:upload', { body: { files: [] } });
    expect(sent.map((c) => c.url)).toEqual([
      'https://api.example.com/prod/v1/projects/demo/models/iris/versions?label=team%3Adata%20science%2Cowner%28s%29%3Ao%27neil%2A',
      'https://api.example.com/prod/v1/projects/demo/models/iris/versions?label=team%3Adata%20science%2Cowner%28s%29%3Ao%27neil%2A&cursor=eyJ2IjoxfQ%2B%2F%3D',
      'https://api.example.com/prod/v1/projects/demo/models/iris/versions/1/artifact:upload',
    ]);
    for (const c of sent) {
      expect(c.headers.authorization).toMatch(new RegExp(`Signature=${expectedSignature(c)}$`));
    }
  });
});

describe('authFor', () => {
  // Whatever the machine running the tests has set: these tests set what they need.
  beforeEach(() => {
    for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'MERLIN_TOKEN', 'MERLIN_URL']) vi.stubEnv(k, '');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const get = { method: 'GET', url: 'https://x.test/v1/projects', headers: {}, body: undefined };
  /** The `<region>/<service>` of the credential scope the authenticator signed with. */
  const scopeOf = async (auth: Authenticator | undefined) => {
    const headers = await auth?.(get);
    return /Credential=AKIDEXAMPLE\/\d{8}\/([^/]+\/[^/]+)\/aws4_request/.exec(headers?.authorization ?? '')?.[1];
  };
  const credentials = EXAMPLE.credentials;

  it('picks none locally, SigV4 for API Gateway URLs (their region), a bearer token when given', async () => {
    expect(authFor({ url: 'http://127.0.0.1:8080', auth: 'auto' })).toBeUndefined();
    expect(authFor({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod', auth: 'none' })).toBeUndefined();
    const token = authFor({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com', token: 't0k' });
    expect(await token?.(get)).toEqual({ authorization: 'Bearer t0k' });
    vi.stubEnv('AWS_REGION', 'us-west-2'); // the host's region wins
    const iam = authFor({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod', credentials });
    expect(await scopeOf(iam)).toBe('eu-west-1/execute-api');
  });

  it('forces SigV4 on a custom domain with --region, else AWS_REGION, else AWS_DEFAULT_REGION', async () => {
    const url = 'https://api.example.com';
    expect(() => authFor({ url, auth: 'sigv4' })).toThrow(
      "SigV4 needs the API's region (api.example.com does not name one): pass --region (or `region`), or set AWS_REGION",
    );
    expect(await scopeOf(authFor({ url, auth: 'sigv4', region: 'ap-south-1', credentials }))).toBe(
      'ap-south-1/execute-api',
    );
    vi.stubEnv('AWS_DEFAULT_REGION', 'ca-central-1');
    expect(await scopeOf(authFor({ url, auth: 'sigv4', credentials }))).toBe('ca-central-1/execute-api');
    vi.stubEnv('AWS_REGION', 'sa-east-1');
    expect(await scopeOf(authFor({ url, auth: 'sigv4', credentials }))).toBe('sa-east-1/execute-api');
    // SigV4 asked for: a token in the environment does not replace it
    vi.stubEnv('MERLIN_TOKEN', 'env-token');
    expect(await scopeOf(authFor({ url, auth: 'sigv4', credentials }))).toBe('sa-east-1/execute-api');
  });

  it('bearer needs a token; an unknown mode is refused', async () => {
    expect(() => authFor({ url: 'https://api.example.com', auth: 'bearer' })).toThrow(/needs a token/);
    vi.stubEnv('MERLIN_TOKEN', 'env-token');
    expect(await authFor({ url: 'https://api.example.com', auth: 'bearer' })?.(get)).toEqual({
      authorization: 'Bearer env-token',
    });
    expect(() => authFor({ auth: 'iam' as never })).toThrow('auth must be one of auto, sigv4, bearer, none, got "iam"');
  });

  it('createMerlin signs with the default credential chain, and an empty MERLIN_URL means the local platform', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', EXAMPLE.credentials.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    const sent: Record<string, string>[] = [];
    const fetch = (async (_url: string, init: RequestInit) => {
      sent.push(init.headers as Record<string, string>);
      return new Response('{"name":"demo"}', { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const merlin = createMerlin({ url: 'https://api.example.com', auth: 'sigv4', region: 'eu-north-1', fetch });
    await merlin.projects.get('demo');
    expect(sent[0]?.authorization).toMatch(/Credential=AKIDEXAMPLE\/\d{8}\/eu-north-1\/execute-api\/aws4_request/);

    expect(createMerlin().url).toBe('http://127.0.0.1:8080');
    vi.stubEnv('MERLIN_URL', 'http://platform.test:9000');
    expect(createMerlin().url).toBe('http://platform.test:9000');
  });
});

describe('filesFrom', () => {
  const dir = mkdtempSync(join(tmpdir(), 'merlin-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file by its name, a directory recursively without dot-files, in a stable order', async () => {
    mkdirSync(join(dir, 'model/assets'), { recursive: true });
    mkdirSync(join(dir, 'model/.git'));
    writeFileSync(join(dir, 'model/index.mjs'), 'export const predict = (x) => x;');
    writeFileSync(join(dir, 'model/assets/vocab.txt'), 'a\nb\n');
    writeFileSync(join(dir, 'model/.env'), 'SECRET=1');
    writeFileSync(join(dir, 'model/.git/HEAD'), 'ref');
    const files = await filesFrom(join(dir, 'model'));
    expect(files.map((f) => [f.path, f.size])).toEqual([
      ['assets/vocab.txt', 4],
      ['index.mjs', 32],
    ]);
    const one = await filesFrom(join(dir, 'model/index.mjs'));
    expect(one.map((f) => f.path)).toEqual(['index.mjs']);
    const h = nodeSha256();
    for await (const chunk of one[0]!.open()) h.update(chunk);
    expect(await h.digest()).toBe(createHash('sha256').update('export const predict = (x) => x;').digest('hex'));
    await expect(filesFrom(join(dir, 'nope'))).rejects.toThrow(/no such file or directory/);
  });

  it('follows symbolic links: a linked file is uploaded under the link’s name, a dangling link is an error', async () => {
    mkdirSync(join(dir, 'store/shared'), { recursive: true });
    writeFileSync(join(dir, 'store/weights.bin'), '0123456789');
    writeFileSync(join(dir, 'store/shared/tokenizer.json'), '{}');
    mkdirSync(join(dir, 'linked'));
    writeFileSync(join(dir, 'linked/index.mjs'), 'x');
    symlinkSync(join(dir, 'store/weights.bin'), join(dir, 'linked/weights.bin'));
    symlinkSync('../store/shared', join(dir, 'linked/shared'));
    const files = await filesFrom(join(dir, 'linked'));
    expect(files.map((f) => [f.path, f.size])).toEqual([
      ['index.mjs', 1],
      ['shared/tokenizer.json', 2],
      ['weights.bin', 10],
    ]);
    let read = '';
    for await (const chunk of files[2]!.open()) read += Buffer.from(chunk).toString();
    expect(read).toBe('0123456789');

    symlinkSync(join(dir, 'store/gone.bin'), join(dir, 'linked/gone.bin'));
    await expect(filesFrom(join(dir, 'linked'))).rejects.toThrow(
      `${join(dir, 'linked/gone.bin')}: a symbolic link to nothing (dangling)`,
    );
    rmSync(join(dir, 'linked/gone.bin'));
    symlinkSync('..', join(dir, 'linked/loop'));
    await expect(filesFrom(join(dir, 'linked'))).rejects.toThrow(/a cycle/);
  });
});
