/**
 * The Merlin client: every resource of the control-plane API (DESIGN §4), plus the few calls a data scientist makes
 * from a notebook — `logModel` (new version + upload + verify), `deploy` (returns once the endpoint runs, or throws
 * the Deployment's reason), `serveTraffic`, `undeploy`, `predict`.
 *
 * Browser-safe: it uses `fetch` and WebCrypto only. What needs node (reading files and directories, streaming
 * node:crypto hashing, SigV4 with the AWS credential chain) is plugged in by `createMerlin` in `sdk/node.ts`.
 */
import type { Page } from '../core/schemas/common.js';
import type { Deployment } from '../core/schemas/deployment.js';
import type { DeployBody, ModelEndpoint, RedeployBody, RouteRule, VersionEndpoint } from '../core/schemas/endpoint.js';
import type { EnvironmentView } from '../core/schemas/environment.js';
import type { CreateModelBody, Model, PatchModelBody } from '../core/schemas/model.js';
import type { CreateProjectBody, PatchProjectBody, Project } from '../core/schemas/project.js';
import type { Secret } from '../core/schemas/secret.js';
import type { CreateVersionBody, ModelVersion, PatchVersionBody } from '../core/schemas/version.js';
import type { Authenticator } from './auth.js';
import { bearer } from './auth.js';
import { MerlinApiError, MerlinError, targetOf } from './errors.js';
import { formatBytes, formatRule } from './format.js';
import { PagedList } from './pages.js';
import { DEFAULT_RETRY, type HttpMethod, type Reply, type RetryPolicy, Transport } from './transport.js';
import type {
  ArtifactUploadResponse,
  ArtifactView,
  EndpointLogs,
  ListOptions,
  ModelRef,
  PredictTarget,
  VersionRef,
} from './types.js';
import { type ArtifactFile, eachLimited, putFile, type Sha256Factory, webSha256 } from './upload.js';
import { type OnProgress, type ProgressEvent, type WatchOptions, watchDeployment } from './watch.js';

/** The local platform `npm start` runs. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface MerlinOptions {
  /** The platform: the local one (default), or an API Gateway URL (with its stage path, if any). */
  url?: string | undefined;
  /** How requests to the API are authenticated (default: not at all). */
  auth?: Authenticator | undefined;
  /** Shorthand for `auth: bearer(token)` (an API Gateway JWT authorizer). */
  token?: string | undefined;
  fetch?: typeof fetch | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** Sent with every API request. */
  headers?: Record<string, string> | undefined;
  /** SHA-256 for uploads (default: WebCrypto; node: streaming node:crypto). */
  sha256?: Sha256Factory | undefined;
  /** Turns a path given to `logModel` into files (node: a file or a directory, see `sdk/node.ts`). */
  readFiles?: ((path: string) => Promise<ArtifactFile[]>) | undefined;
  /** Files uploaded at once (default 4). */
  uploadConcurrency?: number | undefined;
  /** Timeout of one attempt of an API call or a prediction (default 30 s). Uploads have none: use a `signal`. */
  requestTimeoutMs?: number | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
  idempotencyKey?: (() => string) | undefined;
}

export interface RequestOptions {
  /** `If-Match`: the `revision` the change was based on; a change made meanwhile is refused with 412. */
  ifMatch?: number | undefined;
  /** `Idempotency-Key` of a POST (default: a new random key, kept across the retries of this one call). */
  idempotencyKey?: string | undefined;
  /** Aborts the call with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export interface LogModelOptions {
  /** A file or a directory to upload (needs `readFiles`, which `createMerlin` in node provides). */
  path?: string | undefined;
  /** The files to upload, when not read from `path`. */
  files?: ArtifactFile[] | undefined;
  /** The new version's labels, params, metrics… (used when the target names no version). */
  version?: CreateVersionBody | undefined;
  onProgress?: OnProgress | undefined;
  /** Aborts the calls and the uploads with the signal's reason. */
  signal?: AbortSignal | undefined;
}

type Follow = Pick<WatchOptions, 'onProgress' | 'timeoutMs' | 'signal'>;
export interface DeployOptions extends DeployBody, Follow {}
export interface RedeployOptions extends RedeployBody, Follow {}
export interface FollowOptions extends Follow {
  environment?: string | undefined;
}

/** A traffic split: a rule, or weights by version (`{3: 90, 4: 10}`) with an optional mirror. */
export type TrafficSplit =
  | RouteRule
  | { weights: Record<number, number>; mirror?: { version: number; percent: number } | undefined };

/** KServe V1 request: `instances` (row format) or `inputs` (columnar). */
export interface V1Request {
  instances?: unknown[];
  inputs?: unknown;
  parameters?: Record<string, unknown>;
}
/** Open Inference Protocol V2 request. */
export interface V2Request {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: { name: string; shape: number[]; datatype: string; data: unknown; parameters?: Record<string, unknown> }[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}
export interface V1Response {
  predictions: unknown[];
  model_name?: string;
  model_version?: string;
}
export interface V2Response {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: { name: string; shape: number[]; datatype: string; data: unknown[]; parameters?: Record<string, unknown> }[];
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}
/** Open Inference Protocol V2 model metadata. */
export interface V2Metadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface PredictOptions {
  /** Default: `v2` when the request is an Open Inference Protocol request (named `inputs` tensors), else `v1`. */
  protocol?: 'v1' | 'v2' | undefined;
  /** Sent as `x-merlin-route-key`: the same key always reaches the same version of a split. */
  routeKey?: string | undefined;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
}

export interface Prediction<T> {
  /** The version that answered (`x-model-version`). */
  version: number | undefined;
  protocol: 'v1' | 'v2';
  url: string;
  body: T;
}

const enc = encodeURIComponent;
/** Percent-encoding of RFC 3986 (what SigV4 signs): `encodeURIComponent` plus `!'()*`. */
export const rfc3986 = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const modelPath = (r: ModelRef) => `/v1/projects/${enc(r.project)}/models/${enc(r.model)}`;
const versionPath = (r: VersionRef) => `${modelPath(r)}/versions/${r.version}`;
/** If-Match and Idempotency-Key headers from `RequestOptions`. */
const optionHeaders = (o?: RequestOptions) => ({
  ...(o?.ifMatch !== undefined && { 'if-match': `"${o.ifMatch}"` }),
  ...(o?.idempotencyKey !== undefined && { 'idempotency-key': o.idempotencyKey }),
});
/** A random UUID: `crypto.randomUUID` exists only in secure contexts (https, localhost), `getRandomValues` everywhere. */
export function randomId(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40; // version 4
  b[8] = ((b[8] as number) & 0x3f) | 0x80; // variant 10
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The deployment a retried request ran into (409 `DEPLOYMENT_IN_PROGRESS`, its id in the details), if it was one. */
function inProgressAfterRetry(e: unknown): string | undefined {
  if (!(e instanceof MerlinApiError) || e.attempts < 2 || e.code !== 'DEPLOYMENT_IN_PROGRESS') return undefined;
  const id = (e.details as { deploymentId?: unknown } | null | undefined)?.deploymentId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** The same routing rule (destinations in any order; a mirror of 0 % or none alike). */
/** The deployment is of `kind` on this model in `env` (part of #startDeployment's `isOurs`). */
function isDeploymentOf(d: Deployment, kind: Deployment['kind'], ref: ModelRef, env: string): boolean {
  return d.kind === kind && d.project === ref.project && d.model === ref.model && d.environment === env;
}

function sameRule(a: RouteRule | undefined, b: RouteRule): boolean {
  if (!a) return false;
  const key = (r: RouteRule) =>
    JSON.stringify([
      [...r.destinations].map((d) => [d.version, d.weight]).sort((x, y) => (x[0] as number) - (y[0] as number)),
      r.mirror && r.mirror.percent > 0 ? [r.mirror.version, r.mirror.percent] : null,
    ]);
  return key(a) === key(b);
}

const isV2 = (body: unknown): boolean => {
  const inputs = (body as { inputs?: unknown } | null)?.inputs;
  return Array.isArray(inputs) && inputs.length > 0 && inputs.every((i) => i && typeof i === 'object' && 'name' in i);
};

export class Merlin {
  /** The platform's base URL (no trailing slash, no `/v1`). */
  readonly url: string;
  readonly #transport: Transport;
  readonly #fetch: typeof fetch;
  readonly #retry: RetryPolicy;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #sha256: Sha256Factory;
  readonly #readFiles: ((path: string) => Promise<ArtifactFile[]>) | undefined;
  readonly #uploadConcurrency: number;
  #environments: Promise<EnvironmentView[]> | undefined;

  constructor(options: MerlinOptions = {}) {
    this.url = (options.url ?? DEFAULT_URL).replace(/\/+$/, '').replace(/\/v1$/, '');
    try {
      new URL(this.url);
    } catch {
      throw new MerlinError(`"${options.url}" is not a URL (e.g. ${DEFAULT_URL})`);
    }
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#sha256 = options.sha256 ?? webSha256;
    this.#readFiles = options.readFiles;
    this.#uploadConcurrency = options.uploadConcurrency ?? 4;
    const auth = options.auth ?? (options.token ? bearer(options.token) : undefined);
    this.#transport = new Transport({
      fetch: this.#fetch,
      retry: this.#retry,
      sleep: this.#sleep,
      random: this.#random,
      idempotencyKey: options.idempotencyKey ?? randomId,
      auth,
      authOrigin: new URL(this.url).origin,
      headers: options.headers ?? {},
      timeoutMs: options.requestTimeoutMs,
    });
  }

  /** One API call: `path` starts with `/v1` (or is any path of the platform). */
  async request<T>(
    method: HttpMethod,
    path: string,
    o: {
      body?: unknown;
      headers?: Record<string, string>;
      query?: Record<string, string | number | undefined>;
      /** Aborts the call with the signal's reason. */
      signal?: AbortSignal | undefined;
      /** Timeout of one attempt (default: `requestTimeoutMs`). */
      timeoutMs?: number | undefined;
    } = {},
  ): Promise<Reply<T>> {
    // RFC 3986 (a space is %20, not URLSearchParams' `+`): exactly the query SigV4 signs. And no `q.size`, which older
    // browsers lack (a cursor never sent would page forever).
    const query = Object.entries(o.query ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`)
      .join('&');
    const url = `${this.url}${path}${query ? `?${query}` : ''}`;
    return this.#transport.json<T>({
      method,
      url,
      ...(o.body !== undefined && { body: o.body }),
      ...(o.headers && { headers: o.headers }),
      ...(o.signal && { signal: o.signal }),
      ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
    });
  }

  async #call<T>(
    method: HttpMethod,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<T> {
    return (await this.request<T>(method, path, { body, ...(headers && { headers }), signal })).body;
  }

  /**
   * A PUT or DELETE that starts a deployment. Such a request is retried only when the server did not act on it (429,
   * 503); should the retry meet 409 `DEPLOYMENT_IN_PROGRESS` all the same, and the deployment in progress be the one
   * asked for (`isOurs`), that deployment is followed instead of failing.
   */
  async #startDeployment(
    method: HttpMethod,
    path: string,
    body: unknown,
    headers: Record<string, string> | undefined,
    signal: AbortSignal | undefined,
    isOurs: (d: Deployment) => boolean,
  ): Promise<Deployment> {
    try {
      return await this.#call<Deployment>(method, path, body, headers, signal);
    } catch (e) {
      const id = inProgressAfterRetry(e);
      if (id === undefined) throw e;
      const d = await this.deployments.get(id, { signal });
      if (!isOurs(d)) throw e;
      return d;
    }
  }

  #list<T>(path: string, o: ListOptions & Record<string, string | number | undefined> = {}): PagedList<T> {
    const { pageSize, ...rest } = o;
    return new PagedList<T>(
      async (cursor) =>
        (await this.request<Page<T>>('GET', path, { query: { ...rest, limit: pageSize, cursor } })).body,
    );
  }

  // ---- environments -----------------------------------------------------------------------------------------------

  readonly environments = {
    list: (o?: { pageSize?: number }): PagedList<EnvironmentView> => this.#list('/v1/environments', { ...o }),
    get: (name: string): Promise<EnvironmentView> => this.#call('GET', `/v1/environments/${enc(name)}`),
    /** The environment used when a call names none. */
    default: async (): Promise<EnvironmentView> => {
      const envs = await this.#environmentsCached();
      const env = envs.find((e) => e.isDefault) ?? envs[0];
      if (!env) throw new MerlinError(`${this.url} declares no environment`);
      return env;
    },
  };

  /** The environments, fetched once per client (servingUrl and the default environment are looked up often). */
  #environmentsCached(): Promise<EnvironmentView[]> {
    if (!this.#environments) {
      const p = this.environments.list({ pageSize: 100 }).all();
      this.#environments = p;
      p.catch(() => {
        if (this.#environments === p) this.#environments = undefined;
      });
    }
    return this.#environments;
  }

  async #environment(name?: string): Promise<EnvironmentView> {
    if (name === undefined) return this.environments.default();
    const found = (await this.#environmentsCached()).find((e) => e.name === name);
    return found ?? this.environments.get(name);
  }

  async #environmentName(name?: string): Promise<string> {
    return name ?? (await this.environments.default()).name;
  }

  // ---- catalog ----------------------------------------------------------------------------------------------------

  readonly projects = {
    create: (body: CreateProjectBody, o?: RequestOptions): Promise<Project> =>
      this.#call('POST', '/v1/projects', body, optionHeaders(o), o?.signal),
    get: (name: string): Promise<Project> => this.#call('GET', `/v1/projects/${enc(name)}`),
    list: (o?: ListOptions): PagedList<Project> => this.#list('/v1/projects', { ...o }),
    update: (name: string, patch: PatchProjectBody, o?: RequestOptions): Promise<Project> =>
      this.#call('PATCH', `/v1/projects/${enc(name)}`, patch, optionHeaders(o), o?.signal),
    delete: (name: string, o?: RequestOptions): Promise<void> =>
      this.#call('DELETE', `/v1/projects/${enc(name)}`, undefined, optionHeaders(o), o?.signal),
    /** The project, created first when it does not exist. */
    ensure: (body: CreateProjectBody): Promise<Project & { created: boolean }> =>
      this.#ensure(
        () => this.projects.get(body.name),
        () => this.projects.create(body),
      ),
  };

  readonly models = {
    create: (project: string, body: CreateModelBody, o?: RequestOptions): Promise<Model> =>
      this.#call('POST', `/v1/projects/${enc(project)}/models`, body, optionHeaders(o), o?.signal),
    get: (ref: ModelRef): Promise<Model> => this.#call('GET', modelPath(ref)),
    list: (project: string, o?: ListOptions): PagedList<Model> =>
      this.#list(`/v1/projects/${enc(project)}/models`, { ...o }),
    update: (ref: ModelRef, patch: PatchModelBody, o?: RequestOptions): Promise<Model> =>
      this.#call('PATCH', modelPath(ref), patch, optionHeaders(o), o?.signal),
    delete: (ref: ModelRef, o?: RequestOptions): Promise<void> =>
      this.#call('DELETE', modelPath(ref), undefined, optionHeaders(o), o?.signal),
    /** The model, created first when it does not exist (an existing model of another type is an error). */
    ensure: async (project: string, body: CreateModelBody): Promise<Model & { created: boolean }> => {
      const m = await this.#ensure(
        () => this.models.get({ project, model: body.name }),
        () => this.models.create(project, body),
      );
      if (m.type !== body.type) {
        throw new MerlinError(
          `model ${project}/${body.name} exists with type "${m.type}", not "${body.type}"; ` +
            `use --type ${m.type} or another model name`,
        );
      }
      return m;
    },
  };

  readonly versions = {
    create: (ref: ModelRef, body: CreateVersionBody = {}, o?: RequestOptions): Promise<ModelVersion> =>
      this.#call('POST', `${modelPath(ref)}/versions`, body, optionHeaders(o), o?.signal),
    get: (ref: VersionRef): Promise<ModelVersion> => this.#call('GET', versionPath(ref)),
    /** `label`: versions carrying every one of these labels. */
    list: (ref: ModelRef, o: { pageSize?: number; label?: Record<string, string> } = {}): PagedList<ModelVersion> =>
      this.#list(`${modelPath(ref)}/versions`, {
        pageSize: o.pageSize,
        label: o.label
          ? Object.entries(o.label)
              .map(([k, v]) => `${k}:${v}`)
              .join(',')
          : undefined,
      }),
    update: (ref: VersionRef, patch: PatchVersionBody, o?: RequestOptions): Promise<ModelVersion> =>
      this.#call('PATCH', versionPath(ref), patch, optionHeaders(o), o?.signal),
    delete: (ref: VersionRef, o?: RequestOptions): Promise<void> =>
      this.#call('DELETE', versionPath(ref), undefined, optionHeaders(o), o?.signal),
  };

  readonly artifacts = {
    /** The manifest, with a presigned GET URL per file. */
    get: (ref: VersionRef): Promise<ArtifactView> => this.#call('GET', `${versionPath(ref)}/artifact`),
  };

  readonly secrets = {
    put: (project: string, name: string, value: string): Promise<Secret> =>
      this.#call('PUT', `/v1/projects/${enc(project)}/secrets/${enc(name)}`, { value }),
    get: (project: string, name: string): Promise<Secret> =>
      this.#call('GET', `/v1/projects/${enc(project)}/secrets/${enc(name)}`),
    list: (project: string, o?: ListOptions): PagedList<Secret> =>
      this.#list(`/v1/projects/${enc(project)}/secrets`, { ...o }),
    delete: (project: string, name: string): Promise<void> =>
      this.#call('DELETE', `/v1/projects/${enc(project)}/secrets/${enc(name)}`),
  };

  async #ensure<T>(get: () => Promise<T>, create: () => Promise<T>): Promise<T & { created: boolean }> {
    try {
      return { ...(await get()), created: false };
    } catch (e) {
      if (!(e instanceof MerlinApiError && e.status === 404)) throw e;
    }
    try {
      return { ...(await create()), created: true };
    } catch (e) {
      // Created by someone else between the two calls.
      if (e instanceof MerlinApiError && e.status === 409) return { ...(await get()), created: false };
      throw e;
    }
  }

  // ---- endpoints and deployments ------------------------------------------------------------------------------------

  readonly endpoints = {
    /** The version's endpoints, one per environment it was deployed to. */
    list: (ref: VersionRef, o?: { pageSize?: number }): PagedList<VersionEndpoint> =>
      this.#list(`${versionPath(ref)}/endpoints`, { ...o }),
    get: async (ref: VersionRef, environment?: string): Promise<VersionEndpoint> =>
      this.#call('GET', `${versionPath(ref)}/endpoints/${enc(await this.#environmentName(environment))}`),
    /** The endpoint's deployments, newest first. */
    deployments: (ref: VersionRef, environment?: string, o: { pageSize?: number } = {}): PagedList<Deployment> =>
      new PagedList(async (cursor) => {
        const env = enc(await this.#environmentName(environment));
        const q = { limit: o.pageSize, cursor };
        return (
          await this.request<Page<Deployment>>('GET', `${versionPath(ref)}/endpoints/${env}/deployments`, { query: q })
        ).body;
      }),
    /** The model server's recent output: the last `tail` lines (default 100), optionally `since` a time or `15m`. */
    logs: async (
      ref: VersionRef,
      o: { environment?: string; tail?: number; since?: string; revision?: number } = {},
    ): Promise<EndpointLogs> =>
      (
        await this.request<EndpointLogs>(
          'GET',
          `${versionPath(ref)}/endpoints/${enc(await this.#environmentName(o.environment))}/logs`,
          { query: { tail: o.tail, since: o.since, revision: o.revision } },
        )
      ).body,
  };

  readonly modelEndpoints = {
    /** The model's endpoints, one per environment. */
    list: (ref: ModelRef, o?: { pageSize?: number }): PagedList<ModelEndpoint> =>
      this.#list(`${modelPath(ref)}/endpoints`, { ...o }),
    get: async (ref: ModelRef, environment?: string): Promise<ModelEndpoint> =>
      this.#call('GET', `${modelPath(ref)}/endpoints/${enc(await this.#environmentName(environment))}`),
    /** Takes the model endpoint down (202 → waits for the route deployment). */
    delete: async (ref: ModelRef, o: FollowOptions = {}): Promise<Deployment> => {
      const env = await this.#environmentName(o.environment);
      const d = await this.#startDeployment(
        'DELETE',
        `${modelPath(ref)}/endpoints/${enc(env)}`,
        undefined,
        undefined,
        o.signal,
        (d) => isDeploymentOf(d, 'route', ref, env) && d.request.removeRoute === true,
      );
      return this.#follow(d, o, `Stop routing ${ref.project}/${ref.model} in ${env}`);
    },
  };

  readonly deployments = {
    get: async (id: string, o: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {}) =>
      (await this.request<Deployment>('GET', `/v1/deployments/${enc(id)}`, o)).body,
    /**
     * Follows a deployment until it ends: resolves when it succeeded, throws `DeploymentFailedError` if it failed,
     * `MerlinTimeoutError` once `timeoutMs` passed (no request outlives it).
     */
    watch: (id: string, o: WatchOptions = {}): Promise<Deployment> =>
      watchDeployment(id, { get: (i, r) => this.deployments.get(i, r), sleep: this.#sleep, now: this.#now }, o),
  };

  /** Reports a deployment's start, follows it step by step, reports its end. */
  async #follow(d: Deployment, o: Follow, what: string): Promise<Deployment> {
    const started = this.#now();
    const report = (e: ProgressEvent) => o.onProgress?.(e);
    report({ type: 'step', step: what, status: 'running', deploymentId: d.id, detail: `deployment ${d.id}` });
    try {
      const done = await this.deployments.watch(d.id, { ...o, initial: d });
      report({ type: 'step', step: what, status: 'succeeded', deploymentId: d.id, durationMs: this.#now() - started });
      return done;
    } catch (e) {
      report({
        type: 'step',
        step: what,
        status: 'failed',
        deploymentId: d.id,
        durationMs: this.#now() - started,
        error: (e as Error).message,
      });
      throw e;
    }
  }

  /**
   * Deploys a version into an environment (default: the default one) and resolves with its endpoint once it runs.
   * Each workflow step is reported to `onProgress` as it starts and ends. Throws `DeploymentFailedError` with the
   * server's reason (e.g. `model server exited with code 1: model failed to load: …`), `MerlinTimeoutError` after
   * `timeoutMs` (the deployment goes on), or `MerlinApiError` when the deploy is refused at once (e.g. 409: too many
   * active versions).
   */
  async deploy(ref: VersionRef, o: DeployOptions = {}): Promise<VersionEndpoint> {
    const { onProgress, timeoutMs, signal, ...body } = o;
    const d = await this.#call<Deployment>('POST', `${versionPath(ref)}/endpoints`, body, undefined, signal);
    await this.#follow(d, { onProgress, timeoutMs, signal }, `Deploy ${targetOf(ref)} to ${d.environment}`);
    return this.endpoints.get(ref, d.environment);
  }

  /** Changes a running endpoint's settings (a new revision; the current one serves until it is ready). */
  async redeploy(ref: VersionRef, environment: string | undefined, o: RedeployOptions = {}): Promise<VersionEndpoint> {
    const { onProgress, timeoutMs, signal, ...body } = o;
    const env = await this.#environmentName(environment);
    const d = await this.#call<Deployment>(
      'PATCH',
      `${versionPath(ref)}/endpoints/${enc(env)}`,
      body,
      undefined,
      signal,
    );
    await this.#follow(d, { onProgress, timeoutMs, signal }, `Redeploy ${targetOf(ref)} in ${env}`);
    return this.endpoints.get(ref, env);
  }

  /** Undeploys a version endpoint and resolves with the finished Deployment. */
  async undeploy(ref: VersionRef, o: FollowOptions = {}): Promise<Deployment> {
    const env = await this.#environmentName(o.environment);
    const d = await this.#startDeployment(
      'DELETE',
      `${versionPath(ref)}/endpoints/${enc(env)}`,
      undefined,
      undefined,
      o.signal,
      (d) => isDeploymentOf(d, 'undeploy', ref, env) && d.version === ref.version,
    );
    return this.#follow(d, o, `Undeploy ${targetOf(ref)} from ${env}`);
  }

  /**
   * Points the model endpoint at versions by weight (and mirrors a percentage to a shadow version); resolves with
   * the model endpoint once the router carries out the new rule.
   */
  async serveTraffic(
    ref: ModelRef,
    split: TrafficSplit,
    o: FollowOptions & Pick<RequestOptions, 'ifMatch'> = {},
  ): Promise<ModelEndpoint> {
    const rule: RouteRule =
      'weights' in split
        ? {
            destinations: Object.entries(split.weights).map(([v, weight]) => ({ version: Number(v), weight })),
            ...(split.mirror && { mirror: split.mirror }),
          }
        : split;
    const env = await this.#environmentName(o.environment);
    const d = await this.#startDeployment(
      'PUT',
      `${modelPath(ref)}/endpoints/${enc(env)}`,
      { rule },
      optionHeaders({ ifMatch: o.ifMatch }),
      o.signal,
      (d) => isDeploymentOf(d, 'route', ref, env) && sameRule(d.request.rule, rule),
    );
    await this.#follow(d, o, `Route ${ref.project}/${ref.model} in ${env}: ${formatRule(rule)}`);
    return this.modelEndpoints.get({ project: ref.project, model: ref.model }, env);
  }

  // ---- artifacts ----------------------------------------------------------------------------------------------------

  /**
   * Logs a model: creates a new version (unless `target` names one), uploads the files through presigned URLs —
   * reporting bytes as they are sent, retrying interrupted uploads — and has the platform verify each file's size and
   * sha256. Resolves with the version, its artifact complete.
   */
  async logModel(target: ModelRef | VersionRef, o: LogModelOptions): Promise<ModelVersion> {
    const report = (e: ProgressEvent) => o.onProgress?.(e);
    let files = o.files;
    if (!files) {
      if (o.path === undefined) throw new MerlinError('logModel needs `path` or `files`');
      if (!this.#readFiles) {
        throw new MerlinError(
          'logModel({ path }) reads files in node only: use createMerlin from sdk/node, or `files`',
        );
      }
      files = await this.#readFiles(o.path);
    }
    if (files.length === 0) throw new MerlinError(`nothing to upload${o.path ? ` in ${o.path}` : ''}`);

    let version: number;
    if ('version' in target && target.version !== undefined) {
      version = target.version;
    } else {
      const t0 = this.#now();
      const v = await this.versions.create(target, o.version ?? {}, { signal: o.signal });
      version = v.version;
      report({
        type: 'step',
        step: `Create version ${targetOf(v)}`,
        status: 'succeeded',
        durationMs: this.#now() - t0,
      });
    }
    const ref: VersionRef = { project: target.project, model: target.model, version };

    const t0 = this.#now();
    const { uploads } = await this.#call<ArtifactUploadResponse>(
      'POST',
      `${versionPath(ref)}/artifact:upload`,
      { files: files.map((f) => ({ path: f.path, size: f.size })) },
      undefined,
      o.signal,
    );
    const byPath = new Map(uploads.map((u) => [u.path, u]));
    const digests = new Map<string, string>();
    await eachLimited(files, this.#uploadConcurrency, async (file) => {
      const target = byPath.get(file.path);
      if (!target) throw new MerlinError(`the platform gave no upload URL for ${file.path}`);
      const started = this.#now();
      const step = `Upload ${file.path}`;
      report({ type: 'step', step, status: 'running', detail: formatBytes(file.size) });
      const sha256 = await putFile(target, file, {
        fetch: this.#fetch,
        sha256: this.#sha256,
        retry: this.#retry,
        sleep: this.#sleep,
        random: this.#random,
        signal: o.signal,
        onProgress: (p) => report({ type: 'upload', ...p }),
      });
      digests.set(file.path, sha256);
      report({
        type: 'step',
        step,
        status: 'succeeded',
        durationMs: this.#now() - started,
        detail: `${formatBytes(file.size)}, sha256 ${sha256.slice(0, 12)}…`,
      });
    });
    const t1 = this.#now();
    const done = await this.#call<ModelVersion>(
      'POST',
      `${versionPath(ref)}/artifact:complete`,
      { files: files.map((f) => ({ path: f.path, size: f.size, sha256: digests.get(f.path) as string })) },
      undefined,
      o.signal,
    );
    report({
      type: 'step',
      step: 'Verify artifact',
      status: 'succeeded',
      durationMs: this.#now() - t1,
      detail: `${files.length} file${files.length === 1 ? '' : 's'}, ${formatBytes(files.reduce((n, f) => n + f.size, 0))} in ${this.#now() - t0} ms`,
    });
    return done;
  }

  // ---- data plane ---------------------------------------------------------------------------------------------------

  /** The URL predictions for `target` go to: the model endpoint, or one version's endpoint. */
  async servingUrl(target: PredictTarget): Promise<string> {
    const env = await this.#environment(target.environment);
    const base = `${env.servingUrl.replace(/\/+$/, '')}/${enc(target.project)}/${enc(target.model)}`;
    return target.version === undefined ? base : `${base}/versions/${target.version}`;
  }

  /** The model's V2 metadata (`GET …/v2/models/{model}`): its input and output tensors, as the model server knows them. */
  async metadata(target: PredictTarget, o: { signal?: AbortSignal | undefined } = {}): Promise<V2Metadata> {
    const url = `${await this.servingUrl(target)}/v2/models/${enc(target.model)}`;
    return (await this.#transport.json<V2Metadata>({ method: 'GET', url, signal: o.signal })).body;
  }

  /**
   * A prediction through the model endpoint (no version: the routing rule picks one) or a version's endpoint, with
   * KServe V1 (`{instances}` / `{inputs}`) or Open Inference Protocol V2 (named tensors). Errors are the model
   * server's (`MerlinApiError` with its message, e.g. a 400 naming the input and the expected shape).
   */
  async predict(
    target: PredictTarget,
    request: V2Request,
    o?: PredictOptions & { protocol?: 'v2' },
  ): Promise<Prediction<V2Response>>;
  async predict(
    target: PredictTarget,
    request: V1Request,
    o?: PredictOptions & { protocol?: 'v1' },
  ): Promise<Prediction<V1Response>>;
  async predict(
    target: PredictTarget,
    request: V1Request | V2Request,
    o?: PredictOptions,
  ): Promise<Prediction<V1Response | V2Response>>;
  async predict(
    target: PredictTarget,
    request: V1Request | V2Request,
    o: PredictOptions = {},
  ): Promise<Prediction<V1Response | V2Response>> {
    const protocol = o.protocol ?? (isV2(request) ? 'v2' : 'v1');
    const base = await this.servingUrl(target);
    const name = enc(target.model);
    const url = protocol === 'v1' ? `${base}/v1/models/${name}:predict` : `${base}/v2/models/${name}/infer`;
    const reply = await this.#transport.json<V1Response | V2Response>({
      method: 'POST',
      url,
      body: request,
      idempotent: true,
      signal: o.signal,
      headers: { ...o.headers, ...(o.routeKey !== undefined && { 'x-merlin-route-key': o.routeKey }) },
    });
    const header = reply.headers.get('x-model-version');
    return { version: header ? Number(header) : undefined, protocol, url, body: reply.body };
  }
}
