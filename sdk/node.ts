/**
 * The SDK in node: `createMerlin` is the `Merlin` client with what only node has — files and directories read from
 * disk for `logModel({ path })`, streaming SHA-256 from node:crypto, and authentication chosen from the environment:
 *
 * - a bearer token (`token`, or `MERLIN_TOKEN`) when given: an API Gateway JWT authorizer;
 * - SigV4 with the AWS credential chain (env, profile, SSO, IMDS…) when the URL is an API Gateway URL
 *   (`*.execute-api.<region>.amazonaws.com`) or `auth: 'sigv4'` is asked for: IAM authorization;
 * - nothing otherwise: the local platform.
 *
 * `@smithy/signature-v4` and `@aws-sdk/credential-provider-node` are imported only when SigV4 is used.
 */
import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import type { Authenticator, RequestToSign } from './auth.js';
import { bearer } from './auth.js';
import { Merlin, type MerlinOptions } from './client.js';
import { MerlinError } from './errors.js';
import type { ArtifactFile, Sha256Factory } from './upload.js';

export * from './index.js';

/** Streaming SHA-256 (node:crypto): nothing is kept in memory. */
export const nodeSha256: Sha256Factory = () => {
  const h = createHash('sha256');
  return {
    update: (chunk) => {
      h.update(chunk);
    },
    digest: async () => h.digest('hex'),
  };
};

/** Names never uploaded from a directory: VCS and OS clutter, dependencies. */
const SKIPPED = new Set(['.git', '.DS_Store', 'node_modules', '__pycache__', '.ipynb_checkpoints']);

/**
 * The artifact files at `path`: the file itself (named by its base name), or every file under the directory (paths
 * relative to it, `/`-separated, dot-files and `node_modules` left out), in a stable order.
 */
export async function filesFrom(path: string): Promise<ArtifactFile[]> {
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new MerlinError(
      code === 'ENOENT' ? `${path}: no such file or directory` : `${path}: ${(e as Error).message}`,
    );
  }
  if (s.isFile()) return [diskFile(path, basename(path), s.size)];
  if (!s.isDirectory()) throw new MerlinError(`${path} is neither a file nor a directory`);
  const out: ArtifactFile[] = [];
  const walk = async (dir: string) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (SKIPPED.has(e.name) || e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) out.push(diskFile(full, relative(path, full).split(sep).join('/'), (await stat(full)).size));
    }
  };
  await walk(path);
  return out;
}

function diskFile(file: string, path: string, size: number): ArtifactFile {
  return {
    path,
    size,
    open: () => createReadStream(file, { highWaterMark: 256 * 1024 }),
  };
}

export interface SigV4Options {
  region: string;
  /** Default `execute-api`. */
  service?: string;
  /** Default: the AWS SDK's default chain (`@aws-sdk/credential-provider-node`). */
  credentials?:
    | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
    | (() => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>);
  /** The signing time (tests). */
  now?: () => Date;
}

/** The `Checksum` `@smithy/signature-v4` needs, from node:crypto (no extra dependency). */
class NodeSha256 {
  readonly #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#h.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {}
}

const bytesOf = (d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof d === 'string'
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d);

/** SigV4 (IAM authorization on API Gateway): signs method, path, query, host, the body's hash and the time. */
export function sigv4(o: SigV4Options): Authenticator {
  let signer: Promise<{ sign: (r: RequestToSign) => Promise<Record<string, string>> }> | undefined;
  const load = async () => {
    const { SignatureV4 } = await import('@smithy/signature-v4');
    let credentials = o.credentials;
    if (credentials === undefined) {
      const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
      credentials = defaultProvider();
    }
    // No x-amz-content-sha256 header: API Gateway does not need it (the payload hash is signed either way).
    const sv4 = new SignatureV4({
      credentials,
      region: o.region,
      service: o.service ?? 'execute-api',
      sha256: NodeSha256,
      applyChecksum: false,
    });
    return {
      sign: async (r: RequestToSign) => {
        const url = new URL(r.url);
        const query: Record<string, string | string[]> = {};
        for (const [k, v] of url.searchParams) {
          const prev = query[k];
          query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        }
        const signed = await sv4.sign(
          {
            method: r.method,
            protocol: url.protocol,
            hostname: url.hostname,
            ...(url.port && { port: Number(url.port) }),
            // As sent: the signer encodes each segment once more, as SigV4 wants for every service but S3.
            path: url.pathname,
            query,
            headers: { ...r.headers, host: url.host },
            ...(r.body !== undefined && { body: r.body }),
          },
          o.now ? { signingDate: o.now() } : {},
        );
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(signed.headers)) {
          if (k.toLowerCase() !== 'host' && r.headers[k.toLowerCase()] !== v) out[k.toLowerCase()] = v;
        }
        return out;
      },
    };
  };
  return async (r) => {
    signer ??= load();
    signer.catch(() => {
      signer = undefined;
    });
    try {
      return await (await signer).sign(r);
    } catch (e) {
      // e.g. "Could not load credentials from any providers": say what to do instead.
      throw new MerlinError(
        `cannot sign the request with SigV4 (${(e as Error).message}): configure AWS credentials ` +
          '(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO…) or use a bearer token (--token, MERLIN_TOKEN)',
        { cause: e },
      );
    }
  };
}

const API_GATEWAY_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/;

export interface NodeMerlinOptions extends Omit<MerlinOptions, 'auth'> {
  /** `auto` (default): a token if given, SigV4 for API Gateway URLs, else none. */
  auth?: 'auto' | 'none' | 'sigv4' | Authenticator | undefined;
  /** SigV4 region (default: the one in the API Gateway host name, else `AWS_REGION`). */
  region?: string | undefined;
}

/** How `url` is authenticated (see the module comment). */
export function authFor(o: Pick<NodeMerlinOptions, 'url' | 'token' | 'auth' | 'region'>): Authenticator | undefined {
  if (typeof o.auth === 'function') return o.auth;
  if (o.auth === 'none') return undefined;
  const token = o.token ?? process.env.MERLIN_TOKEN;
  if (token && o.auth !== 'sigv4') return bearer(token);
  const host = new URL(o.url ?? 'http://127.0.0.1').hostname;
  const apiGatewayRegion = API_GATEWAY_HOST.exec(host)?.[1];
  if (o.auth === 'sigv4' || apiGatewayRegion) {
    const region = o.region ?? apiGatewayRegion ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) throw new MerlinError('SigV4 needs a region: set AWS_REGION (or pass --region)');
    return sigv4({ region });
  }
  return undefined;
}

/** A `Merlin` client for node (see the module comment). `url` defaults to `MERLIN_URL`, then the local platform. */
export function createMerlin(o: NodeMerlinOptions = {}): Merlin {
  const url = o.url ?? process.env.MERLIN_URL;
  const { auth: _auth, region: _region, ...rest } = o;
  return new Merlin({
    sha256: nodeSha256,
    readFiles: filesFrom,
    ...rest,
    url,
    auth: authFor({ ...o, url }),
  });
}
