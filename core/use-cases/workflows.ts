/**
 * The steps of the three workflows (statemachines/*.asl.json). Each is idempotent: Step Functions may run a task
 * twice. Failures meant for the state machine's Catch are WorkflowStepErrors with stable names.
 */
import { WorkflowStepError } from '../errors.js';
import { describeEndpoint, revisionIdentity, versionEndpointUrl } from '../names.js';
import type { Deps, EndpointKey, ModelEndpointKey, RevisionIdentity } from '../ports.js';
import type { Deployment, ModelEndpoint, VersionEndpoint } from '../schemas/index.js';
import { isoNow } from '../time.js';
import { updateItem } from '../update.js';
import { getModel, getVersion } from './catalog.js';
import { finishDeployment, getDeployment, runStep } from './deployments.js';
import { ruleProblems } from './model-endpoints.js';

/** How long one readiness check may wait for a change before the state machine's Wait state takes over. */
export const MAX_CHECK_WAIT_MS = 20_000;
/** Seconds the deploy state machine waits between readiness checks. */
export const POLL_SECONDS = 1;

type WorkflowDeps = Omit<Deps, 'artifacts' | 'workflows' | 'ids' | 'projects'>;

const endpointKeyOf = (d: Deployment): EndpointKey => {
  if (d.version === undefined) throw new WorkflowStepError('PreconditionFailed', `deployment ${d.id} names no version`);
  return { project: d.project, model: d.model, version: d.version, environment: d.environment };
};
const modelEndpointKeyOf = (d: Deployment): ModelEndpointKey => ({
  project: d.project,
  model: d.model,
  environment: d.environment,
});
const targetOf = (d: Deployment): RevisionIdentity => {
  if (!d.targetRevision) throw new WorkflowStepError('PreconditionFailed', `deployment ${d.id} names no revision`);
  return revisionIdentity(endpointKeyOf(d), d.targetRevision.number);
};

/** The endpoint this deployment is for, which must still be pending on it (otherwise the run is stale). */
async function ownEndpoint(deps: WorkflowDeps, d: Deployment): Promise<VersionEndpoint> {
  const e = await deps.endpoints.get(endpointKeyOf(d));
  if (!e || e.deploymentId !== d.id || e.status !== 'pending') {
    throw new WorkflowStepError(
      'PreconditionFailed',
      `${describeEndpoint(endpointKeyOf(d))} is no longer waiting for deployment ${d.id}`,
    );
  }
  return e;
}

const updateEndpoint = (deps: WorkflowDeps, d: Deployment, change: (e: VersionEndpoint) => VersionEndpoint) =>
  updateItem(deps.endpoints, endpointKeyOf(d), change, { what: describeEndpoint(endpointKeyOf(d)) });

// ---- deploy-version ----

export async function prepareDeployment(deps: WorkflowDeps, input: { deploymentId: string }) {
  return runStep(deps, input.deploymentId, 'Prepare', async (d) => {
    await ownEndpoint(deps, d);
    const env = deps.environments.get(d.environment);
    const deadline = new Date(deps.clock.now().getTime() + env.deploymentTimeoutSeconds * 1000).toISOString();
    return { deadline, pollSeconds: POLL_SECONDS, timeoutSeconds: env.deploymentTimeoutSeconds };
  });
}

export async function applyRevision(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Apply Revision', async (d) => {
    const key = endpointKeyOf(d);
    await ownEndpoint(deps, d);
    const [model, version] = await Promise.all([getModel(deps, key), getVersion(deps, key)]);
    const target = targetOf(d);
    await deps.clusters.forEnvironment(d.environment).applyRevision({
      ...target,
      modelType: model.type,
      artifactUri: version.artifact.uri,
      modelFile: version.modelFile,
      resources: d.request.resources ?? deps.environments.get(d.environment).defaults,
      env: d.request.env ?? {},
    });
  });
}

export async function checkRevision(
  deps: WorkflowDeps,
  input: { deploymentId: string; deadline: string },
): Promise<{ ready: boolean }> {
  return runStep(
    deps,
    input.deploymentId,
    'Wait Until Ready',
    async (d) => {
      const deadline = Date.parse(input.deadline);
      const waitMs = Math.max(0, Math.min(MAX_CHECK_WAIT_MS, deadline - deps.clock.now().getTime()));
      const status = await deps.clusters.forEnvironment(d.environment).revisionStatus(targetOf(d), { waitMs });
      if (status.state === 'ready') return { ready: true };
      if (status.state === 'failed') throw new WorkflowStepError('RevisionFailed', status.reason);
      if (status.state === 'absent') {
        throw new WorkflowStepError('RevisionFailed', `revision ${targetOf(d).name} disappeared before it was ready`);
      }
      if (deps.clock.now().getTime() >= deadline) {
        const seconds = deps.environments.get(d.environment).deploymentTimeoutSeconds;
        const why = status.reason ? `: ${status.reason}` : '';
        throw new WorkflowStepError('DeploymentTimeout', `timeout after ${seconds}s waiting for readiness${why}`);
      }
      return { ready: false };
    },
    (r) => r.ready,
  );
}

/** Points the version endpoint at the new revision, then removes the previous one: no gap in serving. */
export async function promoteRevision(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Promote', async (d) => {
    const key = endpointKeyOf(d);
    const endpoint = await ownEndpoint(deps, d);
    const target = targetOf(d);
    const cluster = deps.clusters.forEnvironment(d.environment);
    await cluster.routeVersion(key, target);
    const previous = endpoint.activeRevision;
    if (previous && previous.number !== target.number)
      await cluster.deleteRevision(revisionIdentity(key, previous.number));
    const env = deps.environments.get(d.environment);
    await updateEndpoint(deps, d, (e) => {
      const { message: _drop, ...rest } = e;
      return {
        ...rest,
        status: 'running',
        previousStatus: null,
        activeRevision: { number: target.number, name: target.name },
        url: versionEndpointUrl(env, key),
        resources: d.request.resources ?? e.resources,
        env: d.request.env ?? e.env,
        updatedAt: isoNow(deps.clock),
      };
    });
  });
  await finishDeployment(deps, input.deploymentId);
}

// ---- undeploy-version ----

export async function prepareUndeploy(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Prepare', async (d) => {
    await ownEndpoint(deps, d);
  });
}

export async function removeRevision(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Remove Revision', async (d) => {
    const key = endpointKeyOf(d);
    const cluster = deps.clusters.forEnvironment(d.environment);
    await cluster.unrouteVersion(key);
    if (d.targetRevision) await cluster.deleteRevision(targetOf(d));
  });
}

export async function finalizeUndeploy(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Finalize', async (d) => {
    await ownEndpoint(deps, d);
    await updateEndpoint(deps, d, (e) => {
      const { message: _drop, ...rest } = e;
      return {
        ...rest,
        status: 'terminated',
        previousStatus: null,
        activeRevision: null,
        updatedAt: isoNow(deps.clock),
      };
    });
  });
  await finishDeployment(deps, input.deploymentId);
}

// ---- update-route ----

async function ownModelEndpoint(deps: WorkflowDeps, d: Deployment): Promise<ModelEndpoint> {
  const me = await deps.modelEndpoints.get(modelEndpointKeyOf(d));
  if (!me || me.deploymentId !== d.id || me.status !== 'pending') {
    throw new WorkflowStepError(
      'PreconditionFailed',
      `the model endpoint ${d.project}/${d.model} in "${d.environment}" is no longer waiting for deployment ${d.id}`,
    );
  }
  return me;
}

const ruleOf = (d: Deployment) => {
  if (!d.request.rule) throw new WorkflowStepError('PreconditionFailed', `deployment ${d.id} carries no rule`);
  return d.request.rule;
};

export async function prepareRoute(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Prepare', async (d) => {
    await ownModelEndpoint(deps, d);
    const problems = await ruleProblems(deps, modelEndpointKeyOf(d), ruleOf(d));
    if (problems.length > 0) {
      throw new WorkflowStepError('PreconditionFailed', `the rule cannot be carried out: ${problems.join('; ')}`);
    }
  });
}

export async function applyRoute(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Apply Route', async (d) => {
    await deps.clusters.forEnvironment(d.environment).applyModelRoute(modelEndpointKeyOf(d), ruleOf(d));
  });
}

export async function finalizeRoute(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Finalize', async (d) => {
    await ownModelEndpoint(deps, d);
    await updateItem(
      deps.modelEndpoints,
      modelEndpointKeyOf(d),
      (me): ModelEndpoint => {
        const { message: _drop, ...rest } = me;
        return { ...rest, status: 'serving', rule: ruleOf(d), updatedAt: isoNow(deps.clock) };
      },
      { what: 'model endpoint' },
    );
  });
  await finishDeployment(deps, input.deploymentId);
}

// ---- failure, shared by all three ----

/** The reason of a Catch: Lambda puts a JSON `{errorType, errorMessage}` in Cause, local runs a plain message. */
export function failureReason(error: { Error?: string; Cause?: string } | undefined): {
  code: string;
  message: string;
} {
  const code = error?.Error || 'States.TaskFailed';
  const cause = error?.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return { code, message: parsed.errorMessage };
  } catch {
    // not JSON: a plain message
  }
  return { code, message: cause || code };
}

/**
 * Catch path of every workflow: removes what the failed attempt created, puts the endpoint back (a failed redeploy
 * leaves the previous revision serving and the previous status; a failed first deploy marks the endpoint failed
 * with the reason), and records the reason on the Deployment.
 */
export async function recordFailure(
  deps: WorkflowDeps,
  input: { deploymentId: string; error?: { Error?: string; Cause?: string } },
): Promise<void> {
  const reason = failureReason(input.error);
  const d = await getDeployment(deps, input.deploymentId);
  if (d.status === 'succeeded' || d.status === 'failed') return;
  const now = isoNow(deps.clock);
  if (d.kind === 'route') {
    const me = await deps.modelEndpoints.get(modelEndpointKeyOf(d));
    if (me && me.deploymentId === d.id && me.status === 'pending') {
      await updateItem(
        deps.modelEndpoints,
        modelEndpointKeyOf(d),
        (m): ModelEndpoint => ({
          ...m,
          status: m.rule ? 'serving' : 'failed',
          message: `routing change ${d.id} failed: ${reason.message}`,
          updatedAt: now,
        }),
      );
    }
  } else {
    const key = endpointKeyOf(d);
    const e = await deps.endpoints.get(key);
    const ours = e && e.deploymentId === d.id && e.status === 'pending';
    if (d.kind === 'deploy' && d.targetRevision && (!e || e.activeRevision?.number !== d.targetRevision.number)) {
      await deps.clusters
        .forEnvironment(d.environment)
        .deleteRevision(targetOf(d))
        .catch(() => undefined);
    }
    if (ours) {
      await updateEndpoint(deps, d, (cur) => {
        if (d.kind === 'deploy' && !cur.activeRevision) {
          return { ...cur, status: 'failed', previousStatus: null, message: reason.message, updatedAt: now };
        }
        return {
          ...cur,
          status: cur.previousStatus ?? 'failed',
          previousStatus: null,
          message: `${d.kind} ${d.id} failed: ${reason.message}`,
          updatedAt: now,
        };
      });
    }
  }
  await finishDeployment(deps, d.id, reason);
}
