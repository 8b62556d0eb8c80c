import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authFor, filesFrom, nodeSha256, sigv4 } from '../../sdk/node.js';

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

describe('authFor', () => {
  it('picks none locally, SigV4 for API Gateway URLs, a bearer token when given', async () => {
    expect(authFor({ url: 'http://127.0.0.1:8080', auth: 'auto' })).toBeUndefined();
    expect(authFor({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod', auth: 'none' })).toBeUndefined();
    const token = authFor({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com', token: 't0k' });
    expect(await token?.({ method: 'GET', url: 'https://x', headers: {}, body: undefined })).toEqual({
      authorization: 'Bearer t0k',
    });
    const iam = authFor({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod' });
    expect(iam).toBeTypeOf('function');
    expect(() => authFor({ url: 'https://api.example.com', auth: 'sigv4' })).toThrow(/region/);
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
});
