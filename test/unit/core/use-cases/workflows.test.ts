import { beforeEach, describe, expect, it } from 'vitest';
import { DependencyError } from '../../../../core/errors.js';
import type { Deployment, VersionEndpoint } from '../../../../core/schemas/index.js';
import { newDeployment } from '../../../../core/use-cases/deployments.js';
import { deployVersion, undeployVersion } from '../../../../core/use-cases/endpoints.js';
import { putModelEndpoint } from '../../../../core/use-cases/model-endpoints.js';
import {
  applyRevision,
  applyRoute,
  checkRevision,
  failureReason,
  finalizeRoute,
  finalizeUndeploy,
  MAX_CHECK_WAIT_MS,
  POLL_SECONDS,
  prepareDeployment,
  prepareRoute,
  prepareUndeploy,
  promoteRevision,
  recordFailure,
  removeRevision,
} from '../../../../core/use-cases/workflows.js';
import {
  endpointKey,
  type FakeDeps,
  givenRunningVersion,
  givenVersion,
  makeDeps,
  modelEndpointKey,
  rejectionOf,
  routeAndRun,
  runWorkflow,
  undeployAndRun,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
});

const stepsOf = (id: string) => deps.deployments.peek({ id })!.steps;
const stepOf = (id: string, name: string) => stepsOf(id).find((s) => s.name === name)!;
const r = (n: number) => ({
  namespace: 'fraud-detection',
  name: `iris-1-r${n}`,
  project: 'fraud-detection',
  model: 'iris',
  version: 1,
  number: n,
});

/** A first deploy of version 1, accepted by the API and not yet run. */
async function givenPendingDeploy(environment = 'local'): Promise<Deployment> {
  await givenVersion(deps);
  return deployVersion(deps, versionKey(1), { environment });
}

/**
 * A redeploy of a running endpoint (revision r1 serving) to r2, as the API's redeploy records it: the deployment
 * targets revisionCounter + 1 and the endpoint is pending with previousStatus running.
 */
async function givenPendingRedeploy(): Promise<{ deployment: Deployment; before: VersionEndpoint }> {
  const before = await givenRunningVersion(deps);
  const deployment = newDeployment(deps, {
    kind: 'deploy',
    project: before.project,
    model: before.model,
    version: before.version,
    environment: before.environment,
    targetRevision: { number: 2, name: 'iris-1-r2' },
    previousRevision: { number: 1, name: 'iris-1-r1' },
    request: { resources: { cpu: '2', memory: '1Gi', minReplicas: 1, maxReplicas: 2 }, env: { MODE: 'new' } },
  });
  await deps.deployments.put(deployment, 'absent');
  await deps.endpoints.put(
    {
      ...before,
      status: 'pending',
      previousStatus: 'running',
      revisionCounter: 2,
      deploymentId: deployment.id,
      revision: before.revision + 1,
    },
    before.revision,
  );
  return { deployment, before };
}

describe('Use case: prepareDeployment (deploy-version › Prepare)', () => {
  it('should answer a deadline of now + the environment timeout, and the poll interval', async () => {
    const d = await givenPendingDeploy();
    deps.clock.advanceSeconds(3);

    const prepared = await prepareDeployment(deps, { deploymentId: d.id });

    expect(prepared).toEqual({
      deadline: '2025-01-01T00:05:03.000Z',
      pollSeconds: POLL_SECONDS,
      timeoutSeconds: 300,
      needsImage: false,
    });
  });

  it('should use the timeout of the deployment environment', async () => {
    const d = await givenPendingDeploy('staging');

    const prepared = await prepareDeployment(deps, { deploymentId: d.id });

    expect(prepared.deadline).toBe('2025-01-01T00:01:00.000Z');
    expect(prepared.timeoutSeconds).toBe(60);
  });

  it('should mark the deployment running and the Prepare step succeeded with its timings', async () => {
    const d = await givenPendingDeploy();
    deps.clock.advanceSeconds(2);

    await prepareDeployment(deps, { deploymentId: d.id });

    const stored = deps.deployments.peek({ id: d.id })!;
    expect(stored.status).toBe('running');
    expect(stored.startedAt).toBe('2025-01-01T00:00:02.000Z');
    expect(stored.steps[0]).toEqual({
      name: 'Prepare',
      status: 'succeeded',
      startedAt: '2025-01-01T00:00:02.000Z',
      endedAt: '2025-01-01T00:00:02.000Z',
      attempts: 1,
    });
    expect(stored.steps.slice(1).map((s) => s.status)).toEqual(['skipped', 'pending', 'pending', 'pending']);
  });

  it('should fail with PreconditionFailed when the endpoint no longer waits for this deployment', async () => {
    // Prepare: the endpoint has moved on to another deployment
    const d = await givenPendingDeploy();
    const e = deps.endpoints.peek(endpointKey(1))!;
    deps.endpoints.seed({ ...e, deploymentId: 'SOMEONE-ELSE' });

    // Act
    const error = await rejectionOf(prepareDeployment(deps, { deploymentId: d.id }));

    // Assess
    expect(error.name).toBe('PreconditionFailed');
    expect(error.message).toBe(
      `fraud-detection/iris version 1 in environment "local" is no longer waiting for deployment ${d.id}`,
    );
    expect(stepOf(d.id, 'Prepare').status).toBe('running');
  });

  it('should fail with PreconditionFailed when the endpoint is no longer pending', async () => {
    const d = await givenPendingDeploy();
    const e = deps.endpoints.peek(endpointKey(1))!;
    deps.endpoints.seed({ ...e, status: 'failed' });

    const error = await rejectionOf(prepareDeployment(deps, { deploymentId: d.id }));

    expect(error.name).toBe('PreconditionFailed');
  });

  it('should fail with a NotFoundError for an unknown deployment', async () => {
    const error = await rejectionOf(prepareDeployment(deps, { deploymentId: '01JAAAAAAAAAAAAAAAAAAAAAAA' }));

    expect(error.name).toBe('NotFoundError');
    expect(error.message).toBe('deployment 01JAAAAAAAAAAAAAAAAAAAAAAA not found');
  });
});

describe('Use case: applyRevision (deploy-version › Apply Revision)', () => {
  it('should apply the revision spec: name {model}-{version}-r{n}, namespace = project, artifact, model file, resources, env', async () => {
    // Prepare
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), {
      environment: 'staging',
      resources: { cpu: '750m' },
      env: { LOG_LEVEL: 'debug' },
    });
    await prepareDeployment(deps, { deploymentId: d.id });

    // Act
    await applyRevision(deps, { deploymentId: d.id });

    // Assess
    expect(deps.clusters.of('staging').callsOf('applyRevision')).toEqual([
      [
        {
          namespace: 'fraud-detection',
          name: 'iris-1-r1',
          project: 'fraud-detection',
          model: 'iris',
          version: 1,
          number: 1,
          modelType: 'onnx',
          artifactUri: 's3://merlin-test-artifacts/artifacts/fraud-detection/iris/1/',
          modelFile: 'model.onnx',
          resources: { cpu: '750m', memory: '1Gi', minReplicas: 2, maxReplicas: 3 },
          env: { LOG_LEVEL: 'debug' },
          secretEnv: {},
          serving: {},
        },
      ],
    ]);
    expect(deps.clusters.of('local').calls).toEqual([]);
    expect(stepOf(d.id, 'Apply Revision')).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('should use the version modelFile and the next revision number on a redeploy', async () => {
    const { deployment } = await givenPendingRedeploy();

    await applyRevision(deps, { deploymentId: deployment.id });

    const [spec] = deps.clusters.of().callsOf('applyRevision').at(-1) as [Record<string, unknown>];
    expect(spec).toMatchObject({ name: 'iris-1-r2', number: 2, env: { MODE: 'new' } });
  });

  it('should leave the step running and pass on a cluster failure (for the Retry/Catch)', async () => {
    const d = await givenPendingDeploy();
    deps.clusters.of().failOn('applyRevision', new DependencyError('cluster API unreachable'));

    const error = await rejectionOf(applyRevision(deps, { deploymentId: d.id }));

    expect(error.name).toBe('DependencyError');
    expect(stepOf(d.id, 'Apply Revision').status).toBe('running');
  });
});

describe('Use case: checkRevision (deploy-version › Wait Until Ready)', () => {
  const deadlineIn = (seconds: number) => new Date(deps.clock.now().getTime() + seconds * 1000).toISOString();

  it('should answer ready and complete the step when the revision is ready', async () => {
    const d = await givenPendingDeploy();
    await applyRevision(deps, { deploymentId: d.id });

    const out = await checkRevision(deps, { deploymentId: d.id, deadline: deadlineIn(300) });

    expect(out).toEqual({ ready: true });
    expect(stepOf(d.id, 'Wait Until Ready')).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('should answer not ready while starting, counting attempts and keeping the first start time', async () => {
    // Prepare
    const d = await givenPendingDeploy();
    deps.clusters.of().script('iris-1-r1', { state: 'starting' }, { state: 'starting' }, { state: 'ready' });
    const deadline = deadlineIn(300);

    // Act
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push((await checkRevision(deps, { deploymentId: d.id, deadline })).ready);
      if (i === 0) expect(stepOf(d.id, 'Wait Until Ready')).toMatchObject({ status: 'running', attempts: 1 });
      deps.clock.advanceSeconds(1);
    }

    // Assess
    expect(answers).toEqual([false, false, true]);
    expect(stepOf(d.id, 'Wait Until Ready')).toEqual({
      name: 'Wait Until Ready',
      status: 'succeeded',
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:00:02.000Z',
      attempts: 3,
    });
  });

  it('should let the cluster wait at most MAX_CHECK_WAIT_MS, and never past the deadline', async () => {
    const d = await givenPendingDeploy();
    deps.clusters.of().script('iris-1-r1', { state: 'starting' });

    await checkRevision(deps, { deploymentId: d.id, deadline: deadlineIn(300) });
    await checkRevision(deps, { deploymentId: d.id, deadline: deadlineIn(5) });

    expect(
      deps.clusters
        .of()
        .callsOf('revisionStatus')
        .map(([, options]) => options),
    ).toEqual([{ waitMs: MAX_CHECK_WAIT_MS }, { waitMs: 5000 }]);
    expect(deps.clusters.of().callsOf('revisionStatus')[0]?.[0]).toEqual(r(1));
  });

  it('should throw RevisionFailed with the reason when the revision failed', async () => {
    const d = await givenPendingDeploy();
    deps.clusters.of().script('iris-1-r1', { state: 'failed', reason: 'OOMKilled' });

    const error = await rejectionOf(checkRevision(deps, { deploymentId: d.id, deadline: deadlineIn(300) }));

    expect(error.name).toBe('RevisionFailed');
    expect(error.message).toBe('OOMKilled');
  });

  it('should throw RevisionFailed when the revision disappeared', async () => {
    const d = await givenPendingDeploy();

    const error = await rejectionOf(checkRevision(deps, { deploymentId: d.id, deadline: deadlineIn(300) }));

    expect(error.name).toBe('RevisionFailed');
    expect(error.message).toBe('revision iris-1-r1 disappeared before it was ready');
  });

  it('should throw DeploymentTimeout "timeout after Ns" with the last reason once past the deadline', async () => {
    // Prepare
    const d = await givenPendingDeploy();
    const { deadline } = await prepareDeployment(deps, { deploymentId: d.id });
    deps.clusters.of().script('iris-1-r1', { state: 'starting', reason: 'ImagePullBackOff' });
    deps.clock.advanceSeconds(300);

    // Act
    const error = await rejectionOf(checkRevision(deps, { deploymentId: d.id, deadline }));

    // Assess
    expect(error.name).toBe('DeploymentTimeout');
    expect(error.message).toBe('timeout after 300s waiting for readiness: ImagePullBackOff');
  });

  it('should not time out one second before the deadline, and report no reason when there is none', async () => {
    const d = await givenPendingDeploy('staging');
    const { deadline } = await prepareDeployment(deps, { deploymentId: d.id });
    deps.clusters.of('staging').script('iris-1-r1', { state: 'starting' });

    deps.clock.advanceSeconds(59);
    const before = await checkRevision(deps, { deploymentId: d.id, deadline });
    deps.clock.advanceSeconds(1);
    const error = await rejectionOf(checkRevision(deps, { deploymentId: d.id, deadline }));

    expect(before).toEqual({ ready: false });
    expect(error.name).toBe('DeploymentTimeout');
    expect(error.message).toBe('timeout after 60s waiting for readiness');
  });

  it('should still accept a revision that became ready past the deadline', async () => {
    const d = await givenPendingDeploy();
    const { deadline } = await prepareDeployment(deps, { deploymentId: d.id });
    await applyRevision(deps, { deploymentId: d.id });
    deps.clock.advanceSeconds(3600);

    expect(await checkRevision(deps, { deploymentId: d.id, deadline })).toEqual({ ready: true });
  });
});

describe('Use case: promoteRevision (deploy-version › Promote)', () => {
  it('should route the version to the new revision, then mark the endpoint running and the deployment succeeded', async () => {
    // Prepare
    const d = await givenPendingDeploy();
    await prepareDeployment(deps, { deploymentId: d.id });
    await applyRevision(deps, { deploymentId: d.id });
    deps.clock.advanceSeconds(4);

    // Act
    await promoteRevision(deps, { deploymentId: d.id });

    // Assess
    expect(deps.clusters.of().callsOf('routeVersion')).toEqual([[endpointKey(1), r(1)]]);
    expect(deps.clusters.of().methods('deleteRevision')).toEqual([]);
    const e = deps.endpoints.peek(endpointKey(1))!;
    expect(e).toMatchObject({
      status: 'running',
      previousStatus: null,
      activeRevision: { number: 1, name: 'iris-1-r1' },
      url: 'http://127.0.0.1:8080/serving/fraud-detection/iris/versions/1',
      updatedAt: '2025-01-01T00:00:04.000Z',
    });
    const stored = deps.deployments.peek({ id: d.id })!;
    expect(stored.status).toBe('succeeded');
    expect(stored.endedAt).toBe('2025-01-01T00:00:04.000Z');
    expect(stored.error).toBeUndefined();
  });

  it('should route to the new revision before deleting the previous one, and take the new settings', async () => {
    // Prepare
    const { deployment } = await givenPendingRedeploy();
    await applyRevision(deps, { deploymentId: deployment.id });
    const cluster = deps.clusters.of();
    cluster.calls.length = 0;

    // Act
    await promoteRevision(deps, { deploymentId: deployment.id });

    // Assess
    expect(cluster.calls).toEqual([
      { method: 'routeVersion', args: [endpointKey(1), r(2)] },
      { method: 'deleteRevision', args: [r(1)] },
    ]);
    expect([...cluster.revisions.keys()]).toEqual(['iris-1-r2']);
    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      status: 'running',
      activeRevision: { number: 2, name: 'iris-1-r2' },
      resources: { cpu: '2', memory: '1Gi', minReplicas: 1, maxReplicas: 2 },
      env: { MODE: 'new' },
    });
  });

  it('should fail with PreconditionFailed for a deployment the endpoint no longer waits for, touching nothing', async () => {
    const d = await givenPendingDeploy();
    deps.endpoints.seed({ ...deps.endpoints.peek(endpointKey(1))!, deploymentId: 'OTHER' });

    const error = await rejectionOf(promoteRevision(deps, { deploymentId: d.id }));

    expect(error.name).toBe('PreconditionFailed');
    expect(deps.clusters.of().calls).toEqual([]);
  });

  it('should succeed when Promote is retried after its last write failed', async () => {
    // Prepare: the third deployment write of Promote (finishDeployment) fails once
    const d = await givenPendingDeploy();
    await prepareDeployment(deps, { deploymentId: d.id });
    await applyRevision(deps, { deploymentId: d.id });
    await checkRevision(deps, { deploymentId: d.id, deadline: '2025-01-01T00:05:00.000Z' });
    let writes = 0;
    deps.deployments.intercept(
      'put',
      () => {
        writes += 1;
        if (writes === 3) throw new DependencyError('DynamoDB put deployment failed: ServiceUnavailable');
      },
      3,
    );
    const first = await rejectionOf(promoteRevision(deps, { deploymentId: d.id }));
    expect(first.name).toBe('DependencyError');

    // Act: the state machine's Retry runs the task again
    await promoteRevision(deps, { deploymentId: d.id });

    // Assess
    expect(deps.deployments.peek({ id: d.id })?.status).toBe('succeeded');
  });
});

describe('Use case: the whole deploy-version workflow', () => {
  it('should end with every step succeeded, in order, startedAt ≤ endedAt, and the endpoint running', async () => {
    // Prepare: the revision needs three checks
    const d = await givenPendingDeploy();
    deps.clusters.of().script('iris-1-r1', { state: 'starting' }, { state: 'starting' }, { state: 'ready' });

    // Act
    const outcome = await runWorkflow(deps, d.id);

    // Assess
    expect(outcome).toEqual({ status: 'succeeded', checks: 3 });
    const stored = deps.deployments.peek({ id: d.id })!;
    expect(stored.status).toBe('succeeded');
    expect(stored.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['Prepare', 'succeeded', 1],
      ['Build Image', 'skipped', 0],
      ['Apply Revision', 'succeeded', 1],
      ['Wait Until Ready', 'succeeded', 3],
      ['Promote', 'succeeded', 1],
    ]);
    for (const s of stored.steps.filter((step) => step.status !== 'skipped')) {
      expect(s.startedAt).toBeDefined();
      expect(Date.parse(s.startedAt!)).toBeLessThanOrEqual(Date.parse(s.endedAt!));
    }
    expect(stored.steps[3]).toMatchObject({
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:00:02.000Z',
    });
    expect(Date.parse(stored.startedAt!)).toBeLessThanOrEqual(Date.parse(stored.endedAt!));
    expect(deps.endpoints.peek(endpointKey(1))?.status).toBe('running');
    expect(deps.clusters.of().methods('applyRevision', 'routeVersion')).toEqual(['applyRevision', 'routeVersion']);
  });

  it('should time out a revision that never gets ready: DeploymentTimeout recorded, endpoint failed', async () => {
    const d = await givenPendingDeploy('staging');
    deps.clusters.of('staging').script('iris-1-r1', { state: 'starting', reason: 'ContainerCreating' });

    const outcome = await runWorkflow(deps, d.id);

    expect(outcome.status).toBe('failed');
    expect(outcome.checks).toBe(61);
    expect(deps.deployments.peek({ id: d.id })?.error).toEqual({
      code: 'DeploymentTimeout',
      message: 'timeout after 60s waiting for readiness: ContainerCreating',
    });
    expect(deps.endpoints.peek(endpointKey(1, 'staging'))).toMatchObject({
      status: 'failed',
      message: 'timeout after 60s waiting for readiness: ContainerCreating',
    });
  });
});

describe('Use case: recordFailure (Catch → Record Failure)', () => {
  it('should fail a first deploy: endpoint failed with the reason, steps failed/skipped, new revision deleted', async () => {
    // Prepare
    const d = await givenPendingDeploy();
    deps.clusters.of().script('iris-1-r1', { state: 'failed', reason: 'OOMKilled' });
    deps.clock.advanceSeconds(1);

    // Act
    const outcome = await runWorkflow(deps, d.id);

    // Assess
    expect(outcome.error?.Error).toBe('RevisionFailed');
    const stored = deps.deployments.peek({ id: d.id })!;
    expect(stored.status).toBe('failed');
    expect(stored.error).toEqual({ code: 'RevisionFailed', message: 'OOMKilled' });
    expect(stored.endedAt).toBe('2025-01-01T00:00:01.000Z');
    expect(stored.steps.map((s) => [s.name, s.status, s.error])).toEqual([
      ['Prepare', 'succeeded', undefined],
      ['Build Image', 'skipped', undefined],
      ['Apply Revision', 'succeeded', undefined],
      ['Wait Until Ready', 'failed', 'OOMKilled'],
      ['Promote', 'skipped', undefined],
    ]);
    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      status: 'failed',
      previousStatus: null,
      activeRevision: null,
      message: 'OOMKilled',
    });
    expect(deps.clusters.of().callsOf('deleteRevision')).toEqual([[r(1)]]);
    expect(deps.clusters.of().revisions.size).toBe(0);
  });

  it('should put a failed REdeploy back to running with the old revision untouched and never deleted', async () => {
    // Prepare
    const { deployment, before } = await givenPendingRedeploy();
    deps.clusters.of().script('iris-1-r2', { state: 'failed', reason: 'ImagePullBackOff' });

    // Act
    await runWorkflow(deps, deployment.id);

    // Assess
    const after = deps.endpoints.peek(endpointKey(1))!;
    expect(after).toMatchObject({
      status: 'running',
      previousStatus: null,
      activeRevision: { number: 1, name: 'iris-1-r1' },
      resources: before.resources,
      env: before.env,
      message: `deploy ${deployment.id} failed: ImagePullBackOff`,
    });
    expect(deps.clusters.of().callsOf('deleteRevision')).toEqual([[r(2)]]);
    expect([...deps.clusters.of().revisions.keys()]).toEqual(['iris-1-r1']);
    expect(deps.deployments.peek({ id: deployment.id })?.error).toEqual({
      code: 'RevisionFailed',
      message: 'ImagePullBackOff',
    });
  });

  it('should leave a revision serving when a redeploy fails inside Promote', async () => {
    const { deployment } = await givenPendingRedeploy();
    await applyRevision(deps, { deploymentId: deployment.id });
    deps.endpoints.failNext('put', new DependencyError('DynamoDB put versionEndpoint failed'));
    const error = await rejectionOf(promoteRevision(deps, { deploymentId: deployment.id }));

    await recordFailure(deps, { deploymentId: deployment.id, error: { Error: error.name, Cause: error.message } });

    const e = deps.endpoints.peek(endpointKey(1))!;
    expect(e.status).toBe('running');
    expect(deps.clusters.of().revisions.has(e.activeRevision!.name)).toBe(true);
  });

  it('should take the message from a Lambda JSON Cause and from a plain-string Cause alike', async () => {
    for (const Cause of [
      JSON.stringify({ errorType: 'RevisionFailed', errorMessage: 'CrashLoopBackOff: exit code 137' }),
      'CrashLoopBackOff: exit code 137',
    ]) {
      deps = makeDeps();
      const d = await givenPendingDeploy();

      await recordFailure(deps, { deploymentId: d.id, error: { Error: 'RevisionFailed', Cause } });

      expect(deps.deployments.peek({ id: d.id })?.error).toEqual({
        code: 'RevisionFailed',
        message: 'CrashLoopBackOff: exit code 137',
      });
      expect(deps.endpoints.peek(endpointKey(1))?.message).toBe('CrashLoopBackOff: exit code 137');
    }
  });

  it('should leave a finished deployment alone', async () => {
    // Prepare
    await givenRunningVersion(deps);
    const endpoint = deps.endpoints.peek(endpointKey(1))!;
    const deployment = deps.deployments.peek({ id: endpoint.deploymentId })!;
    const calls = deps.clusters.of().calls.length;

    // Act
    await recordFailure(deps, {
      deploymentId: deployment.id,
      error: { Error: 'States.Timeout', Cause: 'late duplicate' },
    });

    // Assess
    expect(deps.deployments.peek({ id: deployment.id })).toEqual(deployment);
    expect(deps.endpoints.peek(endpointKey(1))).toEqual(endpoint);
    expect(deps.clusters.of().calls.length).toBe(calls);
  });

  it('should not touch an endpoint that has moved on, but still fail the stale deployment', async () => {
    const d = await givenPendingDeploy();
    const moved = { ...deps.endpoints.peek(endpointKey(1))!, deploymentId: 'OTHER' };
    deps.endpoints.seed(moved);

    await recordFailure(deps, { deploymentId: d.id, error: { Error: 'PreconditionFailed', Cause: 'stale' } });

    expect(deps.endpoints.peek(endpointKey(1))).toEqual(moved);
    expect(deps.deployments.peek({ id: d.id })?.status).toBe('failed');
  });
});

describe('Use case: failureReason', () => {
  it.each([
    [undefined, { code: 'States.TaskFailed', message: 'States.TaskFailed' }],
    [{ Error: 'States.Timeout' }, { code: 'States.Timeout', message: 'States.Timeout' }],
    [
      { Error: '', Cause: 'boom' },
      { code: 'States.TaskFailed', message: 'boom' },
    ],
    [
      { Error: 'X', Cause: '{"errorType":"X","errorMessage":"from lambda"}' },
      { code: 'X', message: 'from lambda' },
    ],
    [
      { Error: 'X', Cause: '{"other":1}' },
      { code: 'X', message: '{"other":1}' },
    ],
    [
      { Error: 'X', Cause: 'null' },
      { code: 'X', message: 'null' },
    ],
  ])('should read %j as %j', (error, expected) => {
    expect(failureReason(error)).toEqual(expected);
  });
});

describe('Use case: the undeploy-version workflow', () => {
  it('should unroute, then delete the revision, then finalize the endpoint terminated', async () => {
    // Prepare
    await givenRunningVersion(deps);
    const d = await undeployVersion(deps, endpointKey(1));
    const cluster = deps.clusters.of();
    cluster.calls.length = 0;

    // Act
    await prepareUndeploy(deps, { deploymentId: d.id });
    await removeRevision(deps, { deploymentId: d.id });
    await finalizeUndeploy(deps, { deploymentId: d.id });

    // Assess
    expect(cluster.calls).toEqual([
      { method: 'unrouteVersion', args: [endpointKey(1)] },
      { method: 'deleteRevision', args: [r(1)] },
    ]);
    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      status: 'terminated',
      previousStatus: null,
      activeRevision: null,
      revisionCounter: 1,
    });
    const stored = deps.deployments.peek({ id: d.id })!;
    expect(stored.status).toBe('succeeded');
    expect(stored.steps.map((s) => [s.name, s.status])).toEqual([
      ['Prepare', 'succeeded'],
      ['Remove Revision', 'succeeded'],
      ['Finalize', 'succeeded'],
    ]);
  });

  it('should only unroute an endpoint that never had a revision', async () => {
    await givenVersion(deps);
    deps.clusters.of().script('iris-1-r1', { state: 'failed', reason: 'x' });
    await runWorkflow(deps, (await deployVersion(deps, versionKey(1), {})).id);
    deps.clusters.of().calls.length = 0;

    const { outcome, endpoint } = await undeployAndRun(deps, endpointKey(1));

    expect(outcome.status).toBe('succeeded');
    expect(deps.clusters.of().methods()).toEqual(['unrouteVersion']);
    expect(endpoint.status).toBe('terminated');
  });

  it('should put the endpoint back to running when removing the revision fails', async () => {
    await givenRunningVersion(deps);
    deps.clusters.of().failOn('unrouteVersion', new Error('router unreachable'));

    const { deployment, outcome, endpoint } = await undeployAndRun(deps, endpointKey(1));

    expect(outcome.status).toBe('failed');
    expect(endpoint).toMatchObject({
      status: 'running',
      activeRevision: { number: 1, name: 'iris-1-r1' },
      message: `undeploy ${deployment.id} failed: router unreachable`,
    });
    expect(deps.deployments.peek({ id: deployment.id })?.error).toEqual({
      code: 'Error',
      message: 'router unreachable',
    });
  });

  it('should fail Prepare/Finalize with PreconditionFailed for a deployment the endpoint no longer waits for', async () => {
    await givenRunningVersion(deps);
    const d = await undeployVersion(deps, endpointKey(1));
    deps.endpoints.seed({ ...deps.endpoints.peek(endpointKey(1))!, deploymentId: 'OTHER' });

    const prepare = await rejectionOf(prepareUndeploy(deps, { deploymentId: d.id }));
    const finalize = await rejectionOf(finalizeUndeploy(deps, { deploymentId: d.id }));

    expect(prepare.name).toBe('PreconditionFailed');
    expect(finalize.name).toBe('PreconditionFailed');
    expect(finalize.message).toContain(`is no longer waiting for deployment ${d.id}`);
  });

  it('should not claim running after the revision was already removed', async () => {
    await givenRunningVersion(deps);
    const d = await undeployVersion(deps, endpointKey(1));
    await prepareUndeploy(deps, { deploymentId: d.id });
    await removeRevision(deps, { deploymentId: d.id });

    await recordFailure(deps, { deploymentId: d.id, error: { Error: 'DependencyError', Cause: 'DynamoDB down' } });

    const e = deps.endpoints.peek(endpointKey(1))!;
    expect(e.status === 'running' && !deps.clusters.of().revisions.has(e.activeRevision?.name ?? '')).toBe(false);
  });
});

describe('Use case: the update-route workflow', () => {
  const to = (...pairs: [number, number][]) => ({
    destinations: pairs.map(([version, weight]) => ({ version, weight })),
  });

  it('should apply the route, then mark the model endpoint serving with the rule', async () => {
    // Prepare
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    const rule = { ...to([1, 80], [2, 20]) };
    const d = await putModelEndpoint(deps, modelEndpointKey(), { rule });

    // Act
    await prepareRoute(deps, { deploymentId: d.id });
    await applyRoute(deps, { deploymentId: d.id });
    await finalizeRoute(deps, { deploymentId: d.id });

    // Assess
    expect(deps.clusters.of().callsOf('applyModelRoute')).toEqual([[modelEndpointKey(), rule]]);
    expect(deps.modelEndpoints.peek(modelEndpointKey())).toMatchObject({ status: 'serving', rule });
    expect(deps.deployments.peek({ id: d.id })?.steps.map((s) => s.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    expect(deps.deployments.peek({ id: d.id })?.status).toBe('succeeded');
  });

  it('should keep the old rule and status serving when the route fails', async () => {
    // Prepare
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), to([1, 100]));
    deps.clusters.of().failOn('applyModelRoute', new Error('HTTPRoute rejected by the gateway'));

    // Act
    const { deployment, outcome, modelEndpoint } = await routeAndRun(deps, modelEndpointKey(), to([2, 100]));

    // Assess
    expect(outcome.status).toBe('failed');
    expect(modelEndpoint).toMatchObject({
      status: 'serving',
      rule: to([1, 100]),
      message: `routing change ${deployment.id} failed: HTTPRoute rejected by the gateway`,
    });
    expect(deps.deployments.peek({ id: deployment.id })?.steps.map((s) => s.status)).toEqual([
      'succeeded',
      'failed',
      'skipped',
    ]);
  });

  it('should mark a new model endpoint failed when its first route fails', async () => {
    await givenRunningVersion(deps);
    deps.clusters.of().failOn('applyModelRoute', new Error('no gateway'));

    const { modelEndpoint } = await routeAndRun(deps, modelEndpointKey(), to([1, 100]));

    expect(modelEndpoint).toMatchObject({ status: 'failed', rule: null });
  });

  it('should fail Prepare when a destination stopped running after the PUT', async () => {
    await givenRunningVersion(deps);
    const d = await putModelEndpoint(deps, modelEndpointKey(), { rule: to([1, 100]) });
    deps.endpoints.seed({ ...deps.endpoints.peek(endpointKey(1))!, status: 'failed' });

    const error = await rejectionOf(prepareRoute(deps, { deploymentId: d.id }));

    expect(error.name).toBe('PreconditionFailed');
    expect(error.message).toBe('the rule cannot be carried out: the version 1 endpoint is failed, not running');
  });

  it('should fail with PreconditionFailed for a routing change the model endpoint no longer waits for', async () => {
    await givenRunningVersion(deps);
    const d = await putModelEndpoint(deps, modelEndpointKey(), { rule: to([1, 100]) });
    deps.modelEndpoints.seed({ ...deps.modelEndpoints.peek(modelEndpointKey())!, deploymentId: 'OTHER' });

    const error = await rejectionOf(finalizeRoute(deps, { deploymentId: d.id }));

    expect(error.name).toBe('PreconditionFailed');
    expect(error.message).toBe(
      `the model endpoint fraud-detection/iris in "local" is no longer waiting for deployment ${d.id}`,
    );
  });

  it('should refuse to undeploy a version that a routing change in flight is about to send traffic to', async () => {
    // Prepare: v1 serves; a change to v2 is pending and past Prepare
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), to([1, 100]));
    const change = await putModelEndpoint(deps, modelEndpointKey(), { rule: to([2, 100]) });
    await prepareRoute(deps, { deploymentId: change.id });

    // Act
    const error = await rejectionOf(undeployVersion(deps, endpointKey(2)));
    await runWorkflowTail(change.id);

    // Assess
    expect(error).toMatchObject({ code: 'ENDPOINT_SERVING', details: { deploymentId: change.id } });
    expect(error.message).toContain(`routing change ${change.id}`);
    expect(deps.endpoints.peek(endpointKey(2))?.status).toBe('running');
    expect(deps.modelEndpoints.peek(modelEndpointKey())).toMatchObject({ status: 'serving', rule: to([2, 100]) });
  });

  async function runWorkflowTail(id: string) {
    try {
      await applyRoute(deps, { deploymentId: id });
      await finalizeRoute(deps, { deploymentId: id });
    } catch (e) {
      await recordFailure(deps, { deploymentId: id, error: { Error: (e as Error).name, Cause: (e as Error).message } });
    }
  }
});

describe('Use case: applyRevision on a removed version', () => {
  it('should fail with NotFoundError and apply nothing', async () => {
    const d = await givenPendingDeploy();
    await deps.versions.delete(versionKey(1));

    const error = await rejectionOf(applyRevision(deps, { deploymentId: d.id }));

    expect(error.name).toBe('NotFoundError');
    expect(deps.clusters.of().calls).toEqual([]);
  });
});
