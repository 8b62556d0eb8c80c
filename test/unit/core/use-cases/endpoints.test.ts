import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, DependencyError, NotFoundError, UnprocessableError } from '../../../../core/errors.js';
import type { ModelEndpoint, VersionEndpoint } from '../../../../core/schemas/index.js';
import { completeArtifact } from '../../../../core/use-cases/artifacts.js';
import { createVersion } from '../../../../core/use-cases/catalog.js';
import {
  deployVersion,
  getEndpoint,
  listEndpoints,
  presentEndpoint,
  resolveResources,
  undeployVersion,
} from '../../../../core/use-cases/endpoints.js';
import {
  deployAndRun,
  endpointKey,
  type FakeDeps,
  givenModel,
  givenRunningVersion,
  givenVersion,
  MODEL_KEY,
  makeDeps,
  modelEndpointKey,
  rejectionOf,
  routeAndRun,
  runWorkflow,
  undeployAndRun,
  uploadFiles,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
});

const LOCAL_DEFAULTS = { cpu: '500m', memory: '512Mi', minReplicas: 1, maxReplicas: 1 };

describe('Use case: deployVersion', () => {
  it('should record a pending Deployment with the 5 deploy steps and answer it', async () => {
    // Prepare
    await givenVersion(deps);
    const id = deps.ids.peek();

    // Act
    const deployment = await deployVersion(deps, versionKey(1), {});

    // Assess
    expect(deployment).toEqual({
      id,
      kind: 'deploy',
      project: 'fraud-detection',
      model: 'iris',
      version: 1,
      environment: 'local',
      status: 'pending',
      targetRevision: { number: 1, name: 'iris-1-r1' },
      request: { resources: LOCAL_DEFAULTS, env: {}, protocol: 'v1', serving: {} },
      steps: [
        { name: 'Prepare', status: 'pending', attempts: 0 },
        { name: 'Build Image', status: 'pending', attempts: 0 },
        { name: 'Apply Revision', status: 'pending', attempts: 0 },
        { name: 'Wait Until Ready', status: 'pending', attempts: 0 },
        { name: 'Promote', status: 'pending', attempts: 0 },
      ],
      execution: {
        workflow: 'deploy-version',
        name: id,
        arn: `arn:aws:states:eu-west-1:123456789012:execution:merlin-test-deploy-version:${id}`,
      },
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });
    expect(deps.deployments.peek({ id })).toEqual(deployment);
  });

  it('should mark the endpoint pending on the deployment, in the default environment', async () => {
    await givenVersion(deps);

    const deployment = await deployVersion(deps, versionKey(1), { env: { LOG_LEVEL: 'debug' }, protocol: 'v2' });

    expect(deps.endpoints.peek(endpointKey(1))).toEqual({
      project: 'fraud-detection',
      model: 'iris',
      version: 1,
      environment: 'local',
      status: 'pending',
      url: 'http://127.0.0.1:8080/serving/fraud-detection/iris/versions/1',
      activeRevision: null,
      revisionCounter: 1,
      previousStatus: null,
      deploymentId: deployment.id,
      resources: LOCAL_DEFAULTS,
      env: { LOG_LEVEL: 'debug' },
      protocol: 'v2',
      serving: {},
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });
  });

  it('should start the deploy-version workflow named by the deployment with {deploymentId}', async () => {
    await givenVersion(deps);

    const deployment = await deployVersion(deps, versionKey(1), {});

    expect(deps.workflows.started).toEqual([
      { workflow: 'deploy-version', name: deployment.id, input: { deploymentId: deployment.id } },
    ]);
  });

  it('should deploy into a named environment with its defaults filling unset resources', async () => {
    await givenVersion(deps);

    const deployment = await deployVersion(deps, versionKey(1), {
      environment: 'staging',
      resources: { memory: '2Gi' },
    });

    expect(deployment.environment).toBe('staging');
    expect(deployment.request.resources).toEqual({ cpu: '1', memory: '2Gi', minReplicas: 2, maxReplicas: 3 });
    expect(deps.endpoints.peek(endpointKey(1, 'staging'))?.url).toBe(
      'https://staging.models.example.com/serving/fraud-detection/iris/versions/1',
    );
  });

  it('should refuse an unknown environment with 422 UNKNOWN_ENVIRONMENT naming the known ones, storing nothing', async () => {
    await givenVersion(deps);

    const error = await rejectionOf(deployVersion(deps, versionKey(1), { environment: 'prod' }));

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('UNKNOWN_ENVIRONMENT');
    expect(error.message).toBe('unknown environment "prod"; known environments: local, staging');
    expect(deps.deployments.size).toBe(0);
    expect(deps.endpoints.size).toBe(0);
    expect(deps.workflows.attempts).toHaveLength(0);
  });

  it('should answer NotFoundError for a missing model or version', async () => {
    await givenVersion(deps);

    const noVersion = await rejectionOf(deployVersion(deps, versionKey(9), {}));
    const noModel = await rejectionOf(deployVersion(deps, { ...MODEL_KEY, model: 'ghost', version: 1 }, {}));

    expect(noVersion).toBeInstanceOf(NotFoundError);
    expect(noVersion.message).toBe('fraud-detection/iris version 9 not found');
    expect(noModel.message).toBe('model "ghost" not found in project "fraud-detection"');
  });

  it('should refuse a version without a complete artifact with 409 ARTIFACT_INCOMPLETE', async () => {
    await givenVersion(deps, { complete: false });

    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('ARTIFACT_INCOMPLETE');
    expect(error.message).toContain('fraud-detection/iris version 1 has no complete artifact');
    expect(error.details).toEqual({ artifact: 'pending' });
    expect(deps.endpoints.size).toBe(0);
  });

  it('should refuse a custom model without a command in a local environment with 422 CUSTOM_PREDICTOR_MISSING', async () => {
    await givenModel(deps, { type: 'custom' });
    await createVersion(deps, MODEL_KEY, { custom: { image: 'registry.example.com/iris:1', protocol: 'v2' } });
    await completeArtifact(deps, versionKey(1), { files: uploadFiles(deps, versionKey(1), { 'serve.py': 'print()' }) });

    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('CUSTOM_PREDICTOR_MISSING');
    expect(error.message).toContain('without a command, which environment "local" (local) needs to run it');
    expect(deps.endpoints.size).toBe(0);
  });

  it('should refuse while a deployment is in progress with 409 DEPLOYMENT_IN_PROGRESS naming it', async () => {
    // Prepare
    await givenVersion(deps);
    const first = await deployVersion(deps, versionKey(1), {});

    // Act
    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    // Assess
    expect(error.code).toBe('DEPLOYMENT_IN_PROGRESS');
    expect(error.message).toContain(`(${first.id})`);
    expect(error.message).toContain(`GET /v1/deployments/${first.id}`);
    expect(error.details).toEqual({ deploymentId: first.id });
    expect(deps.deployments.size).toBe(1);
    expect(deps.workflows.started).toHaveLength(1);
  });

  it('should refuse a running endpoint with 409 ALREADY_DEPLOYED', async () => {
    await givenRunningVersion(deps);

    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    expect(error.code).toBe('ALREADY_DEPLOYED');
    expect(error.message).toContain('is already deployed; redeploy with PATCH …/endpoints/local or undeploy it first');
  });

  it('should let exactly one of two concurrent deploys win; the loser gets DEPLOYMENT_IN_PROGRESS', async () => {
    await givenVersion(deps);

    const results = await Promise.allSettled([
      deployVersion(deps, versionKey(1), {}),
      deployVersion(deps, versionKey(1), {}),
    ]);

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((r) => (r.reason as ConflictError).code)).toEqual(['DEPLOYMENT_IN_PROGRESS']);
    expect(deps.deployments.size).toBe(1);
    expect(deps.workflows.started).toHaveLength(1);
  });

  it('should refuse beyond the active-version limit with 409 ACTIVE_LIMIT_REACHED naming versions and limit', async () => {
    // Prepare: versions 1 and 2 running, version 3 ready to deploy (limit 2 in local)
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    await givenVersion(deps);

    // Act
    const error = await rejectionOf(deployVersion(deps, versionKey(3), {}));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('ACTIVE_LIMIT_REACHED');
    expect(error.message).toBe(
      'model fraud-detection/iris already has 2 active version endpoints in environment "local" (versions 1, 2); the limit is 2: undeploy one first',
    );
    expect(error.details).toEqual({ active: [1, 2], limit: 2 });
  });

  it('should count pending endpoints towards the limit, but not failed or terminated ones', async () => {
    // Prepare: staging allows 1 active version
    await givenVersion(deps);
    await givenVersion(deps);
    await givenVersion(deps);
    await deployVersion(deps, versionKey(1), { environment: 'staging' }); // pending

    // Act
    const blocked = await rejectionOf(deployVersion(deps, versionKey(2), { environment: 'staging' }));
    const otherEnv = await deployVersion(deps, versionKey(2), {}); // local is another environment

    // Assess
    expect(blocked.code).toBe('ACTIVE_LIMIT_REACHED');
    expect(blocked.details).toEqual({ active: [1], limit: 1 });
    expect(otherEnv.environment).toBe('local');
  });

  it('should not count failed or terminated endpoints towards the limit', async () => {
    // Prepare: in staging (limit 1) v1 failed and v2 terminated
    await givenVersion(deps);
    await givenVersion(deps);
    await givenVersion(deps);
    deps.clusters.of('staging').script('iris-1-r1', { state: 'failed', reason: 'OOMKilled' });
    expect((await deployAndRun(deps, endpointKey(1, 'staging'))).endpoint.status).toBe('failed');
    await deployAndRun(deps, endpointKey(2, 'staging'));
    await undeployAndRun(deps, endpointKey(2, 'staging'));

    // Act
    const { endpoint } = await deployAndRun(deps, endpointKey(3, 'staging'));

    // Assess
    expect(endpoint.status).toBe('running');
  });

  it('should redeploy a failed endpoint in place with the next revision number', async () => {
    // Prepare: first deploy fails
    await givenVersion(deps);
    deps.clusters.of().script('iris-1-r1', { state: 'failed', reason: 'CrashLoopBackOff' });
    const { endpoint: failed } = await deployAndRun(deps, endpointKey(1));
    deps.clock.advanceSeconds(120);

    // Act
    const deployment = await deployVersion(deps, versionKey(1), {});

    // Assess
    expect(deployment.targetRevision).toEqual({ number: 2, name: 'iris-1-r2' });
    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      status: 'pending',
      previousStatus: 'failed',
      revisionCounter: 2,
      deploymentId: deployment.id,
      createdAt: failed.createdAt,
      updatedAt: '2025-01-01T00:02:00.000Z',
      revision: failed.revision + 1,
    });
  });

  it('should redeploy a terminated endpoint with the next revision number and run it', async () => {
    // Prepare
    await givenRunningVersion(deps);
    await undeployAndRun(deps, endpointKey(1));

    // Act
    const { deployment, endpoint } = await deployAndRun(deps, endpointKey(1));

    // Assess
    expect(deployment.targetRevision?.name).toBe('iris-1-r2');
    expect(endpoint).toMatchObject({ status: 'running', activeRevision: { number: 2, name: 'iris-1-r2' } });
  });

  it('should apply the protocol asked for when redeploying a terminated endpoint', async () => {
    await givenVersion(deps);
    await deployAndRun(deps, endpointKey(1)); // protocol v1 (default)
    await undeployAndRun(deps, endpointKey(1));

    const deployment = await deployVersion(deps, versionKey(1), { protocol: 'v2' });
    await runWorkflow(deps, deployment.id);

    expect(deps.endpoints.peek(endpointKey(1))?.protocol).toBe('v2');
  });

  it('should answer DependencyError when the workflow cannot start, fail the deployment and fail the new endpoint', async () => {
    // Prepare
    await givenVersion(deps);
    deps.workflows.failWith(new Error('ThrottlingException: rate exceeded'));
    const id = deps.ids.peek();

    // Act
    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    // Assess
    expect(error).toBeInstanceOf(DependencyError);
    expect(error.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(error.message).toBe('could not start the deploy-version workflow: ThrottlingException: rate exceeded');
    expect(deps.deployments.peek({ id })).toMatchObject({
      status: 'failed',
      error: { code: 'WorkflowStartFailed', message: error.message },
      steps: [
        { name: 'Prepare', status: 'skipped' },
        { name: 'Build Image', status: 'skipped' },
        { name: 'Apply Revision', status: 'skipped' },
        { name: 'Wait Until Ready', status: 'skipped' },
        { name: 'Promote', status: 'skipped' },
      ],
    });
    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      status: 'failed',
      message: 'the deployment workflow could not be started',
      revision: 2,
    });
  });

  it('should restore an existing endpoint exactly when the workflow cannot start', async () => {
    // Prepare: a terminated endpoint
    await givenRunningVersion(deps);
    const { endpoint: before } = await undeployAndRun(deps, endpointKey(1));
    deps.workflows.failWith();

    // Act
    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    // Assess
    expect(error).toBeInstanceOf(DependencyError);
    const after = deps.endpoints.peek(endpointKey(1))!;
    expect({ ...after, revision: 0, updatedAt: '' }).toEqual({ ...before, revision: 0, updatedAt: '' });
    expect(after.revision).toBe(before.revision + 2);
    expect(after.revisionCounter).toBe(before.revisionCounter);
  });

  it('should remove its deployment record when the endpoint write fails', async () => {
    await givenVersion(deps);
    deps.endpoints.failNext('put', new DependencyError('DynamoDB put versionEndpoint failed'));

    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    expect(error).toBeInstanceOf(DependencyError);
    expect(deps.deployments.size).toBe(0);
    expect(deps.workflows.attempts).toHaveLength(0);
  });

  it('should answer CONCURRENT_CHANGE when the endpoint changed but is not pending', async () => {
    // Prepare: a failed endpoint that someone else rewrites (still failed) while we deploy
    await givenVersion(deps);
    deps.clusters.of().script('iris-1-r1', { state: 'failed', reason: 'x' });
    const { endpoint } = await deployAndRun(deps, endpointKey(1));
    deps.endpoints.intercept('put', () => void deps.endpoints.seed({ ...endpoint, revision: endpoint.revision + 1 }));

    // Act
    const error = await rejectionOf(deployVersion(deps, versionKey(1), {}));

    // Assess
    expect(error.code).toBe('CONCURRENT_CHANGE');
    expect(error.message).toContain('changed while this request ran; retry');
  });
});

describe('Use case: resolveResources', () => {
  const env = makeDeps().environments.get('staging');

  it('should raise maxReplicas to minReplicas when only minReplicas is asked', () => {
    expect(resolveResources(env, { minReplicas: 5 })).toEqual({
      cpu: '1',
      memory: '1Gi',
      minReplicas: 5,
      maxReplicas: 5,
    });
  });

  it('should keep the default maxReplicas when it is larger', () => {
    expect(resolveResources(env, { minReplicas: 0 })).toMatchObject({ minReplicas: 0, maxReplicas: 3 });
  });

  it('should take everything asked for', () => {
    const asked = { cpu: '250m', memory: '128Mi', minReplicas: 1, maxReplicas: 2 };
    expect(resolveResources(env, asked)).toEqual(asked);
  });
});

describe('Use case: presentEndpoint', () => {
  const endpoint = { version: 3, status: 'running' } as VersionEndpoint;
  const me = (over: Partial<ModelEndpoint>) =>
    ({
      status: 'serving',
      rule: { destinations: [{ version: 3, weight: 100 }] },
      ...over,
    }) as ModelEndpoint;

  it('should show a running endpoint the model endpoint routes to as serving', () => {
    expect(presentEndpoint(endpoint, me({})).status).toBe('serving');
  });

  it('should keep running when there is no model endpoint, no rule, or another destination', () => {
    expect(presentEndpoint(endpoint, undefined).status).toBe('running');
    expect(presentEndpoint(endpoint, me({ rule: null })).status).toBe('running');
    expect(presentEndpoint(endpoint, me({ rule: { destinations: [{ version: 4, weight: 100 }] } })).status).toBe(
      'running',
    );
  });

  it('should not call it serving when the model endpoint is terminated', () => {
    expect(presentEndpoint(endpoint, me({ status: 'terminated' })).status).toBe('running');
  });

  it('should keep the rule while a routing change is pending', () => {
    expect(presentEndpoint(endpoint, me({ status: 'pending' })).status).toBe('serving');
  });

  it('should never turn a non-running endpoint into serving', () => {
    for (const status of ['pending', 'failed', 'terminated'] as const) {
      expect(presentEndpoint({ ...endpoint, status }, me({})).status).toBe(status);
    }
  });

  it('should not modify the stored entity', () => {
    const stored = { ...endpoint };
    presentEndpoint(stored, me({}));
    expect(stored.status).toBe('running');
  });
});

describe('Use case: getEndpoint and listEndpoints', () => {
  it('should answer NotFoundError for an endpoint never deployed', async () => {
    await givenVersion(deps);

    const error = await rejectionOf(getEndpoint(deps, endpointKey(1)));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('fraud-detection/iris version 1 in environment "local" has never been deployed');
  });

  it('should derive serving from the model endpoint, per environment', async () => {
    // Prepare: v1 running in local and staging; the local model endpoint routes to it
    await givenRunningVersion(deps);
    await deployAndRun(deps, endpointKey(1, 'staging'));
    await routeAndRun(deps, modelEndpointKey('local'), { destinations: [{ version: 1, weight: 100 }] });

    // Act
    const local = await getEndpoint(deps, endpointKey(1));
    const list = await listEndpoints(deps, versionKey(1), { limit: 20 });

    // Assess
    expect(local.status).toBe('serving');
    expect(deps.endpoints.peek(endpointKey(1))?.status).toBe('running');
    expect(list.items.map((e) => [e.environment, e.status])).toEqual([
      ['local', 'serving'],
      ['staging', 'running'],
    ]);
  });

  it('should answer NotFoundError listing the endpoints of a missing version', async () => {
    await givenModel(deps);

    const error = await rejectionOf(listEndpoints(deps, versionKey(1), { limit: 20 }));

    expect(error.message).toBe('fraud-detection/iris version 1 not found');
  });
});

describe('Use case: undeployVersion', () => {
  it('should mark a running endpoint pending and start undeploy-version for its active revision', async () => {
    // Prepare
    const running = await givenRunningVersion(deps);
    deps.clock.advanceSeconds(10);

    // Act
    const deployment = await undeployVersion(deps, endpointKey(1));

    // Assess
    expect(deployment).toMatchObject({
      kind: 'undeploy',
      version: 1,
      environment: 'local',
      status: 'pending',
      targetRevision: { number: 1, name: 'iris-1-r1' },
      request: {},
      steps: [
        { name: 'Prepare', status: 'pending', attempts: 0 },
        { name: 'Remove Revision', status: 'pending', attempts: 0 },
        { name: 'Finalize', status: 'pending', attempts: 0 },
      ],
      execution: { workflow: 'undeploy-version', name: deployment.id },
    });
    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      status: 'pending',
      previousStatus: 'running',
      deploymentId: deployment.id,
      activeRevision: { number: 1, name: 'iris-1-r1' },
      revision: running.revision + 1,
      updatedAt: '2025-01-01T00:00:10.000Z',
    });
    expect(deps.workflows.last()).toEqual({
      workflow: 'undeploy-version',
      name: deployment.id,
      input: { deploymentId: deployment.id },
    });
  });

  it('should undeploy a failed endpoint that never had a revision (no target revision)', async () => {
    await givenVersion(deps);
    deps.clusters.of().script('iris-1-r1', { state: 'failed', reason: 'OOMKilled' });
    await deployAndRun(deps, endpointKey(1));

    const deployment = await undeployVersion(deps, endpointKey(1));

    expect(deployment.targetRevision).toBeUndefined();
    expect(deps.endpoints.peek(endpointKey(1))?.previousStatus).toBe('failed');
  });

  it('should refuse a pending endpoint with 409 DEPLOYMENT_IN_PROGRESS', async () => {
    await givenVersion(deps);
    const deploy = await deployVersion(deps, versionKey(1), {});

    const error = await rejectionOf(undeployVersion(deps, endpointKey(1)));

    expect(error.code).toBe('DEPLOYMENT_IN_PROGRESS');
    expect(error.details).toEqual({ deploymentId: deploy.id });
  });

  it('should refuse a terminated endpoint with 409 ALREADY_TERMINATED', async () => {
    await givenRunningVersion(deps);
    await undeployAndRun(deps, endpointKey(1));

    const error = await rejectionOf(undeployVersion(deps, endpointKey(1)));

    expect(error.code).toBe('ALREADY_TERMINATED');
    expect(error.message).toBe('fraud-detection/iris version 1 in environment "local" is already terminated');
  });

  it('should refuse an endpoint the model endpoint routes to with 409 ENDPOINT_SERVING', async () => {
    // Prepare
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });

    // Act
    const error = await rejectionOf(undeployVersion(deps, endpointKey(1)));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('ENDPOINT_SERVING');
    expect(error.message).toContain('receives traffic from the model endpoint fraud-detection/iris in "local"');
    expect(error.details).toEqual({ modelEndpoint: 'http://127.0.0.1:8080/serving/fraud-detection/iris' });
    expect(deps.endpoints.peek(endpointKey(1))?.status).toBe('running');
  });

  it('should refuse an endpoint that is the mirror of the model endpoint with ENDPOINT_SERVING', async () => {
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), {
      destinations: [{ version: 1, weight: 100 }],
      mirror: { version: 2, percent: 10 },
    });

    const error = await rejectionOf(undeployVersion(deps, endpointKey(2)));

    expect(error.code).toBe('ENDPOINT_SERVING');
  });

  it('should allow undeploying a version the rule does not name', async () => {
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });

    const deployment = await undeployVersion(deps, endpointKey(2));

    expect(deployment.kind).toBe('undeploy');
  });

  it('should ignore the rule of a terminated model endpoint', async () => {
    await givenRunningVersion(deps);
    const { modelEndpoint } = await routeAndRun(deps, modelEndpointKey(), {
      destinations: [{ version: 1, weight: 100 }],
    });
    deps.modelEndpoints.seed({ ...modelEndpoint, status: 'terminated' });

    const deployment = await undeployVersion(deps, endpointKey(1));

    expect(deployment.kind).toBe('undeploy');
  });

  it('should answer NotFoundError for an unknown environment or an endpoint never deployed', async () => {
    await givenVersion(deps);

    const env = await rejectionOf(undeployVersion(deps, endpointKey(1, 'prod')));
    const never = await rejectionOf(undeployVersion(deps, endpointKey(1)));

    expect(env).toBeInstanceOf(NotFoundError);
    expect(env.message).toBe('environment "prod" not found; known environments: local, staging');
    expect(never).toBeInstanceOf(NotFoundError);
    expect(never.message).toContain('has never been deployed');
  });

  it('should restore the running endpoint when the workflow cannot start', async () => {
    const running = await givenRunningVersion(deps);
    deps.workflows.failWith();

    const error = await rejectionOf(undeployVersion(deps, endpointKey(1)));

    expect(error.message).toBe('could not start the undeploy-version workflow: Step Functions is unavailable');
    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      status: 'running',
      previousStatus: null,
      deploymentId: running.deploymentId,
      revision: running.revision + 2,
    });
  });
});
