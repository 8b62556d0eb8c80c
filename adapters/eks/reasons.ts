/**
 * Why a revision is not ready, read the way an operator would: from the Deployment's status, its pods' container
 * states, their events and the crashed container's last log line. Pure functions over API objects; the gateway
 * fetches events and logs only when a diagnosis asks for them.
 *
 * Failure reasons start with a stable token, then the detail: `OOMKilled: …`, `CrashLoopBackOff: <last log line>`,
 * `ImagePullBackOff: <message>`, `Unschedulable: <event message>`, `CreateContainerConfigError: …`,
 * `ProgressDeadlineExceeded: …`, `FailedCreate: …`.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainerStatus } from 'kubernetes-models/v1/ContainerStatus';
import type { IEvent } from 'kubernetes-models/v1/Event';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { RevisionState } from '../../core/ports.js';

/** What is known from the Deployment and pods alone, or what more must be fetched to say why it fails. */
export type Diagnosis =
  | {
      kind: 'state';
      state: RevisionState;
      /** A pod whose model server runs but is not ready yet: its log may say why, should the wait time out. */
      notReady?: { pod: string; container: string };
    }
  /** A container restarts over and over: its previous instance's log says why. */
  | { kind: 'crash-loop'; pod: string; container: string; exitCode?: number; detail?: string }
  /** The image cannot be pulled: the pod's `Failed` events carry the registry's answer. */
  | { kind: 'image-pull'; pod: string; reason: string; detail?: string }
  /** The scheduler finds no node: its `FailedScheduling` event says why (and an autoscaler may be adding one). */
  | { kind: 'unschedulable'; pod: string; detail?: string };

/** Waiting reasons that do not heal by waiting. */
const CONFIG_ERRORS = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'InvalidImageName',
]);
const IMAGE_PULL_FAILURES = new Set(['ImagePullBackOff', 'ErrImageNeverPull']);

const time = (d: string | undefined): number => (d === undefined ? 0 : Date.parse(d) || 0);
const liveTerminated = (c: IContainerStatus) => c.state?.terminated ?? c.lastState?.terminated;

/** Pods of the revision that are not on their way out, newest first. */
const currentPods = (pods: readonly IPod[]): IPod[] =>
  pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp));

const limitOf = (pod: IPod, container: string): string | undefined => {
  const limit = pod.spec?.containers.find((c) => c.name === container)?.resources?.limits?.['memory'];
  return limit === undefined ? undefined : String(limit);
};

/** Ranks the problems of all pods and names the worst: OOM, broken config, image, crash loop, scheduling. */
function podProblem(pods: readonly IPod[]): { rank: number; diagnosis: Diagnosis } | undefined {
  let worst: { rank: number; diagnosis: Diagnosis } | undefined;
  const consider = (rank: number, diagnosis: Diagnosis) => {
    if (!worst || rank < worst.rank) worst = { rank, diagnosis };
  };
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '?';
    for (const c of pod.status?.containerStatuses ?? []) {
      const terminated = liveTerminated(c);
      if (terminated?.reason === 'OOMKilled') {
        const limit = limitOf(pod, c.name);
        consider(1, {
          kind: 'state',
          state: {
            state: 'failed',
            reason: `OOMKilled: container "${c.name}" of pod ${name} ran out of memory${limit ? ` (limit ${limit})` : ''} and was killed${c.restartCount > 0 ? ` (${c.restartCount} restarts)` : ''}`,
          },
        });
        continue;
      }
      const waiting = c.state?.waiting;
      if (!waiting?.reason) continue;
      if (CONFIG_ERRORS.has(waiting.reason)) {
        consider(2, {
          kind: 'state',
          state: {
            state: 'failed',
            reason: `${waiting.reason}: ${waiting.message ?? `container "${c.name}" cannot start`}`,
          },
        });
      } else if (IMAGE_PULL_FAILURES.has(waiting.reason)) {
        consider(3, {
          kind: 'image-pull',
          pod: name,
          reason: waiting.reason,
          ...(waiting.message && { detail: waiting.message }),
        });
      } else if (waiting.reason === 'CrashLoopBackOff') {
        const last = c.lastState?.terminated;
        const detail = last?.message?.trim() || undefined;
        consider(4, {
          kind: 'crash-loop',
          pod: name,
          container: c.name,
          ...(last?.exitCode !== undefined && { exitCode: last.exitCode }),
          ...(detail && { detail }),
        });
      }
    }
    const scheduled = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      consider(5, { kind: 'unschedulable', pod: name, ...(scheduled.message && { detail: scheduled.message }) });
    }
  }
  return worst;
}

/** What one pod is doing while the revision starts, for the `starting` reason. */
function podProgress(pod: IPod): string {
  const name = pod.metadata?.name ?? '?';
  const scheduled = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
  if (!pod.spec?.nodeName && scheduled?.status !== 'True') return `pod ${name} is waiting to be scheduled`;
  const c = pod.status?.containerStatuses?.[0];
  if (!c) return `pod ${name} is ${pod.status?.phase ?? 'Pending'}`;
  if (c.state?.waiting?.reason) {
    const m = c.state.waiting.message;
    return `pod ${name}: ${c.state.waiting.reason}${m ? `: ${m}` : ''}`;
  }
  if (c.state?.running && !c.ready) return `pod ${name}: model server started, waiting for it to be ready`;
  if (c.state?.terminated)
    return `pod ${name}: container exited (${c.state.terminated.reason ?? c.state.terminated.exitCode})`;
  return `pod ${name} is ${pod.status?.phase ?? 'Pending'}`;
}

/**
 * The revision's state from its Deployment and pods: ready once the rollout is complete with at least one available
 * replica (kubectl rollout status: observed generation, all replicas updated and available); failed when a pod shows
 * a problem that waiting does not fix; otherwise starting, with what the pods are doing.
 */
export function diagnose(deployment: IDeployment | undefined, pods: readonly IPod[]): Diagnosis {
  if (!deployment || deployment.metadata?.deletionTimestamp) return { kind: 'state', state: { state: 'absent' } };
  const live = currentPods(pods);
  const problem = podProblem(live);
  if (problem) return problem.diagnosis;

  const status = deployment.status ?? {};
  const conditions = status.conditions ?? [];
  const replicaFailure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (replicaFailure) {
    return {
      kind: 'state',
      state: {
        state: 'failed',
        reason: `${replicaFailure.reason ?? 'ReplicaFailure'}: ${replicaFailure.message ?? ''}`.trim(),
      },
    };
  }
  const progressing = conditions.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    const detail = live[0] ? `; ${podProgress(live[0])}` : '';
    return {
      kind: 'state',
      state: {
        state: 'failed',
        reason: `ProgressDeadlineExceeded: ${progressing.message ?? 'the rollout made no progress'}${detail}`,
      },
    };
  }

  const desired = deployment.spec?.replicas ?? 1;
  const generation = deployment.metadata?.generation ?? 0;
  const observed = status.observedGeneration ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (observed >= generation && updated >= desired && total <= updated && available >= updated && available >= 1) {
    return { kind: 'state', state: { state: 'ready' } };
  }
  const counts = `${available}/${desired} replicas ready`;
  if (observed < generation)
    return { kind: 'state', state: { state: 'starting', reason: `${counts}; rollout not yet observed` } };
  const pod = live[0];
  const running = pod?.status?.containerStatuses?.find((c) => c.state?.running && !c.ready);
  return {
    kind: 'state',
    state: {
      state: 'starting',
      reason: pod ? `${counts}; ${podProgress(pod)}` : `${counts}; waiting for pods to be created`,
    },
    ...(pod?.metadata?.name && running && { notReady: { pod: pod.metadata.name, container: running.name } }),
  };
}

/**
 * The last line of a log that says something on its own: skips blank lines, indented continuation lines (stack
 * frames) and Node's trailer after an uncaught exception; a JSON log line gives its `msg`/`message`.
 */
export function lastTellingLine(log: string | undefined): string | undefined {
  if (!log) return undefined;
  const lines = log.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue;
    const t = line.trim();
    if (t === '' || t === '}' || /^\^+$/.test(t) || /^Node\.js v\d/.test(t)) continue;
    if (t.startsWith('{')) {
      try {
        const o = JSON.parse(t) as Record<string, unknown>;
        const msg = o['msg'] ?? o['message'];
        if (typeof msg === 'string' && msg !== '') return msg;
      } catch {
        // not JSON after all
      }
    }
    return t;
  }
  return undefined;
}

/** `CrashLoopBackOff: <last log line of the crashed container>` (or its exit code when it logged nothing). */
export function crashLoopState(
  d: Extract<Diagnosis, { kind: 'crash-loop' }>,
  previousLog: string | undefined,
): RevisionState {
  const line = lastTellingLine(previousLog) ?? d.detail;
  const why = line ?? (d.exitCode !== undefined ? `exited with code ${d.exitCode}` : 'the container keeps exiting');
  return { state: 'failed', reason: `CrashLoopBackOff: ${why}` };
}

const newest = (events: readonly IEvent[], reasons: readonly string[]): IEvent | undefined =>
  events
    .filter((e) => e.reason !== undefined && reasons.includes(e.reason))
    .sort(
      (a, b) =>
        time(b.lastTimestamp ?? b.eventTime ?? b.firstTimestamp ?? b.metadata?.creationTimestamp) -
        time(a.lastTimestamp ?? a.eventTime ?? a.firstTimestamp ?? a.metadata?.creationTimestamp),
    )[0];

/** `ImagePullBackOff: <why the pull failed>` from the pod's latest `Failed` event, else the kubelet's message. */
export function imagePullState(
  d: Extract<Diagnosis, { kind: 'image-pull' }>,
  events: readonly IEvent[],
): RevisionState {
  const failed = newest(events, ['Failed']);
  const message = failed?.message ?? d.detail ?? 'the image cannot be pulled';
  return { state: 'failed', reason: `${d.reason}: ${message}` };
}

/**
 * `Unschedulable: <the scheduler's message>`; still `starting` while a cluster autoscaler (cluster-autoscaler's
 * `TriggeredScaleUp`, Karpenter's `Nominated`) is bringing a node for the pod, unless it since said it will not
 * (`NotTriggerScaleUp`).
 */
export function unschedulableState(
  d: Extract<Diagnosis, { kind: 'unschedulable' }>,
  events: readonly IEvent[],
): RevisionState {
  const message = newest(events, ['FailedScheduling'])?.message ?? d.detail ?? `pod ${d.pod} cannot be scheduled`;
  const scaling = newest(events, ['TriggeredScaleUp', 'Nominated', 'NotTriggerScaleUp']);
  if (scaling && scaling.reason !== 'NotTriggerScaleUp') {
    return { state: 'starting', reason: `Unschedulable until a new node is ready: ${message}` };
  }
  return { state: 'failed', reason: `Unschedulable: ${message}` };
}
