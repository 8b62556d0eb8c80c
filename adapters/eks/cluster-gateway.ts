/**
 * The ClusterGateway of `eks` environments (DESIGN §2): model servers as Kubernetes Deployments, version and model
 * endpoints as Gateway API HTTPRoutes, everything written by server-side apply (adapters/eks/client.ts) from the pure
 * builders in manifests.ts. Behaviour matches the local process cluster where the port says so: every method is
 * idempotent, deleting what is gone is no error, readiness waits up to `waitMs` and failures carry a precise reason.
 *
 * Requests per call (namespace `ns` = prefix + project; `r` = revision; `v` = `{model}-{version}`):
 * - applyRevision: PATCH namespace ns; PATCH secret `r-secrets` (only with secrets); PATCH deployment r; PATCH
 *   service r; PATCH horizontalpodautoscaler r; PATCH poddisruptionbudget r.
 * - revisionStatus: per poll GET deployment r, LIST pods (label merlin.dev/revision=r); LIST events of a pod
 *   (unschedulable / image pull) or GET its previous log (crash loop) only to explain a failure; GET the log of a
 *   running but unready model server once when a wait ends still starting (its last line joins the reason).
 * - deleteRevision: DELETE (Foreground) horizontalpodautoscaler, deployment, service, poddisruptionbudget r and
 *   secret `r-secrets`; 404s ignored.
 * - routeVersion: PATCH service v (selector → r); PATCH httproute v. unrouteVersion: DELETE httproute v, service v.
 * - applyModelRoute: PATCH httproute `{model}-endpoint`. deleteModelRoute: DELETE it.
 * - revisionLogs: LIST pods, GET each pod's log (its previous instance's when the current one has none yet).
 * The client also GETs API discovery of the Gateway API group (`/apis/gateway.networking.k8s.io/v1`) once, before
 * its first HTTPRoute call, to tell a cluster without the CRDs from a missing route.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IEvent } from 'kubernetes-models/v1/Event';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { DependencyError } from '../../core/errors.js';
import type {
  ClusterGateway,
  ModelKey,
  RevisionIdentity,
  RevisionSpec,
  RevisionState,
  VersionKey,
} from '../../core/ports.js';
import type { RouteRule } from '../../core/schemas/index.js';
import type { KubeClient } from './client.js';
import {
  buildModelRoute,
  buildRevision,
  buildVersionRoute,
  buildVersionService,
  type ClusterSettings,
  CONTAINER_NAME,
  deploymentRef,
  modelRouteRef,
  namespaceOf,
  revisionRefs,
  revisionSelector,
  selectorString,
  versionRouteRef,
  versionServiceRef,
} from './manifests.js';
import { crashLoopState, diagnose, imagePullState, lastTellingLine, unschedulableState } from './reasons.js';

/** Between two readiness polls while revisionStatus waits. */
export const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** Lines of a crashed container's previous log read to find its last word. */
const CRASH_LOG_LINES = 50;

export interface EksClusterGatewayOptions {
  /** The environment's name (for messages). */
  environment: string;
  settings: ClusterSettings;
  client: KubeClient;
  /** Default 2 s. */
  pollIntervalMs?: number;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class EksClusterGateway implements ClusterGateway {
  readonly #env: string;
  readonly #s: ClusterSettings;
  readonly #k: KubeClient;
  readonly #pollMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;

  constructor(o: EksClusterGatewayOptions) {
    this.#env = o.environment;
    this.#s = o.settings;
    this.#k = o.client;
    this.#pollMs = o.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#sleep = o.sleep ?? defaultSleep;
    this.#now = o.now ?? Date.now;
  }

  async applyRevision(spec: RevisionSpec): Promise<void> {
    // Refuse before creating anything what could never be routed or run.
    this.#requireGateway();
    let manifests: ReturnType<typeof buildRevision>;
    try {
      manifests = buildRevision(this.#s, spec);
    } catch (e) {
      throw new DependencyError(`environment "${this.#env}": ${(e as Error).message}`);
    }
    const [namespace, ...rest] = manifests;
    const applied = await this.#k.apply<{ status?: { phase?: string } }>(namespace!);
    if (applied.status?.phase === 'Terminating') {
      throw new DependencyError(
        `namespace ${namespace!.metadata.name} is being deleted in cluster of environment "${this.#env}"; deploy again once it is gone`,
      );
    }
    for (const m of rest) await this.#k.apply(m);
  }

  async revisionStatus(revision: RevisionIdentity, options: { waitMs?: number } = {}): Promise<RevisionState> {
    const deadline = this.#now() + (options.waitMs ?? 0);
    for (;;) {
      const { state, notReady } = await this.#inspect(revision);
      if (state.state !== 'starting') return state;
      if (this.#now() + this.#pollMs > deadline) {
        // Still starting when the wait ends: a model server that runs but never gets ready usually logged why, and
        // the deploy's timeout message carries this reason.
        if (!notReady || !(options.waitMs ?? 0)) return state;
        const log = await this.#k.podLog(namespaceOf(this.#s, revision.project), notReady.pod, {
          container: notReady.container,
          tailLines: CRASH_LOG_LINES,
        });
        const line = lastTellingLine(log);
        return line ? { state: 'starting', reason: `${state.reason}; last log line: ${line}` } : state;
      }
      await this.#sleep(this.#pollMs);
    }
  }

  async deleteRevision(revision: RevisionIdentity): Promise<void> {
    for (const ref of revisionRefs(this.#s, revision)) await this.#k.remove(ref, 'Foreground');
  }

  async routeVersion(version: VersionKey, revision: RevisionIdentity): Promise<void> {
    const route = this.#build(() => buildVersionRoute(this.#s, version));
    await this.#k.apply(buildVersionService(this.#s, version, revision));
    await this.#k.apply(route);
  }

  async unrouteVersion(version: VersionKey): Promise<void> {
    await this.#k.remove(versionRouteRef(this.#s, version), 'Foreground');
    await this.#k.remove(versionServiceRef(this.#s, version), 'Foreground');
  }

  async applyModelRoute(model: ModelKey, rule: RouteRule): Promise<void> {
    const route = this.#build(() => buildModelRoute(this.#s, model, rule));
    await this.#k.apply(route);
  }

  async deleteModelRoute(model: ModelKey): Promise<void> {
    await this.#k.remove(modelRouteRef(this.#s, model), 'Foreground');
  }

  async revisionLogs(revision: RevisionIdentity, options: { tail: number }): Promise<string[]> {
    const namespace = namespaceOf(this.#s, revision.project);
    const pods = (await this.#k.listPods<IPod>(namespace, selectorString(revisionSelector(revision))))
      .filter((p) => p.metadata?.name)
      .sort(
        (a, b) =>
          new Date(a.metadata?.creationTimestamp ?? 0).getTime() -
          new Date(b.metadata?.creationTimestamp ?? 0).getTime(),
      );
    const lines: string[] = [];
    for (const pod of pods) {
      const name = pod.metadata!.name!;
      const restarted = (pod.status?.containerStatuses ?? []).some(
        (c) => c.name === CONTAINER_NAME && c.restartCount > 0,
      );
      let log = await this.#k.podLog(namespace, name, { container: CONTAINER_NAME, tailLines: options.tail });
      if (!log && restarted) {
        log = await this.#k.podLog(namespace, name, {
          container: CONTAINER_NAME,
          tailLines: options.tail,
          previous: true,
        });
      }
      if (log) lines.push(...log.replace(/\r?\n$/, '').split(/\r?\n/));
    }
    return lines.slice(-options.tail);
  }

  // ---- internals -------------------------------------------------------------------------------------------------

  async #inspect(
    revision: RevisionIdentity,
  ): Promise<{ state: RevisionState; notReady?: { pod: string; container: string } | undefined }> {
    const namespace = namespaceOf(this.#s, revision.project);
    const deployment = await this.#k.read<IDeployment>(deploymentRef(this.#s, revision));
    if (!deployment) return { state: { state: 'absent' } };
    const pods = await this.#k.listPods<IPod>(namespace, selectorString(revisionSelector(revision)));
    const d = diagnose(deployment, pods);
    switch (d.kind) {
      case 'state':
        return { state: d.state, notReady: d.notReady };
      case 'crash-loop': {
        const log = await this.#k.podLog(namespace, d.pod, {
          container: d.container,
          tailLines: CRASH_LOG_LINES,
          previous: true,
        });
        return { state: crashLoopState(d, log) };
      }
      case 'image-pull':
        return { state: imagePullState(d, await this.#k.listEvents<IEvent>(namespace, podEvents(d.pod))) };
      case 'unschedulable':
        return { state: unschedulableState(d, await this.#k.listEvents<IEvent>(namespace, podEvents(d.pod))) };
    }
  }

  #requireGateway(): void {
    if (!this.#s.gateway) {
      throw new DependencyError(
        `environment "${this.#env}" declares no cluster.gateway: name the Gateway API Gateway ({name, namespace}) the model servers' HTTPRoutes attach to`,
      );
    }
  }

  #build<T>(make: () => T): T {
    this.#requireGateway();
    try {
      return make();
    } catch (e) {
      throw new DependencyError(`environment "${this.#env}": ${(e as Error).message}`);
    }
  }
}

const podEvents = (pod: string): string => `involvedObject.kind=Pod,involvedObject.name=${pod}`;
