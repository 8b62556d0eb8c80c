import type { Environments } from '../../core/environments.js';
import type {
  ClusterGateway,
  ClusterGateways,
  ModelKey,
  RevisionIdentity,
  RevisionSpec,
  RevisionState,
  VersionKey,
} from '../../core/ports.js';
import type { RouteRule } from '../../core/schemas/index.js';

export type ClusterMethod = keyof ClusterGateway;
export interface ClusterCall {
  method: ClusterMethod;
  args: unknown[];
}

const versionId = (k: VersionKey) => `${k.project}/${k.model}/${k.version}`;
const modelId = (k: ModelKey) => `${k.project}/${k.model}`;

/**
 * A cluster that records every call and keeps what was applied. A revision's readiness is scripted per revision
 * name (`script('iris-1-r1', {state:'starting'}, {state:'ready'})`: one state per check, the last one sticks);
 * unscripted revisions are ready once applied and absent otherwise.
 */
export class FakeCluster implements ClusterGateway {
  readonly calls: ClusterCall[] = [];
  /** Applied revisions by name. */
  readonly revisions = new Map<string, RevisionSpec>();
  /** Version endpoint address → revision, by `project/model/version`. */
  readonly versionRoutes = new Map<string, RevisionIdentity>();
  /** Model endpoint rules by `project/model`. */
  readonly modelRoutes = new Map<string, RouteRule>();
  readonly logs = new Map<string, string[]>();
  private readonly scripts = new Map<string, RevisionState[]>();
  private readonly failures: { method: ClusterMethod; error: Error; remaining: number }[] = [];

  constructor(readonly environment = 'local') {}

  async applyRevision(spec: RevisionSpec): Promise<void> {
    this.record('applyRevision', spec);
    this.revisions.set(spec.name, structuredClone(spec));
  }

  async revisionStatus(revision: RevisionIdentity, options?: { waitMs?: number }): Promise<RevisionState> {
    this.record('revisionStatus', revision, options);
    const script = this.scripts.get(revision.name);
    if (script && script.length > 0) {
      const state = script.length > 1 ? script.shift()! : script[0]!;
      return structuredClone(state);
    }
    return this.revisions.has(revision.name) ? { state: 'ready' } : { state: 'absent' };
  }

  async deleteRevision(revision: RevisionIdentity): Promise<void> {
    this.record('deleteRevision', revision);
    this.revisions.delete(revision.name);
  }

  async routeVersion(version: VersionKey, revision: RevisionIdentity): Promise<void> {
    this.record('routeVersion', version, revision);
    this.versionRoutes.set(versionId(version), structuredClone(revision));
  }

  async unrouteVersion(version: VersionKey): Promise<void> {
    this.record('unrouteVersion', version);
    this.versionRoutes.delete(versionId(version));
  }

  async applyModelRoute(model: ModelKey, rule: RouteRule): Promise<void> {
    this.record('applyModelRoute', model, rule);
    this.modelRoutes.set(modelId(model), structuredClone(rule));
  }

  async deleteModelRoute(model: ModelKey): Promise<void> {
    this.record('deleteModelRoute', model);
    this.modelRoutes.delete(modelId(model));
  }

  async revisionLogs(revision: RevisionIdentity, options: { tail: number }): Promise<string[]> {
    this.record('revisionLogs', revision, options);
    return (this.logs.get(revision.name) ?? []).slice(-options.tail);
  }

  // ---- test helpers ----

  /** The states the next readiness checks of a revision answer, in order; the last one repeats. */
  script(revisionName: string, ...states: RevisionState[]): this {
    this.scripts.set(revisionName, structuredClone(states));
    return this;
  }

  /** The next `times` calls of `method` throw `error` (nothing is recorded as applied). */
  failOn(method: ClusterMethod, error: Error, times = 1): this {
    this.failures.push({ method, error, remaining: times });
    return this;
  }

  /** Method names called, in order (optionally only these methods). */
  methods(...only: ClusterMethod[]): ClusterMethod[] {
    return this.calls.map((c) => c.method).filter((m) => only.length === 0 || only.includes(m));
  }

  callsOf(method: ClusterMethod): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  private record(method: ClusterMethod, ...args: unknown[]): void {
    this.calls.push({ method, args: structuredClone(args.filter((a) => a !== undefined)) });
    const i = this.failures.findIndex((f) => f.method === method && f.remaining > 0);
    if (i < 0) return;
    const failure = this.failures[i]!;
    failure.remaining -= 1;
    if (failure.remaining === 0) this.failures.splice(i, 1);
    throw failure.error;
  }
}

/** One FakeCluster per environment, created on first use; unknown environments fail as the real registry does. */
export class FakeClusters implements ClusterGateways {
  private readonly clusters = new Map<string, FakeCluster>();

  constructor(private readonly environments?: Environments) {}

  forEnvironment(environment: string): FakeCluster {
    this.environments?.get(environment);
    return this.of(environment);
  }

  /** The cluster of an environment (for arranging and asserting). */
  of(environment = 'local'): FakeCluster {
    let cluster = this.clusters.get(environment);
    if (!cluster) {
      cluster = new FakeCluster(environment);
      this.clusters.set(environment, cluster);
    }
    return cluster;
  }
}
