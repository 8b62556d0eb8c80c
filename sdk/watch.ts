/**
 * Following a Deployment (`GET /v1/deployments/{id}`) until it ends. The poll interval adapts: 100 ms after every
 * change, growing ×1.5 up to 1 s while nothing moves, so a local deploy's steps are reported within a tenth of a
 * second of happening and a long EKS rollout costs one request a second. Each step's transitions are reported once,
 * as they are seen: `running` when it starts, then `succeeded` / `failed` / `skipped` with the duration the server
 * recorded (its `startedAt` → `endedAt`), not the time between polls. The deadline holds: each poll gets the time
 * that is left (its request is aborted when it runs out), and so does each wait.
 */
import type { Deployment, DeploymentStep } from '../core/schemas/deployment.js';
import { DeploymentFailedError, MerlinTimeoutError, targetOf } from './errors.js';
import { anySignal, sleepUnless, timeoutSignal } from './transport.js';

export type StepStatus = 'running' | 'succeeded' | 'failed' | 'skipped';

/** What `deploy`, `logModel`, `serveTraffic`… report as they go. */
export type ProgressEvent =
  | {
      type: 'step';
      /** A readable name: `Upload model.onnx`, `Wait Until Ready`, `Deploy demo/iris@3 to local`. */
      step: string;
      status: StepStatus;
      /** Set on the end of a step (`succeeded`/`failed`), when its duration is known. */
      durationMs?: number;
      /** A short note: `533 B`, `created`, `deployment 01J…`. */
      detail?: string;
      error?: string;
      /** The deployment this step belongs to. */
      deploymentId?: string;
      /** 1 for a workflow's own steps (`Prepare`, `Wait Until Ready`…), nested in the step that started it. */
      depth?: 1;
    }
  | {
      type: 'upload';
      path: string;
      loaded: number;
      total: number;
      attempt: number;
    };

export type OnProgress = (event: ProgressEvent) => void;

export interface WatchOptions {
  onProgress?: OnProgress | undefined;
  /** Give up after this long (default 10 minutes): `MerlinTimeoutError` naming the step it was in. */
  timeoutMs?: number | undefined;
  /** The deployment as already known (e.g. the 202 answer): reported first, without fetching it again. */
  initial?: Deployment | undefined;
  /** Stops watching (the deployment goes on), rejecting with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export interface WatchDeps {
  /** One poll; `signal` aborts it when the time left runs out (or the caller's signal aborts). */
  get: (id: string, o: { signal?: AbortSignal | undefined }) => Promise<Deployment>;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 1000;

const durationOf = (s: DeploymentStep): number | undefined =>
  s.startedAt && s.endedAt ? Math.max(0, Date.parse(s.endedAt) - Date.parse(s.startedAt)) : undefined;

/**
 * Resolves with the deployment once it `succeeded`; throws `DeploymentFailedError` (carrying it) when it `failed`,
 * `MerlinTimeoutError` when `timeoutMs` passed first (the deployment goes on on the server).
 */
export async function watchDeployment(id: string, deps: WatchDeps, o: WatchOptions = {}): Promise<Deployment> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = deps.now();
  const reported = new Map<string, string>();
  const report = (d: Deployment): boolean => {
    let changed = false;
    for (const s of d.steps) {
      if (s.status === 'pending' || reported.get(s.name) === s.status) continue;
      reported.set(s.name, s.status);
      changed = true;
      const durationMs = s.status === 'running' ? undefined : durationOf(s);
      o.onProgress?.({
        type: 'step',
        step: s.name,
        status: s.status,
        deploymentId: d.id,
        depth: 1,
        ...(durationMs !== undefined && { durationMs }),
        ...(s.error !== undefined && { error: s.error }),
      });
    }
    return changed;
  };
  if (o.initial) report(o.initial);

  let interval = MIN_INTERVAL_MS;
  let last = o.initial;
  for (;;) {
    if (!last || !isOver(last)) {
      const left = timeoutMs - (deps.now() - started);
      if (left <= 0) throw timeoutError(id, last, timeoutMs);
      const deadline = timeoutSignal(left);
      let d: Deployment;
      try {
        d = await deps.get(id, { signal: anySignal([o.signal, deadline]) });
      } catch (e) {
        if (!o.signal?.aborted && (deadline.aborted || deps.now() - started >= timeoutMs)) {
          throw timeoutError(id, last, timeoutMs);
        }
        throw e;
      }
      interval = report(d) ? MIN_INTERVAL_MS : Math.min(MAX_INTERVAL_MS, Math.round(interval * 1.5));
      last = d;
    }
    if (last.status === 'succeeded') return last;
    if (last.status === 'failed') throw new DeploymentFailedError(last);
    const elapsed = deps.now() - started;
    if (elapsed >= timeoutMs) throw timeoutError(id, last, timeoutMs);
    await sleepUnless(deps.sleep, Math.min(interval, timeoutMs - elapsed), o.signal);
  }
}

const isOver = (d: Deployment) => d.status === 'succeeded' || d.status === 'failed';

function timeoutError(id: string, d: Deployment | undefined, timeoutMs: number): MerlinTimeoutError {
  if (!d) {
    return new MerlinTimeoutError(
      `deployment ${id} could not be read within ${Math.round(timeoutMs / 1000)} s. It goes on on the server: ` +
        `follow it with \`merlin deployments watch ${id}\`.`,
      { timeoutMs },
    );
  }
  const current =
    d.steps.find((s) => s.status === 'running') ?? [...d.steps].reverse().find((s) => s.status !== 'pending');
  const where = current
    ? ` It was in step "${current.name}"${current.status === 'running' ? '' : ` (${current.status})`}.`
    : ' No step had started.';
  return new MerlinTimeoutError(
    `${d.kind} of ${targetOf(d)} in ${d.environment} (deployment ${d.id}) did not finish within ` +
      `${Math.round(timeoutMs / 1000)} s.${where} It goes on on the server: follow it with ` +
      `\`merlin deployments watch ${d.id}\`.`,
    { timeoutMs, deployment: d, ...(current && { step: current.name }) },
  );
}
