/**
 * Loopback stand-ins for the two AWS calls behind EKS access, so the gateway's auth runs for real without AWS:
 *
 * - EKS `DescribeCluster` (REST-JSON `GET /clusters/{name}`): answers the fake API server's URL and a CA for the
 *   clusters it knows, `ResourceNotFoundException` otherwise.
 * - STS `GetCallerIdentity` via a presigned GET URL, as the EKS authenticator calls it: the stub verifies the SigV4
 *   query signature itself (canonical request, string to sign and signing key computed here with node:crypto, not
 *   with the SDK), that `host` and `x-k8s-aws-id` are signed, that the caller sends the `x-k8s-aws-id` of the cluster,
 *   and that the URL is not older than 15 minutes.
 *
 * `verifyToken` does what the cluster's authenticator does with a bearer token: decode, call STS, accept or refuse.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface StsCheck {
  ok: boolean;
  reason?: string;
  arn?: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Independent SigV4 presigned-URL check (AWS docs, "Authenticating requests: using query parameters"). */
export function verifyPresignedGet(
  url: URL,
  headers: Record<string, string | undefined>,
  credentials: StubCredentials,
  now: Date,
): StsCheck {
  const q = url.searchParams;
  const need = (k: string) => q.get(k) ?? '';
  if (need('Action') !== 'GetCallerIdentity' || need('Version') !== '2011-06-15') {
    return { ok: false, reason: 'not a GetCallerIdentity call' };
  }
  if (need('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return { ok: false, reason: 'wrong algorithm' };
  const [akid, date, region, service, terminator] = need('X-Amz-Credential').split('/');
  if (akid !== credentials.accessKeyId) return { ok: false, reason: `unknown access key ${akid}` };
  if (service !== 'sts' || terminator !== 'aws4_request' || !region || !date)
    return { ok: false, reason: 'bad credential scope' };
  if ((credentials.sessionToken ?? '') !== (q.get('X-Amz-Security-Token') ?? ''))
    return { ok: false, reason: 'bad session token' };
  const amzDate = need('X-Amz-Date');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(date)) return { ok: false, reason: 'bad X-Amz-Date' };
  const signedAt = Date.parse(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  if (now.getTime() - signedAt > 15 * 60_000) return { ok: false, reason: 'token expired (older than 15 minutes)' };
  const expires = Number(need('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 0 || expires > 60)
    return { ok: false, reason: 'X-Amz-Expires must be 0..60' };
  const signed = need('X-Amz-SignedHeaders').split(';');
  if (!signed.includes('host') || !signed.includes('x-k8s-aws-id')) {
    return { ok: false, reason: `signed headers ${signed.join(';')} lack host or x-k8s-aws-id` };
  }
  const params = [...q.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signed.map((h) => `${h}:${(headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = ['GET', url.pathname, params, canonicalHeaders, signed.join(';'), sha256('')].join('\n');
  const scope = `${date}/${region}/sts/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), 'sts'), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  if (signature !== need('X-Amz-Signature')) return { ok: false, reason: 'signature does not match' };
  return { ok: true, arn: `arn:aws:sts::000000000000:assumed-role/merlin-workflow/${akid}` };
}

export interface AwsStubOptions {
  credentials: StubCredentials;
  /** Cluster name → the API server URL DescribeCluster answers. */
  clusters: Record<string, string>;
}

export class AwsStub {
  /** Every DescribeCluster call, by cluster name. */
  readonly describeCalls: string[] = [];
  /** Every STS call with the stub's verdict. */
  readonly stsCalls: (StsCheck & { clusterId: string | undefined; url: string })[] = [];
  readonly #server: Server;
  readonly #options: AwsStubOptions;
  url = '';

  private constructor(options: AwsStubOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  static async start(options: AwsStubOptions): Promise<AwsStub> {
    const stub = new AwsStub(options);
    await new Promise<void>((r) => stub.#server.listen(0, '127.0.0.1', r));
    stub.url = `http://127.0.0.1:${(stub.#server.address() as AddressInfo).port}`;
    return stub;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  /** What the EKS authenticator does with a bearer token: decode it and call its presigned URL with the cluster id. */
  async verifyToken(token: string, clusterId: string): Promise<StsCheck> {
    if (!token.startsWith('k8s-aws-v1.')) return { ok: false, reason: 'not an EKS token' };
    const b64 = token.slice('k8s-aws-v1.'.length);
    if (b64.includes('=')) return { ok: false, reason: 'padded base64' };
    const url = Buffer.from(b64, 'base64url').toString('utf8');
    if (!url.startsWith(`${this.url}/?`)) return { ok: false, reason: `token points at ${url.slice(0, 40)}…` };
    const res = await fetch(url, { headers: { 'x-k8s-aws-id': clusterId, accept: 'application/json' } });
    const body = (await res.json()) as {
      GetCallerIdentityResponse?: { GetCallerIdentityResult?: { Arn?: string } };
      Error?: { Message?: string };
    };
    if (res.status !== 200) return { ok: false, reason: body.Error?.Message ?? `STS answered ${res.status}` };
    const arn = body.GetCallerIdentityResponse?.GetCallerIdentityResult?.Arn;
    return { ok: true, ...(arn && { arn }) };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const json = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const cluster = /^\/clusters\/([^/]+)$/.exec(url.pathname)?.[1];
    if (req.method === 'GET' && cluster !== undefined) {
      const name = decodeURIComponent(cluster);
      this.describeCalls.push(name);
      const server = this.#options.clusters[name];
      if (!server) {
        json(
          404,
          { message: `No cluster found for name: ${name}.` },
          { 'x-amzn-errortype': 'ResourceNotFoundException' },
        );
        return;
      }
      json(200, {
        cluster: {
          name,
          arn: `arn:aws:eks:us-east-1:000000000000:cluster/${name}`,
          endpoint: server,
          status: 'ACTIVE',
          version: '1.31',
          certificateAuthority: {
            data: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB-fake-ca\n-----END CERTIFICATE-----\n').toString(
              'base64',
            ),
          },
        },
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/' && url.searchParams.get('Action') === 'GetCallerIdentity') {
      const clusterId = req.headers['x-k8s-aws-id'] as string | undefined;
      const check = verifyPresignedGet(
        url,
        { host: req.headers.host, 'x-k8s-aws-id': clusterId },
        this.#options.credentials,
        new Date(),
      );
      this.stsCalls.push({ ...check, clusterId, url: url.href });
      if (!check.ok) {
        json(403, { Error: { Code: 'SignatureDoesNotMatch', Message: check.reason } });
        return;
      }
      json(200, {
        GetCallerIdentityResponse: {
          GetCallerIdentityResult: { Arn: check.arn, Account: '000000000000', UserId: 'AROAFAKE:merlin' },
        },
      });
      return;
    }
    json(400, { message: `unexpected ${req.method} ${url.pathname}` });
  }
}
