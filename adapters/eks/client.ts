/**
 * A small Kubernetes REST client for the EKS cluster gateway, on node:https with the cluster's CA and an EKS bearer
 * token (auth.ts). Every write is a server-side apply (PATCH `application/apply-patch+yaml`, `fieldManager=merlin`,
 * `force=true`); reads of a missing object answer `undefined`, deletes of a missing object `false`, and every other
 * failure leaves as a core error (house style #9): 404 → NotFoundError, 409 → ConflictError, 400/422 →
 * UnprocessableError (the cluster refused the object, e.g. an admission policy), everything else (401/403, 429, 5xx,
 * network, timeout) → DependencyError. Messages name the call and the API server's own reason, never a request body
 * (secrets travel in Secret bodies only).
 *
 * Why not @kubernetes/client-node at run time: its KubeConfig alone bundles to ~960 KB (every generated model comes
 * with its ObjectSerializer) and leaves optional `ws`/`node-fetch` requires unresolved; the functions' bundles must
 * stay under 1 MB (DESIGN §8) and self-contained. The handful of calls the gateway makes need none of it; its types
 * are used where they help (`import type`, erased).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ConflictError, DependencyError, isDomainError, NotFoundError, UnprocessableError } from '../../core/errors.js';
import type { ClusterEndpoint } from './auth.js';

/** The field manager of every apply: the platform owns the fields it sets and nothing else. */
export const FIELD_MANAGER = 'merlin';
const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

/** What the client needs from the cluster: where it is and how to authenticate (EksClusterAuth). */
export interface ClusterAccess {
  readonly clusterName: string;
  endpoint(): Promise<ClusterEndpoint>;
  token(): Promise<string>;
  invalidateToken(): void;
  invalidateEndpoint(): void;
}

/** Identifies one object. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  /** Absent for cluster-scoped kinds (Namespace). */
  namespace?: string;
}

/** Any manifest: `apiVersion`, `kind`, `metadata.name` and whatever the kind has. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface KubeClientOptions {
  /** Per request (default 15 s). */
  requestTimeoutMs?: number;
}

/** The kinds the gateway writes: their REST resource names and scope. Kinds of CRD groups are checked by discovery. */
const RESOURCES: Record<string, { plural: string; namespaced: boolean }> = {
  Namespace: { plural: 'namespaces', namespaced: false },
  Secret: { plural: 'secrets', namespaced: true },
  Service: { plural: 'services', namespaced: true },
  Pod: { plural: 'pods', namespaced: true },
  Event: { plural: 'events', namespaced: true },
  Deployment: { plural: 'deployments', namespaced: true },
  HorizontalPodAutoscaler: { plural: 'horizontalpodautoscalers', namespaced: true },
  PodDisruptionBudget: { plural: 'poddisruptionbudgets', namespaced: true },
  HTTPRoute: { plural: 'httproutes', namespaced: true },
};
/** API groups every supported Kubernetes version serves; others (CRDs) are looked up once per client. */
const BUILT_IN_GROUPS = new Set(['v1', 'apps/v1', 'autoscaling/v2', 'policy/v1']);

export const describeRef = (r: ObjectRef): string =>
  `${r.kind} ${r.namespace === undefined ? '' : `${r.namespace}/`}${r.name}`;

/** The REST path of an object (or of its collection without a name). */
export function pathOf(r: { apiVersion: string; kind: string; namespace?: string | undefined; name?: string }): string {
  const resource = RESOURCES[r.kind];
  if (!resource) throw new TypeError(`unsupported kind ${r.kind}`);
  const root = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  const ns = resource.namespaced ? `/namespaces/${encodeURIComponent(r.namespace ?? '')}` : '';
  return `${root}${ns}/${resource.plural}${r.name === undefined ? '' : `/${encodeURIComponent(r.name)}`}`;
}

/** An answer of the API server outside 2xx: its status code and its own reason (a `Status` message). */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`${status} ${reason}`);
  }
}

/** The cluster does not serve this kind (e.g. the Gateway API CRDs are not installed). */
class KindNotServed extends Error {}

interface Connection {
  server: URL;
  agent: HttpAgent | HttpsAgent;
}

interface Call {
  method: 'GET' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Answer the body as text (pod logs). */
  text?: boolean;
}

export class KubeClient {
  readonly #access: ClusterAccess;
  readonly #timeoutMs: number;
  #connection: Promise<Connection> | undefined;
  /** apiVersion → kinds it serves (API discovery, for CRD groups only). */
  readonly #discovered = new Map<string, Promise<Set<string>>>();

  constructor(access: ClusterAccess, options: KubeClientOptions = {}) {
    this.#access = access;
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Server-side apply of a whole object (creates it when missing); answers the object as stored. */
  async apply<T = Record<string, unknown>>(manifest: Manifest): Promise<T> {
    const ref = refOf(manifest);
    const what = `apply ${describeRef(ref)}`;
    try {
      await this.#served(what, ref);
    } catch (e) {
      if (!(e instanceof KindNotServed)) throw e;
      const hint = ref.apiVersion.startsWith('gateway.networking.k8s.io/')
        ? ': install the Gateway API CRDs (standard channel, v1.3 or later)'
        : '';
      throw new DependencyError(
        `cluster "${this.#access.clusterName}" does not serve ${ref.kind} (${ref.apiVersion})${hint}`,
      );
    }
    return (await this.#call(what, {
      method: 'PATCH',
      path: pathOf(ref),
      // Strict: a field the cluster's schema does not know (e.g. a mirror `percent` on Gateway API CRDs older than
      // v1.3) is refused with a 422 instead of being dropped silently.
      query: { fieldManager: FIELD_MANAGER, force: true, fieldValidation: 'Strict' },
      body: manifest,
      contentType: 'application/apply-patch+yaml',
    })) as T;
  }

  /** The object, or undefined when it (or its kind) does not exist. */
  async read<T = Record<string, unknown>>(ref: ObjectRef): Promise<T | undefined> {
    const what = `read ${describeRef(ref)}`;
    try {
      await this.#served(what, ref);
      return (await this.#call(what, { method: 'GET', path: pathOf(ref) })) as T;
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof KindNotServed) return undefined;
      throw e;
    }
  }

  /**
   * Deletes an object with the given propagation (Foreground: its dependents, e.g. a Deployment's pods, go first).
   * False when it (or its kind) did not exist.
   */
  async remove(ref: ObjectRef, propagationPolicy: 'Foreground' | 'Background' = 'Foreground'): Promise<boolean> {
    const what = `delete ${describeRef(ref)}`;
    try {
      await this.#served(what, ref);
      await this.#call(what, { method: 'DELETE', path: pathOf(ref), query: { propagationPolicy } });
      return true;
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof KindNotServed) return false;
      throw e;
    }
  }

  /** Pods matching a label selector (none when the namespace does not exist). */
  async listPods<T = Record<string, unknown>>(namespace: string, labelSelector: string): Promise<T[]> {
    return this.#list<T>(`list pods ${namespace} (${labelSelector})`, 'Pod', namespace, { labelSelector });
  }

  /** Events of a namespace matching a field selector, e.g. `involvedObject.name=<pod>`. */
  async listEvents<T = Record<string, unknown>>(namespace: string, fieldSelector: string): Promise<T[]> {
    return this.#list<T>(`list events ${namespace} (${fieldSelector})`, 'Event', namespace, { fieldSelector });
  }

  /** The log of one container (the previous, crashed instance with `previous`); undefined when there is none. */
  async podLog(
    namespace: string,
    pod: string,
    o: { container: string; tailLines: number; previous?: boolean },
  ): Promise<string | undefined> {
    try {
      return (await this.#call(`read log of pod ${namespace}/${pod}`, {
        method: 'GET',
        path: `${pathOf({ apiVersion: 'v1', kind: 'Pod', namespace, name: pod })}/log`,
        query: { container: o.container, tailLines: o.tailLines, ...(o.previous && { previous: true }) },
        text: true,
      })) as string;
    } catch (e) {
      // 400 "previous terminated container not found" / "container is waiting to start": no log to show.
      if (e instanceof NotFoundError || e instanceof UnprocessableError) return undefined;
      throw e;
    }
  }

  async #list<T>(what: string, kind: string, namespace: string, query: Record<string, string>): Promise<T[]> {
    try {
      const list = (await this.#call(what, {
        method: 'GET',
        path: pathOf({ apiVersion: 'v1', kind, namespace }),
        query,
      })) as { items?: T[] };
      return list.items ?? [];
    } catch (e) {
      if (e instanceof NotFoundError) return [];
      throw e;
    }
  }

  /** Whether the cluster serves the kind: built-in groups always; others by API discovery, once per client. */
  async #served(what: string, ref: ObjectRef): Promise<void> {
    if (BUILT_IN_GROUPS.has(ref.apiVersion)) return;
    let kinds = this.#discovered.get(ref.apiVersion);
    if (!kinds) {
      kinds = this.#call(`${what} (discover ${ref.apiVersion})`, { method: 'GET', path: `/apis/${ref.apiVersion}` })
        .then(
          (list) => new Set(((list as { resources?: { kind?: string }[] }).resources ?? []).map((r) => r.kind ?? '')),
        )
        .catch((e: unknown) => {
          if (e instanceof NotFoundError) return new Set<string>();
          this.#discovered.delete(ref.apiVersion);
          throw e;
        });
      this.#discovered.set(ref.apiVersion, kinds);
    }
    if (!(await kinds).has(ref.kind)) throw new KindNotServed(`${ref.kind} (${ref.apiVersion})`);
  }

  /** One API call with translated errors; a 401 gets one retry with a fresh token. */
  async #call(what: string, call: Call): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#send(call);
      } catch (e) {
        if (e instanceof ApiError && e.status === 401 && attempt === 0) {
          this.#access.invalidateToken();
          continue;
        }
        throw this.#translate(what, e);
      }
    }
  }

  #translate(what: string, e: unknown): Error {
    const cluster = `cluster "${this.#access.clusterName}"`;
    if (e instanceof ApiError) {
      const msg = `Kubernetes API of ${cluster} refused to ${what}: ${e.status} ${e.reason}`;
      if (e.status === 404) return new NotFoundError(msg);
      if (e.status === 409) return new ConflictError(msg, undefined, 'CLUSTER_CONFLICT');
      if (e.status === 400 || e.status === 422) return new UnprocessableError(msg, undefined, 'CLUSTER_REJECTED');
      return new DependencyError(msg);
    }
    if (isDomainError(e)) return e;
    // Socket-level failures: the endpoint may have moved (or the connection pool gone stale); describe it again.
    this.#access.invalidateEndpoint();
    this.#connection?.then((c) => c.agent.destroy()).catch(() => undefined);
    this.#connection = undefined;
    return new DependencyError(`Kubernetes API of ${cluster} is unreachable (${what}): ${(e as Error)?.message ?? e}`);
  }

  #connect(): Promise<Connection> {
    this.#connection ??= this.#access.endpoint().then(
      ({ server, caData }) => {
        const url = new URL(server);
        // Plain HTTP only ever means a loopback fake in tests; EKS endpoints are HTTPS with the cluster's own CA.
        const agent =
          url.protocol === 'http:'
            ? new HttpAgent({ keepAlive: true })
            : new HttpsAgent({ keepAlive: true, ...(caData && { ca: Buffer.from(caData, 'base64') }) });
        return { server: url, agent };
      },
      (e: unknown) => {
        this.#connection = undefined;
        throw e;
      },
    );
    return this.#connection;
  }

  async #send(call: Call): Promise<unknown> {
    const { server, agent } = await this.#connect();
    const token = await this.#access.token();
    const url = new URL(call.path, server);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body), 'utf8');
    const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise<unknown>((resolve, reject) => {
      const req = request(
        url,
        {
          method: call.method,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            accept: call.text ? 'text/plain, */*' : 'application/json',
            ...(body && { 'content-type': call.contentType ?? 'application/json', 'content-length': body.length }),
          },
        },
        (res) => {
          collect(res)
            .then((text) => {
              const status = res.statusCode ?? 0;
              if (status < 200 || status > 299) return reject(new ApiError(status, statusReason(status, text)));
              if (call.text) return resolve(text);
              try {
                resolve(text === '' ? {} : JSON.parse(text));
              } catch {
                reject(new Error(`the API server answered ${status} with a body that is not JSON`));
              }
            })
            .catch(reject);
        },
      );
      req.setTimeout(this.#timeoutMs, () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

const refOf = (m: Manifest): ObjectRef => ({
  apiVersion: m.apiVersion,
  kind: m.kind,
  name: m.metadata.name,
  ...(m.metadata.namespace !== undefined && { namespace: m.metadata.namespace }),
});

function collect(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** The API server's own explanation (a `Status` message), else a short excerpt of what it said. */
function statusReason(status: number, text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '') return message;
  } catch {
    // not a Status
  }
  return text.trim().slice(0, 300) || `HTTP ${status}`;
}
