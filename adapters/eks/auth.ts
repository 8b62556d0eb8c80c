/**
 * Access to one EKS cluster: its API endpoint and CA from `DescribeCluster`, and bearer tokens made exactly as
 * `aws-iam-authenticator token` / `aws eks get-token` make them: a SigV4-presigned STS `GetCallerIdentity` GET URL
 * whose signed headers include `x-k8s-aws-id: <cluster name>`, encoded as `k8s-aws-v1.` + base64url(url) without
 * padding. The API server's authenticator calls that URL to learn who we are (the IAM role of the function), so no
 * kubeconfig, exec plugin or long-lived secret is involved.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { DependencyError } from '../../core/errors.js';

/** The prefix of every EKS token (aws-iam-authenticator `v1Prefix`). */
export const TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header that binds a token to one cluster; the authenticator refuses tokens signed without it. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** X-Amz-Expires of the presigned URL: 60 s, as aws-iam-authenticator sends (STS itself honours 15 min from X-Amz-Date). */
export const PRESIGN_EXPIRES_SECONDS = 60;
/** A token is reused this long; the server accepts it for 15 minutes after signing, so this leaves a wide margin. */
export const TOKEN_TTL_MS = 10 * 60_000;

/** Static credentials or a provider of them (the SDK's default chain in Lambda: the function's role). */
export type Credentials =
  | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | (() => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>);

type SourceData = string | ArrayBuffer | ArrayBufferView;
const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 / HMAC-SHA-256 for SignatureV4, on node:crypto. */
export class Sha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

/** The regional STS endpoint (aws-iam-authenticator uses regional endpoints). */
export const stsEndpointOf = (region: string): string =>
  `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;

/** RFC 3986 query encoding, as SigV4 canonicalizes it. */
const rfc3986 = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface TokenOptions {
  clusterName: string;
  region: string;
  credentials: Credentials;
  /** Where the presigned URL points (default: the regional STS endpoint). */
  stsEndpoint?: string;
  /** Signing time (default: now). */
  signingDate?: Date;
}

/** The presigned `GetCallerIdentity` URL a token carries. */
export async function presignCallerIdentity(o: TokenOptions): Promise<string> {
  const endpoint = new URL(o.stsEndpoint ?? stsEndpointOf(o.region));
  const signer = new SignatureV4({ service: 'sts', region: o.region, credentials: o.credentials, sha256: Sha256 });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port && { port: Number(endpoint.port) }),
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: endpoint.host, [CLUSTER_ID_HEADER]: o.clusterName },
    },
    { expiresIn: PRESIGN_EXPIRES_SECONDS, ...(o.signingDate && { signingDate: o.signingDate }) },
  );
  const query = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as const) : v == null ? [] : [[k, v] as const]))
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .join('&');
  return `${endpoint.protocol}//${endpoint.host}/?${query}`;
}

/** An EKS bearer token: `k8s-aws-v1.` + base64url(presigned URL), no padding. */
export async function eksToken(o: TokenOptions): Promise<string> {
  return TOKEN_PREFIX + Buffer.from(await presignCallerIdentity(o), 'utf8').toString('base64url');
}

/** The presigned URL inside a token (what the cluster's authenticator calls), or undefined when it is not one. */
export function urlOfToken(token: string): string | undefined {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const b64 = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(b64)) return undefined;
  return Buffer.from(b64, 'base64url').toString('utf8');
}

/** Where the Kubernetes API of a cluster answers. */
export interface ClusterEndpoint {
  /** `https://….eks.amazonaws.com`. */
  server: string;
  /** Base64 PEM of the cluster CA (DescribeCluster `certificateAuthority.data`). */
  caData?: string;
}

export interface EksClusterAuthOptions {
  clusterName: string;
  region: string;
  /** Default: an EKSClient for the region (or for `eksEndpoint`). */
  eks?: EKSClient;
  /** DescribeCluster goes here instead of the regional EKS endpoint (tests: a loopback stub). */
  eksEndpoint?: string;
  /** Default: the SDK's default provider chain. */
  credentials?: Credentials;
  /** The tokens' presigned URL points here instead of the regional STS endpoint (tests: a loopback stub). */
  stsEndpoint?: string;
  /** Default: 10 minutes. */
  tokenTtlMs?: number;
  now?: () => Date;
}

/**
 * Endpoint, CA and tokens of one cluster, cached: the endpoint until `invalidate()`, a token for `tokenTtlMs`.
 * Concurrent callers share one DescribeCluster and one signing.
 */
export class EksClusterAuth {
  readonly clusterName: string;
  readonly region: string;
  readonly #eks: EKSClient;
  readonly #credentials: Credentials;
  readonly #stsEndpoint: string | undefined;
  readonly #ttlMs: number;
  readonly #now: () => Date;
  #endpoint: Promise<ClusterEndpoint> | undefined;
  #token: { value: Promise<string>; expiresAt: number } | undefined;

  constructor(o: EksClusterAuthOptions) {
    this.clusterName = o.clusterName;
    this.region = o.region;
    this.#credentials = o.credentials ?? defaultProvider();
    this.#eks =
      o.eks ??
      new EKSClient({
        region: o.region,
        ...(o.eksEndpoint && { endpoint: o.eksEndpoint }),
        ...(o.credentials && { credentials: o.credentials }),
      });
    this.#stsEndpoint = o.stsEndpoint;
    this.#ttlMs = o.tokenTtlMs ?? TOKEN_TTL_MS;
    this.#now = o.now ?? (() => new Date());
  }

  /** The cluster's API endpoint and CA (one DescribeCluster per instance unless it failed). */
  endpoint(): Promise<ClusterEndpoint> {
    this.#endpoint ??= this.#describe().catch((e: unknown) => {
      this.#endpoint = undefined;
      throw e;
    });
    return this.#endpoint;
  }

  /** A bearer token for the cluster, fresh for at least a few minutes more. */
  token(): Promise<string> {
    const now = this.#now().getTime();
    if (this.#token && now < this.#token.expiresAt) return this.#token.value;
    const value = eksToken({
      clusterName: this.clusterName,
      region: this.region,
      credentials: this.#credentials,
      signingDate: new Date(now),
      ...(this.#stsEndpoint && { stsEndpoint: this.#stsEndpoint }),
    }).catch((e: unknown) => {
      this.#token = undefined;
      throw new DependencyError(
        `cannot sign a token for EKS cluster "${this.clusterName}": no usable AWS credentials (${(e as Error).message})`,
      );
    });
    this.#token = { value, expiresAt: now + this.#ttlMs };
    return value;
  }

  /** Forgets the token (after a 401) so that the next call signs a new one. */
  invalidateToken(): void {
    this.#token = undefined;
  }

  /** Forgets the endpoint (after a connection failure) so that the next call describes the cluster again. */
  invalidateEndpoint(): void {
    this.#endpoint = undefined;
  }

  async #describe(): Promise<ClusterEndpoint> {
    let cluster: { endpoint?: string; certificateAuthority?: { data?: string }; status?: string } | undefined;
    try {
      cluster = (await this.#eks.send(new DescribeClusterCommand({ name: this.clusterName }))).cluster;
    } catch (e) {
      const err = e as { name?: string; message?: string };
      if (err.name === 'ResourceNotFoundException') {
        throw new DependencyError(`EKS cluster "${this.clusterName}" does not exist in region ${this.region}`);
      }
      throw new DependencyError(
        `EKS DescribeCluster "${this.clusterName}" (${this.region}) failed: ${err.name}: ${err.message}`,
      );
    }
    if (!cluster?.endpoint) {
      throw new DependencyError(
        `EKS cluster "${this.clusterName}" has no API endpoint yet (status ${cluster?.status ?? 'unknown'})`,
      );
    }
    return {
      server: cluster.endpoint,
      ...(cluster.certificateAuthority?.data && { caData: cluster.certificateAuthority.data }),
    };
  }
}
