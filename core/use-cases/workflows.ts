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
import { completeStep, finishDeployment, getDeployment, runStep, skipStep, startStep } from './deployments.js';
import {
  BUILD_IMAGE_STEP,
  type ImageBuild,
  imageBuildFailure,
  imageBuildFor,
  prepareImage,
  revisionImage,
} from './images.js';
import { ruleProblems } from './model-endpoints.js';
import { resolveSecretEnv } from './secrets.js';

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

/** The image this deployment's revision runs built from its artifact, if it runs one (core/use-cases/images.ts). */
async function imageBuildOf(deps: WorkflowDeps, d: Deployment): Promise<ImageBuild | undefined> {
  const env = deps.environments.get(d.environment);
  if (env.cluster.kind === 'local') return undefined;
  const key = endpointKeyOf(d);
  const [model, version] = await Promise.all([getModel(deps, key), getVersion(deps, key)]);
  return imageBuildFor(model, version, env);
}

/**
 * Checks the deployment can go ahead and answers what the state machine needs: the readiness deadline and poll
 * interval, and whether the `Build Image` branch runs (`needsImage`, with the tag and build context). An image that
 * the registry holds already is not built again; the Build Image step is then marked skipped, otherwise running.
 */
export async function prepareDeployment(deps: WorkflowDeps, input: { deploymentId: string }) {
  const prepared = await runStep(deps, input.deploymentId, 'Prepare', async (d) => {
    await ownEndpoint(deps, d);
    const env = deps.environments.get(d.environment);
    const deadline = new Date(deps.clock.now().getTime() + env.deploymentTimeoutSeconds * 1000).toISOString();
    const image = await prepareImage(deps.images, await imageBuildOf(deps, d));
    return { deadline, pollSeconds: POLL_SECONDS, timeoutSeconds: env.deploymentTimeoutSeconds, ...image };
  });
  // The build itself is a CodeBuild task of the state machine; Apply Revision closes the step when it starts.
  if (prepared.needsImage) await startStep(deps, input.deploymentId, BUILD_IMAGE_STEP);
  else await skipStep(deps, input.deploymentId, BUILD_IMAGE_STEP);
  return prepared;
}

export async function applyRevision(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  const before = await getDeployment(deps, input.deploymentId);
  if (before.steps.some((s) => s.name === BUILD_IMAGE_STEP && s.status === 'running')) {
    await completeStep(deps, input.deploymentId, BUILD_IMAGE_STEP);
  }
  await runStep(deps, input.deploymentId, 'Apply Revision', async (d) => {
    const key = endpointKeyOf(d);
    const endpoint = await ownEndpoint(deps, d);
    const [model, version] = await Promise.all([getModel(deps, key), getVersion(deps, key)]);
    const env = deps.environments.get(d.environment);
    const image = revisionImage(deps.images, imageBuildFor(model, version, env), version);
    const target = targetOf(d);
    // Plaintext only in this call's memory: never in the step's result, the Deployment or the endpoint.
    const secretEnv = await resolveSecretEnv(deps, d.project, d.request.secrets ?? endpoint.secrets ?? {});
    await deps.clusters.forEnvironment(d.environment).applyRevision({
      ...target,
      modelType: model.type,
      artifactUri: version.artifact.uri,
      modelFile: version.modelFile,
      resources: d.request.resources ?? deps.environments.get(d.environment).defaults,
      env: d.request.env ?? {},
      secretEnv,
      serving: d.request.serving ?? endpoint.serving ?? {},
      ...(version.custom && { custom: version.custom }),
      ...(image && { image }),
    });
  });
}

/**
 * When readiness times out: `deadline` (from Prepare), or the environment's timeout after the image build ended when
 * this deployment built one, so that a build of several minutes does not eat the time the revision has to get ready.
 */
function readinessDeadline(deps: WorkflowDeps, d: Deployment, deadline: string): number {
  const built = d.steps.find((s) => s.name === BUILD_IMAGE_STEP && s.status === 'succeeded')?.endedAt;
  if (!built) return Date.parse(deadline);
  const timeoutMs = deps.environments.get(d.environment).deploymentTimeoutSeconds * 1000;
  return Math.max(Date.parse(deadline), Date.parse(built) + timeoutMs);
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
      const deadline = readinessDeadline(deps, d, input.deadline);
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

/**
 * Points the version endpoint at the new revision and records the switch, then removes the previous revision: no gap
 * in serving, and the endpoint never names a revision that is gone. Safe to run again after a partial run.
 */
export async function promoteRevision(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Promote', async (d) => {
    const key = endpointKeyOf(d);
    const target = targetOf(d);
    const cluster = deps.clusters.forEnvironment(d.environment);
    if (!(await isPromoted(deps, d))) {
      await ownEndpoint(deps, d);
      await cluster.routeVersion(key, target);
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
          ...(d.request.secrets && { secrets: d.request.secrets }),
          protocol: d.request.protocol ?? e.protocol,
          ...(d.request.serving && { serving: d.request.serving }),
          updatedAt: isoNow(deps.clock),
        };
      });
    }
    const previous = d.previousRevision;
    if (previous && previous.number !== target.number) {
      await cluster.deleteRevision(revisionIdentity(key, previous.number));
    }
  });
  await finishDeployment(deps, input.deploymentId);
}

/** Whether this deployment's revision is already recorded as the endpoint's active one. */
async function isPromoted(deps: WorkflowDeps, d: Deployment): Promise<boolean> {
  const e = await deps.endpoints.get(endpointKeyOf(d));
  return (
    !!e && e.deploymentId === d.id && e.status === 'running' && e.activeRevision?.number === d.targetRevision?.number
  );
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
    if (d.request.removeRoute) return;
    const problems = await ruleProblems(deps, modelEndpointKeyOf(d), ruleOf(d));
    if (problems.length > 0) {
      throw new WorkflowStepError('PreconditionFailed', `the rule cannot be carried out: ${problems.join('; ')}`);
    }
  });
}

export async function applyRoute(deps: WorkflowDeps, input: { deploymentId: string }): Promise<void> {
  await runStep(deps, input.deploymentId, 'Apply Route', async (d) => {
    const cluster = deps.clusters.forEnvironment(d.environment);
    if (d.request.removeRoute) await cluster.deleteModelRoute(modelEndpointKeyOf(d));
    else await cluster.applyModelRoute(modelEndpointKeyOf(d), ruleOf(d));
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
        if (d.request.removeRoute) return { ...rest, status: 'terminated', rule: null, updatedAt: isoNow(deps.clock) };
        return { ...rest, status: 'serving', rule: ruleOf(d), updatedAt: isoNow(deps.clock) };
      },
      { what: 'model endpoint' },
    );
  });
  await finishDeployment(deps, input.deploymentId);
}

// ---- failure, shared by all three ----

/**
 * The reason of a Catch: Lambda puts a JSON `{errorType, errorMessage}` in Cause, CodeBuild the failed build, local
 * runs a plain message.
 */
export function failureReason(error: { Error?: string; Cause?: string } | undefined): {
  code: string;
  message: string;
} {
  const code = error?.Error || 'States.TaskFailed';
  const cause = error?.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return { code, message: parsed.errorMessage };
    const build = imageBuildFailure(parsed);
    if (build) return { code, message: build };
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
  if (d.kind === 'route') await undoRoute(deps, d, reason.message);
  else if (d.kind === 'deploy') {
    // The switch was recorded and only the clean-up failed: the deployment did what it was asked.
    if (await isPromoted(deps, d)) {
      if (d.previousRevision) {
        await deps.clusters
          .forEnvironment(d.environment)
          .deleteRevision(revisionIdentity(endpointKeyOf(d), d.previousRevision.number))
          .catch(() => undefined);
      }
      return void (await finishDeployment(deps, d.id));
    }
    await undoDeploy(deps, d, reason.message);
  } else await undoUndeploy(deps, d, reason.message);
  await finishDeployment(deps, d.id, reason);
}

const stepReached = (d: Deployment, name: string): boolean =>
  d.steps.some((s) => s.name === name && s.status !== 'pending' && s.status !== 'skipped');

/** The endpoint this deployment left pending, if it is still waiting for it. */
async function pendingEndpoint(deps: WorkflowDeps, d: Deployment) {
  const e = await deps.endpoints.get(endpointKeyOf(d));
  return e && e.deploymentId === d.id && e.status === 'pending' ? e : undefined;
}

/** A failed deploy: the new revision goes, the version address points at the previous one again (if any). */
async function undoDeploy(deps: WorkflowDeps, d: Deployment, reason: string): Promise<void> {
  const key = endpointKeyOf(d);
  const cluster = deps.clusters.forEnvironment(d.environment);
  const e = await pendingEndpoint(deps, d);
  const serving = e?.activeRevision;
  if (serving) await cluster.routeVersion(key, revisionIdentity(key, serving.number));
  await cluster.deleteRevision(targetOf(d)).catch(() => undefined);
  if (!e) return;
  const now = isoNow(deps.clock);
  await updateEndpoint(deps, d, (cur) =>
    cur.activeRevision
      ? {
          ...cur,
          status: cur.previousStatus ?? 'running',
          previousStatus: null,
          message: `deploy ${d.id} failed: ${reason}`,
          updatedAt: now,
        }
      : { ...cur, status: 'failed', previousStatus: null, message: reason, updatedAt: now },
  );
}

/**
 * A failed undeploy: if the revision was already removed the endpoint is terminated (that is the truth); otherwise
 * it returns to its previous status with its address restored.
 */
async function undoUndeploy(deps: WorkflowDeps, d: Deployment, reason: string): Promise<void> {
  const e = await pendingEndpoint(deps, d);
  if (!e) return;
  const key = endpointKeyOf(d);
  const removed = d.steps.some((s) => s.name === 'Remove Revision' && s.status === 'succeeded');
  const now = isoNow(deps.clock);
  if (!removed && e.activeRevision && e.previousStatus === 'running') {
    await deps.clusters.forEnvironment(d.environment).routeVersion(key, revisionIdentity(key, e.activeRevision.number));
  }
  await updateEndpoint(deps, d, (cur) =>
    removed
      ? {
          ...cur,
          status: 'terminated',
          previousStatus: null,
          activeRevision: null,
          message: `undeploy ${d.id} did not finish (${reason}), but its revision was removed`,
          updatedAt: now,
        }
      : {
          ...cur,
          status: cur.previousStatus ?? 'failed',
          previousStatus: null,
          message: `undeploy ${d.id} failed: ${reason}`,
          updatedAt: now,
        },
  );
}

/** A failed routing change: the cluster carries the previous rule again and the model endpoint keeps it. */
async function undoRoute(deps: WorkflowDeps, d: Deployment, reason: string): Promise<void> {
  const key = modelEndpointKeyOf(d);
  const me = await deps.modelEndpoints.get(key);
  if (!me || me.deploymentId !== d.id || me.status !== 'pending') return;
  if (stepReached(d, 'Apply Route')) {
    const cluster = deps.clusters.forEnvironment(d.environment);
    await (me.rule ? cluster.applyModelRoute(key, me.rule) : cluster.deleteModelRoute(key));
  }
  await updateItem(
    deps.modelEndpoints,
    key,
    (m): ModelEndpoint => ({
      ...m,
      status: m.rule ? 'serving' : 'failed',
      message: `routing change ${d.id} failed: ${reason}`,
      updatedAt: isoNow(deps.clock),
    }),
  );
}
