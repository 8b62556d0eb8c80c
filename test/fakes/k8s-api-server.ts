/**
 * A recording fake Kubernetes API server on loopback (node:http) for the EKS cluster gateway: the endpoints the
 * adapter uses, objects kept in memory, a simulated rollout per Deployment, and every request recorded.
 *
 * - API discovery: `GET /api/v1`, `GET /apis/<group>/<version>` (HTTPRoute only with `gatewayApi`, default on).
 * - Server-side apply: `PATCH …/<plural>/<name>` must be `application/apply-patch+yaml` with a `fieldManager`
 *   (415/400 otherwise); creates or replaces the object (status kept, `metadata.generation` bumped when `spec`
 *   changes); a namespaced object in a namespace that does not exist is a 404, as on a real cluster.
 * - `GET` / `DELETE` of one object (404 Status when missing; a Deployment's pods go with it).
 * - Pods: `GET …/pods?labelSelector=` (simulated from the Deployments), `GET …/pods/<pod>/log` (`previous` for the
 *   crashed instance), events: `GET …/events?fieldSelector=involvedObject.name=<pod>`.
 *
 * A Deployment's rollout is scripted per name (`script('iris-1-r1', {...})`): by default it is ready after 2 polls
 * (a poll = one GET of the Deployment); it can instead fail with OOMKilled, CrashLoopBackOff (with the crashed
 * container's log), ImagePullBackOff (with the registry's message in a `Failed` event) or Unschedulable (with a
 * `FailedScheduling` event, optionally an autoscaler's `TriggeredScaleUp`), or never become ready.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  contentType?: string;
  /** Parsed JSON body, if any. */
  body?: unknown;
  authorization?: string;
}

export type RolloutScript =
  | { readyAfterPolls: number }
  | { never: true; reason?: string }
  | { fail: 'OOMKilled'; afterPolls?: number }
  | { fail: 'CrashLoopBackOff'; logs: string[]; exitCode?: number; afterPolls?: number }
  | { fail: 'ImagePullBackOff'; message: string; afterPolls?: number }
  | { fail: 'Unschedulable'; message: string; scaleUp?: boolean; afterPolls?: number };

interface Kind {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const KINDS: Kind[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  {
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
  },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', kind: 'HTTPRoute', namespaced: true },
];
const apiVersionOf = (k: Kind) => (k.group ? `${k.group}/${k.version}` : k.version);

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; generation?: number };
  spec?: unknown;
  status?: Record<string, unknown>;
  [k: string]: unknown;
};

interface Injected {
  method?: string;
  path: string | RegExp;
  status: number;
  message: string;
  remaining: number;
}

/** Real API discovery would say this too: `*\/log` is a subresource, `pods` only readable here. */
const DEFAULT_LOG = [
  '{"level":"info","msg":"model server listening on 0.0.0.0:8080"}',
  '{"level":"info","msg":"model ready"}',
];

export interface FakeKubeApiServerOptions {
  /** Serve the Gateway API group (default true): false simulates a cluster without the CRDs. */
  gatewayApi?: boolean;
  /**
   * Whether the HTTPRoute schema knows a RequestMirror's `percent`/`fraction` (Gateway API v1.3+, default true).
   * Without: an apply with `fieldValidation=Strict` is refused (422), otherwise the fields are dropped silently.
   */
  mirrorPercent?: boolean;
  /** Decides whether a bearer token is accepted (default: any token that is present). */
  authenticate?: (token: string) => Promise<boolean>;
}

export class FakeKubeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  readonly #objects = new Map<string, Obj>();
  readonly #scripts = new Map<string, RolloutScript>();
  readonly #polls = new Map<string, number>();
  readonly #logs = new Map<string, string[]>();
  readonly #injected: Injected[] = [];
  readonly #options: FakeKubeApiServerOptions;
  #rv = 1;
  url = '';

  private constructor(options: FakeKubeApiServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        this.#status(res, 500, 'InternalError', String((e as Error).stack ?? e));
      });
    });
  }

  static async start(options: FakeKubeApiServerOptions = {}): Promise<FakeKubeApiServer> {
    const fake = new FakeKubeApiServer(options);
    await new Promise<void>((r) => fake.#server.listen(0, '127.0.0.1', r));
    fake.url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  // ---- scripting -------------------------------------------------------------------------------------------------

  /** How the Deployment (revision) of this name rolls out. */
  script(deployment: string, script: RolloutScript): void {
    this.#scripts.set(deployment, script);
  }

  /** The current log lines of every pod of a Deployment. */
  setLogs(deployment: string, lines: string[]): void {
    this.#logs.set(deployment, lines);
  }

  /** The next `times` requests matching answer `status` with a Status carrying `message`. */
  failNext(match: { method?: string; path: string | RegExp }, status: number, message = 'injected', times = 1): void {
    this.#injected.push({ ...match, status, message, remaining: times });
  }

  /** Marks a namespace as being deleted (a Namespace's status.phase). */
  setNamespacePhase(name: string, phase: 'Active' | 'Terminating'): void {
    const ns = this.#objects.get(this.#key('Namespace', undefined, name));
    if (ns) ns.status = { phase };
  }

  // ---- inspection ------------------------------------------------------------------------------------------------

  /** A stored object (a copy), by kind, namespace and name. */
  object(kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const o = this.#objects.get(this.#key(kind, namespace, name));
    return o && structuredClone(o);
  }

  /** `Kind namespace/name` of every stored object, sorted. */
  objectNames(): string[] {
    return [...this.#objects.values()]
      .map((o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`)
      .sort();
  }

  /** Requests other than API discovery, as `METHOD path` (the query left out). */
  calls(from = 0): string[] {
    return this.requests
      .slice(from)
      .filter((r) => !isDiscovery(r.path))
      .map((r) => `${r.method} ${r.path}`);
  }

  /** Polls (GETs) of a Deployment so far. */
  polls(deployment: string): number {
    return this.#polls.get(deployment) ?? 0;
  }

  // ---- HTTP ------------------------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const method = req.method ?? 'GET';
    const rec: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(req.headers['content-type'] && { contentType: req.headers['content-type'] }),
      ...(body !== undefined && { body }),
      ...(req.headers.authorization && { authorization: req.headers.authorization }),
    };
    this.requests.push(rec);

    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const ok = token !== undefined && (this.#options.authenticate ? await this.#options.authenticate(token) : true);
    if (!ok) {
      this.#status(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }

    const injected = this.#injected.find(
      (i) =>
        i.remaining > 0 &&
        (i.method === undefined || i.method === method) &&
        (typeof i.path === 'string' ? url.pathname.includes(i.path) : i.path.test(url.pathname)),
    );
    if (injected) {
      injected.remaining--;
      this.#status(res, injected.status, reasonOf(injected.status), injected.message);
      return;
    }

    if (isDiscovery(url.pathname)) {
      this.#discovery(res, url.pathname);
      return;
    }
    const route = this.#route(url.pathname);
    if (!route) {
      this.#status(res, 404, 'NotFound', `the server could not find the requested resource`);
      return;
    }
    const { kind, namespace, name, sub } = route;

    if (kind.kind === 'Pod' && method === 'GET' && name === undefined) {
      this.#json(res, 200, {
        kind: 'PodList',
        apiVersion: 'v1',
        items: this.#pods(namespace!, url.searchParams.get('labelSelector') ?? ''),
      });
      return;
    }
    if (kind.kind === 'Pod' && method === 'GET' && sub === 'log') {
      this.#log(res, namespace!, name!, url.searchParams);
      return;
    }
    if (kind.kind === 'Event' && method === 'GET' && name === undefined) {
      this.#json(res, 200, {
        kind: 'EventList',
        apiVersion: 'v1',
        items: this.#events(namespace!, url.searchParams.get('fieldSelector') ?? ''),
      });
      return;
    }
    if (name === undefined || sub !== undefined) {
      this.#status(res, 405, 'MethodNotAllowed', `${method} not supported here`);
      return;
    }

    if (method === 'PATCH') {
      this.#apply(req, res, kind, namespace, name, body, url.searchParams);
      return;
    }
    if (method === 'GET') {
      const obj = this.#objects.get(this.#key(kind.kind, namespace, name));
      if (!obj) {
        this.#notFound(res, kind, name);
        return;
      }
      if (kind.kind === 'Deployment') {
        this.#polls.set(name, (this.#polls.get(name) ?? 0) + 1);
        obj.status = this.#deploymentStatus(obj);
      }
      this.#json(res, 200, obj);
      return;
    }
    if (method === 'DELETE') {
      const key = this.#key(kind.kind, namespace, name);
      if (!this.#objects.delete(key)) {
        this.#notFound(res, kind, name);
        return;
      }
      this.#json(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Success',
        details: { name, kind: kind.plural },
      });
      return;
    }
    this.#status(res, 405, 'MethodNotAllowed', `${method} not supported`);
  }

  #apply(
    req: IncomingMessage,
    res: ServerResponse,
    kind: Kind,
    namespace: string | undefined,
    name: string,
    body: unknown,
    query: URLSearchParams,
  ): void {
    if (req.headers['content-type'] !== 'application/apply-patch+yaml') {
      this.#status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format`);
      return;
    }
    if (!query.get('fieldManager')) {
      this.#status(res, 422, 'Invalid', 'fieldManager: Required value: is required for apply patch');
      return;
    }
    const obj = body as Obj | undefined;
    if (!obj || typeof obj !== 'object' || obj.kind !== kind.kind || obj.apiVersion !== apiVersionOf(kind)) {
      this.#status(res, 400, 'BadRequest', `apply body must be a ${apiVersionOf(kind)} ${kind.kind}`);
      return;
    }
    if (obj.metadata?.name !== name || (kind.namespaced && (obj.metadata.namespace ?? namespace) !== namespace)) {
      this.#status(res, 400, 'BadRequest', 'the name (or namespace) of the object does not match the URL');
      return;
    }
    if (kind.namespaced && !this.#objects.has(this.#key('Namespace', undefined, namespace!))) {
      this.#status(res, 404, 'NotFound', `namespaces "${namespace}" not found`);
      return;
    }
    if (kind.kind === 'HTTPRoute' && this.#options.mirrorPercent === false) {
      const unknown = unknownMirrorFields(obj);
      if (unknown.length > 0 && query.get('fieldValidation') === 'Strict') {
        this.#status(
          res,
          422,
          'Invalid',
          `failed to create typed patch object: ${unknown[0]}: field not declared in schema`,
        );
        return;
      }
    }
    const key = this.#key(kind.kind, namespace, name);
    const existing = this.#objects.get(key);
    const specChanged = !existing || JSON.stringify(existing.spec) !== JSON.stringify(obj.spec);
    const stored: Obj = {
      ...structuredClone(obj),
      metadata: {
        ...structuredClone(obj.metadata),
        ...(kind.namespaced && { namespace }),
        uid: (existing?.metadata['uid'] as string | undefined) ?? randomUUID(),
        resourceVersion: String(this.#rv++),
        generation: (existing?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
        creationTimestamp: (existing?.metadata['creationTimestamp'] as string | undefined) ?? new Date().toISOString(),
      },
      ...(existing?.status && { status: existing.status }),
    };
    if (kind.kind === 'Namespace') stored.status ??= { phase: 'Active' };
    this.#objects.set(key, stored);
    this.#json(res, existing ? 200 : 201, stored);
  }

  // ---- simulated rollout ---------------------------------------------------------------------------------------

  #script(name: string): RolloutScript {
    return this.#scripts.get(name) ?? { readyAfterPolls: 2 };
  }

  /** 'pending' | 'ready' | failure kind, as of the Deployment's polls so far. */
  #phase(name: string): 'pending' | 'ready' | 'failed' {
    const s = this.#script(name);
    const polls = this.#polls.get(name) ?? 0;
    if ('readyAfterPolls' in s) return polls >= s.readyAfterPolls ? 'ready' : 'pending';
    if ('never' in s) return 'pending';
    return polls >= (s.afterPolls ?? 1) ? 'failed' : 'pending';
  }

  #deploymentStatus(d: Obj): Record<string, unknown> {
    const spec = d.spec as { replicas?: number };
    const n = spec.replicas ?? 1;
    const generation = d.metadata.generation ?? 1;
    const phase = this.#phase(d.metadata.name);
    if (phase === 'ready') {
      return {
        observedGeneration: generation,
        replicas: n,
        updatedReplicas: n,
        readyReplicas: n,
        availableReplicas: n,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
        ],
      };
    }
    return {
      observedGeneration: generation,
      replicas: n,
      updatedReplicas: n,
      unavailableReplicas: n,
      conditions: [
        { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
        { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
      ],
    };
  }

  /** The pods of every Deployment whose pod labels match the selector. */
  #pods(namespace: string, selector: string): unknown[] {
    const want = selector
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=') as [string, string]);
    const pods: unknown[] = [];
    for (const d of this.#objects.values()) {
      if (d.kind !== 'Deployment' || d.metadata.namespace !== namespace) continue;
      const template = (
        d.spec as { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } }
      ).template;
      const labels = template.metadata.labels;
      if (!want.every(([k, v]) => labels[k] === v)) continue;
      const n = (d.spec as { replicas?: number }).replicas ?? 1;
      for (let i = 0; i < n; i++) pods.push(this.#pod(d, template, i));
    }
    return pods;
  }

  #podName(d: Obj, i: number): string {
    const hash = createHash('sha256').update(String(d.metadata['uid'])).digest('hex').slice(0, 10);
    return `${d.metadata.name}-${hash}-${i}`;
  }

  #pod(d: Obj, template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> }, i: number) {
    const name = this.#podName(d, i);
    const phase = this.#phase(d.metadata.name);
    const script = this.#script(d.metadata.name);
    const container = (template.spec['containers'] as { name: string }[])[0]?.name ?? 'model-server';
    const base = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        labels: template.metadata.labels,
        creationTimestamp: d.metadata['creationTimestamp'],
        uid: `${d.metadata['uid']}-${i}`,
      },
      spec: { ...template.spec, nodeName: 'ip-10-0-1-23.ec2.internal' },
    };
    const scheduled = { type: 'PodScheduled', status: 'True' };
    if (phase === 'ready') {
      return {
        ...base,
        status: {
          phase: 'Running',
          conditions: [scheduled, { type: 'Ready', status: 'True' }],
          containerStatuses: [
            {
              name: container,
              ready: true,
              restartCount: 0,
              image: '',
              imageID: '',
              state: { running: { startedAt: new Date().toISOString() } },
            },
          ],
        },
      };
    }
    if (phase === 'pending' || !('fail' in script)) {
      const polls = this.#polls.get(d.metadata.name) ?? 0;
      return {
        ...base,
        status: {
          phase: polls === 0 ? 'Pending' : 'Running',
          conditions: [scheduled, { type: 'Ready', status: 'False' }],
          containerStatuses: [
            polls === 0
              ? {
                  name: container,
                  ready: false,
                  restartCount: 0,
                  image: '',
                  imageID: '',
                  state: { waiting: { reason: 'ContainerCreating' } },
                }
              : {
                  name: container,
                  ready: false,
                  restartCount: 0,
                  image: '',
                  imageID: '',
                  state: { running: { startedAt: new Date().toISOString() } },
                },
          ],
        },
      };
    }
    const cs = { name: container, ready: false, image: '', imageID: '' };
    switch (script.fail) {
      case 'OOMKilled':
        return {
          ...base,
          status: {
            phase: 'Running',
            conditions: [scheduled, { type: 'Ready', status: 'False' }],
            containerStatuses: [
              {
                ...cs,
                restartCount: 3,
                state: {
                  waiting: {
                    reason: 'CrashLoopBackOff',
                    message: `back-off 40s restarting failed container=${container}`,
                  },
                },
                lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } },
              },
            ],
          },
        };
      case 'CrashLoopBackOff':
        return {
          ...base,
          status: {
            phase: 'Running',
            conditions: [scheduled, { type: 'Ready', status: 'False' }],
            containerStatuses: [
              {
                ...cs,
                restartCount: 2,
                state: {
                  waiting: {
                    reason: 'CrashLoopBackOff',
                    message: `back-off 20s restarting failed container=${container}`,
                  },
                },
                lastState: { terminated: { reason: 'Error', exitCode: script.exitCode ?? 1 } },
              },
            ],
          },
        };
      case 'ImagePullBackOff':
        return {
          ...base,
          status: {
            phase: 'Pending',
            conditions: [scheduled, { type: 'Ready', status: 'False' }],
            containerStatuses: [
              {
                ...cs,
                restartCount: 0,
                state: {
                  waiting: {
                    reason: 'ImagePullBackOff',
                    message: `Back-off pulling image "${(template.spec['containers'] as { image: string }[])[0]?.image}"`,
                  },
                },
              },
            ],
          },
        };
      case 'Unschedulable':
        return {
          ...base,
          spec: template.spec,
          status: {
            phase: 'Pending',
            conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: script.message }],
          },
        };
    }
  }

  #events(namespace: string, fieldSelector: string): unknown[] {
    const podName = /involvedObject\.name=([^,]+)/.exec(fieldSelector)?.[1];
    const events: unknown[] = [];
    for (const d of this.#objects.values()) {
      if (d.kind !== 'Deployment' || d.metadata.namespace !== namespace) continue;
      const script = this.#script(d.metadata.name);
      if (!('fail' in script) || this.#phase(d.metadata.name) !== 'failed') continue;
      const n = (d.spec as { replicas?: number }).replicas ?? 1;
      for (let i = 0; i < n; i++) {
        const pod = this.#podName(d, i);
        if (podName !== undefined && pod !== podName) continue;
        const event = (reason: string, message: string, at: string) => ({
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${pod}.${reason.toLowerCase()}`, namespace },
          involvedObject: { kind: 'Pod', name: pod, namespace },
          reason,
          message,
          type: 'Warning',
          lastTimestamp: at,
        });
        if (script.fail === 'ImagePullBackOff') {
          events.push(event('Pulling', 'Pulling image', '2024-01-01T00:00:00Z'));
          events.push(event('Failed', script.message, '2024-01-01T00:00:05Z'));
        }
        if (script.fail === 'Unschedulable') {
          events.push(event('FailedScheduling', script.message, '2024-01-01T00:00:01Z'));
          if (script.scaleUp) {
            events.push(
              event('TriggeredScaleUp', 'pod triggered scale-up: [{eks-ng-1 2->3 (max: 10)}]', '2024-01-01T00:00:02Z'),
            );
          }
        }
      }
    }
    return events;
  }

  #log(res: ServerResponse, namespace: string, pod: string, q: URLSearchParams): void {
    const d = [...this.#objects.values()].find(
      (o) =>
        o.kind === 'Deployment' &&
        o.metadata.namespace === namespace &&
        Array.from({ length: (o.spec as { replicas?: number }).replicas ?? 1 }, (_, i) => this.#podName(o, i)).includes(
          pod,
        ),
    );
    if (!d) {
      this.#status(res, 404, 'NotFound', `pods "${pod}" not found`);
      return;
    }
    const script = this.#script(d.metadata.name);
    let lines: string[];
    if (q.get('previous') === 'true') {
      if (!('fail' in script) || (script.fail !== 'CrashLoopBackOff' && script.fail !== 'OOMKilled')) {
        this.#status(
          res,
          400,
          'BadRequest',
          `previous terminated container "${q.get('container')}" in pod "${pod}" not found`,
        );
        return;
      }
      lines = script.fail === 'CrashLoopBackOff' ? script.logs : ['{"level":"info","msg":"loading model"}'];
    } else {
      lines =
        this.#logs.get(d.metadata.name) ??
        ('never' in script
          ? [
              '{"level":"info","msg":"model server listening"}',
              JSON.stringify({ level: 'error', msg: script.reason ?? 'not ready' }),
            ]
          : DEFAULT_LOG);
    }
    const tail = Number(q.get('tailLines') ?? lines.length);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(
      lines
        .slice(-tail)
        .map((l) => `${l}\n`)
        .join(''),
    );
  }

  // ---- plumbing --------------------------------------------------------------------------------------------------

  #key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}/${namespace ?? ''}/${name}`;
  }

  #route(path: string): { kind: Kind; namespace?: string; name?: string; sub?: string } | undefined {
    const m =
      /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(path) ??
      /^\/apis\/([^/]+)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(path);
    if (!m) return undefined;
    const core = path.startsWith('/api/v1/');
    // `/api/v1/namespaces/<name>` is the Namespace itself.
    if (core && m[1] === undefined && m[2] === 'namespaces') {
      return { kind: KINDS[0]!, ...(m[3] !== undefined && { name: m[3] }) };
    }
    if (core && m[1] !== undefined && m[2] === undefined) return undefined;
    const [group, version, namespace, plural, name, sub] = core
      ? ['', 'v1', m[1], m[2], m[3], m[4]]
      : [m[1], m[2], m[3], m[4], m[5], m[6]];
    if (core && m[1] === undefined) {
      // `/api/v1/namespaces/<ns>` matched above; `/api/v1/<plural>` across namespaces is not supported.
      return undefined;
    }
    const kind = KINDS.find((k) => k.group === group && k.version === version && k.plural === plural);
    if (!kind || (kind.group === 'gateway.networking.k8s.io' && this.#options.gatewayApi === false)) return undefined;
    return {
      kind,
      ...(namespace !== undefined && { namespace }),
      ...(name !== undefined && { name }),
      ...(sub !== undefined && { sub }),
    };
  }

  #discovery(res: ServerResponse, path: string): void {
    const gv = path === '/api/v1' ? 'v1' : path.slice('/apis/'.length);
    const kinds = KINDS.filter((k) => apiVersionOf(k) === gv);
    if (kinds.length === 0 || (gv.startsWith('gateway.networking.k8s.io') && this.#options.gatewayApi === false)) {
      this.#status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    this.#json(res, 200, {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv,
      resources: kinds.map((k) => ({
        name: k.plural,
        singularName: k.kind.toLowerCase(),
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      })),
    });
  }

  #notFound(res: ServerResponse, kind: Kind, name: string): void {
    this.#status(res, 404, 'NotFound', `${kind.plural}${kind.group ? `.${kind.group}` : ''} "${name}" not found`);
  }

  #status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.#json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }

  #json(res: ServerResponse, code: number, body: unknown): void {
    if (res.headersSent) return;
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

/** Paths of `percent`/`fraction` in the RequestMirror filters of an HTTPRoute (dropped from `obj` in place). */
function unknownMirrorFields(obj: Obj): string[] {
  const found: string[] = [];
  const spec = obj.spec as { rules?: { filters?: { requestMirror?: Record<string, unknown> }[] }[] } | undefined;
  const rules = spec?.rules ?? [];
  rules.forEach((rule, r) => {
    (rule.filters ?? []).forEach((f, i) => {
      for (const field of ['percent', 'fraction']) {
        if (f.requestMirror && field in f.requestMirror) {
          found.push(`.spec.rules[${r}].filters[${i}].requestMirror.${field}`);
          delete f.requestMirror[field];
        }
      }
    });
  });
  return found;
}

export const isDiscovery = (path: string): boolean => path === '/api/v1' || /^\/apis\/[^/]+\/[^/]+$/.test(path);

const reasonOf = (code: number): string =>
  ({
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'AlreadyExists',
    422: 'Invalid',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
  })[code] ?? 'Unknown';
