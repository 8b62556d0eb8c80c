/**
 * The SDK in node: `createMerlin` is the `Merlin` client with what only node has — files and directories read from
 * disk for `logModel({ path })`, streaming SHA-256 from node:crypto, and authentication chosen from the environment:
 *
 * - a bearer token (`token`, or `MERLIN_TOKEN`) when given: an API Gateway JWT authorizer;
 * - SigV4 with the AWS credential chain (env, profile, SSO, IMDS…) when the URL is an API Gateway URL
 *   (`*.execute-api.<region>.amazonaws.com`) or `auth: 'sigv4'` is asked for (a custom domain in front of an IAM-
 *   authorized API: give the `region` too, else `AWS_REGION` / `AWS_DEFAULT_REGION`);
 * - nothing otherwise: the local platform.
 *
 * `auth` forces one: `'sigv4'`, `'bearer'` (a token is then required), `'none'`; `'auto'` (default) picks as above.
 *
 * `@smithy/signature-v4` and `@aws-sdk/credential-provider-node` are imported only when SigV4 is used.
 */
import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
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
 * relative to it, `/`-separated, dot-files and `node_modules` left out), in a stable order. A symbolic link in the
 * directory is followed: a link to a file is uploaded as that file (under the link's name), a link to a directory
 * is walked; a link to nothing (dangling) or to something else (a socket…) is an error naming it.
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
  const walk = async (dir: string, seen: Set<string>) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (SKIPPED.has(e.name) || e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      const name = relative(path, full).split(sep).join('/');
      if (e.isDirectory()) await walk(full, seen);
      else if (e.isFile()) out.push(diskFile(full, name, (await stat(full)).size));
      else if (e.isSymbolicLink()) {
        let target: Awaited<ReturnType<typeof stat>>;
        try {
          target = await stat(full);
        } catch (err) {
          const code = (err as { code?: string }).code;
          throw new MerlinError(
            code === 'ENOENT'
              ? `${full}: a symbolic link to nothing (dangling): remove it or fix its target`
              : `${full}: ${(err as Error).message}`,
          );
        }
        if (target.isFile()) out.push(diskFile(full, name, target.size));
        else if (target.isDirectory()) {
          // A link to a directory it is in would walk forever.
          const real = await realpath(full);
          if (seen.has(real)) throw new MerlinError(`${full}: a symbolic link to a directory it is in (a cycle)`);
          await walk(full, new Set([...seen, real]));
        } else throw new MerlinError(`${full}: a symbolic link to something that is neither a file nor a directory`);
      } else throw new MerlinError(`${full} is neither a file nor a directory (a socket, a FIFO…): move it out`);
    }
  };
  await walk(path, new Set([await realpath(path)]));
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
        // The query as sent, each name and value decoded once (a `+` stays a `+`: it is not form encoding); the
        // signer encodes them again as RFC 3986 wants, as the client sends them (see `request` in client.ts).
        const query: Record<string, string | string[]> = {};
        for (const part of url.search.slice(1).split('&')) {
          if (!part) continue;
          const at = part.indexOf('=');
          const k = decode(at < 0 ? part : part.slice(0, at));
          const v = at < 0 ? '' : decode(part.slice(at + 1));
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

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a malformed escape: signed as it is
  }
};

const API_GATEWAY_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/;

export const AUTH_MODES = ['auto', 'sigv4', 'bearer', 'none'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export interface NodeMerlinOptions extends Omit<MerlinOptions, 'auth'> {
  /** `auto` (default): a token if given, SigV4 for API Gateway URLs, else none. */
  auth?: AuthMode | Authenticator | undefined;
  /** SigV4 region (default: the one in the API Gateway host name, else `AWS_REGION`, else `AWS_DEFAULT_REGION`). */
  region?: string | undefined;
  /** SigV4 credentials (default: the AWS SDK's default chain). */
  credentials?: SigV4Options['credentials'];
}

/** How `url` is authenticated (see the module comment). Empty strings count as not given. */
export function authFor(
  o: Pick<NodeMerlinOptions, 'url' | 'token' | 'auth' | 'region' | 'credentials'>,
): Authenticator | undefined {
  if (typeof o.auth === 'function') return o.auth;
  const mode = o.auth ?? 'auto';
  if (!AUTH_MODES.includes(mode)) {
    throw new MerlinError(`auth must be one of ${AUTH_MODES.join(', ')}, got "${mode}"`);
  }
  if (mode === 'none') return undefined;
  const token = o.token || process.env.MERLIN_TOKEN || undefined;
  if (mode === 'bearer') {
    if (!token)
      throw new MerlinError('bearer authentication needs a token: pass --token (or `token`), or set MERLIN_TOKEN');
    return bearer(token);
  }
  if (token && mode === 'auto') return bearer(token);
  const host = new URL(o.url || 'http://127.0.0.1').hostname;
  const apiGatewayRegion = API_GATEWAY_HOST.exec(host)?.[1];
  if (mode === 'sigv4' || apiGatewayRegion) {
    const region =
      o.region || apiGatewayRegion || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined;
    if (!region) {
      throw new MerlinError(
        `SigV4 needs the API's region (${host} does not name one): pass --region (or \`region\`), or set AWS_REGION`,
      );
    }
    return sigv4({ region, ...(o.credentials && { credentials: o.credentials }) });
  }
  return undefined;
}

/**
 * A `Merlin` client for node (see the module comment). `url` defaults to `MERLIN_URL` (when not empty), then the
 * local platform.
 */
export function createMerlin(o: NodeMerlinOptions = {}): Merlin {
  const url = o.url || process.env.MERLIN_URL || undefined;
  const { auth: _auth, region: _region, credentials: _credentials, ...rest } = o;
  return new Merlin({
    sha256: nodeSha256,
    readFiles: filesFrom,
    ...rest,
    url,
    auth: authFor({ ...o, url }),
  });
}
