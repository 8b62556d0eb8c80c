/** Deployment records: creation, reading, and the step bookkeeping the workflows do. */
import { ConflictError, DependencyError, NotFoundError } from '../errors.js';
import type { Deps, EndpointKey, Expected, ModelEndpointKey, Repository, WorkflowName } from '../ports.js';
import {
  DEPLOYMENT_STEPS,
  type Deployment,
  type DeploymentKind,
  type DeploymentStep,
  type ListQuery,
  type Page,
} from '../schemas/index.js';
import { isoNow } from '../time.js';
import { updateItem } from '../update.js';

const WORKFLOW_OF: Record<DeploymentKind, WorkflowName> = {
  deploy: 'deploy-version',
  undeploy: 'undeploy-version',
  route: 'update-route',
};

export function newDeployment(
  deps: Pick<Deps, 'clock' | 'ids' | 'workflows'>,
  fields: Pick<Deployment, 'kind' | 'project' | 'model' | 'environment' | 'request'> &
    Partial<Pick<Deployment, 'version' | 'targetRevision' | 'previousRevision'>>,
): Deployment {
  const id = deps.ids.deploymentId();
  const now = isoNow(deps.clock);
  const workflow = WORKFLOW_OF[fields.kind];
  return {
    id,
    ...fields,
    status: 'pending',
    steps: DEPLOYMENT_STEPS[fields.kind].map((name) => ({ name, status: 'pending', attempts: 0 })),
    execution: { workflow, name: id, arn: deps.workflows.executionArn(workflow, id) },
    createdAt: now,
    updatedAt: now,
    revision: 1,
  };
}

/**
 * Starts the deployment's workflow execution. If the engine is unreachable the deployment is marked failed,
 * `undo` restores whatever the caller changed, and the caller gets a 503.
 */
export async function startWorkflow(
  deps: Pick<Deps, 'workflows' | 'deployments' | 'clock'>,
  deployment: Deployment,
  undo: () => Promise<void>,
): Promise<void> {
  try {
    await deps.workflows.start(deployment.execution.workflow as WorkflowName, deployment.id, {
      deploymentId: deployment.id,
    });
  } catch (e) {
    const message = `could not start the ${deployment.execution.workflow} workflow: ${(e as Error).message}`;
    await undo().catch(() => undefined);
    await finishDeployment(deps, deployment.id, { code: 'WorkflowStartFailed', message }).catch(() => undefined);
    throw new DependencyError(message);
  }
}

/**
 * How every cluster change begins: records the Deployment, claims the entity it changes with one conditional write
 * (of concurrent requests exactly one wins; a loser's Deployment is removed again and it gets `conflict()`), then
 * starts the workflow (`undo` puts the entity back if that fails).
 */
export async function beginDeployment<K, T extends { revision: number }>(
  deps: Pick<Deps, 'workflows' | 'deployments' | 'clock'>,
  deployment: Deployment,
  claim: { repo: Repository<K, T>; item: T; expected: Expected; conflict: () => Promise<Error> },
  undo: () => Promise<void>,
): Promise<Deployment> {
  await deps.deployments.put(deployment, 'absent');
  try {
    await claim.repo.put(claim.item, claim.expected);
  } catch (e) {
    await deps.deployments.delete({ id: deployment.id }).catch(() => undefined);
    throw e instanceof ConflictError ? await claim.conflict() : e;
  }
  await startWorkflow(deps, deployment, undo);
  return deployment;
}

/** The answer to a request that lost the race for an entity to a concurrent one. */
export const concurrentChange = (what: string): ConflictError =>
  new ConflictError(`${what} changed while this request ran; retry`, undefined, 'CONCURRENT_CHANGE');

export async function getDeployment(deps: Pick<Deps, 'deployments'>, id: string): Promise<Deployment> {
  const d = await deps.deployments.get({ id });
  if (!d) throw new NotFoundError(`deployment "${id}" not found`, { id });
  return d;
}

export const listDeployments = (
  deps: Pick<Deps, 'deployments'>,
  key: EndpointKey | ModelEndpointKey,
  query: ListQuery,
): Promise<Page<Deployment>> => deps.deployments.listForEndpoint(key, query);

const setStep = (d: Deployment, name: string, change: (s: DeploymentStep) => DeploymentStep): Deployment => ({
  ...d,
  steps: d.steps.map((s) => (s.name === name ? change(s) : s)),
});

/** Marks a step running (first call sets its start time, later calls count attempts) and the deployment running. */
export function startStep(deps: Pick<Deps, 'deployments' | 'clock'>, id: string, step: string): Promise<Deployment> {
  const now = isoNow(deps.clock);
  return updateItem(
    deps.deployments,
    { id },
    (d) => ({
      ...setStep(d, step, (s) => ({
        ...s,
        status: 'running',
        startedAt: s.startedAt ?? now,
        attempts: s.attempts + 1,
      })),
      status: d.status === 'pending' ? 'running' : d.status,
      startedAt: d.startedAt ?? now,
      updatedAt: now,
    }),
    { what: `deployment ${id}` },
  );
}

export function completeStep(deps: Pick<Deps, 'deployments' | 'clock'>, id: string, step: string): Promise<Deployment> {
  const now = isoNow(deps.clock);
  return updateItem(
    deps.deployments,
    { id },
    (d) => ({ ...setStep(d, step, (s) => ({ ...s, status: 'succeeded', endedAt: now })), updatedAt: now }),
    { what: `deployment ${id}` },
  );
}

/** Marks a step that this deployment does not need (e.g. Build Image when the image exists) skipped. */
export function skipStep(deps: Pick<Deps, 'deployments' | 'clock'>, id: string, step: string): Promise<Deployment> {
  const now = isoNow(deps.clock);
  return updateItem(
    deps.deployments,
    { id },
    (d) => ({ ...setStep(d, step, (s) => ({ ...s, status: 'skipped' })), updatedAt: now }),
    { what: `deployment ${id}` },
  );
}

/**
 * Ends a deployment: succeeded without `error`; failed with it, the running step marked failed with the message
 * and the steps that never ran marked skipped.
 */
export function finishDeployment(
  deps: Pick<Deps, 'deployments' | 'clock'>,
  id: string,
  error?: { code: string; message: string },
): Promise<Deployment> {
  const now = isoNow(deps.clock);
  return updateItem(
    deps.deployments,
    { id },
    (d) => ({
      ...d,
      status: error ? 'failed' : 'succeeded',
      ...(error && { error }),
      steps: d.steps.map((s): DeploymentStep => {
        if (!error) return s.status === 'running' ? { ...s, status: 'succeeded', endedAt: now } : s;
        if (s.status === 'running') return { ...s, status: 'failed', endedAt: now, error: error.message };
        if (s.status === 'pending') return { ...s, status: 'skipped' };
        return s;
      }),
      endedAt: now,
      updatedAt: now,
    }),
    { what: `deployment ${id}` },
  );
}

/** Runs one workflow step with its bookkeeping; `done` decides whether the step ended (loops return false). */
export async function runStep<T>(
  deps: Pick<Deps, 'deployments' | 'clock'>,
  id: string,
  step: string,
  work: (d: Deployment) => Promise<T>,
  done: (result: T) => boolean = () => true,
): Promise<T> {
  const d = await startStep(deps, id, step);
  const result = await work(d);
  if (done(result)) await completeStep(deps, id, step);
  return result;
}
