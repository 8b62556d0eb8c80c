import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as deployVersion from '../../../../functions/api/deploy-version.js';
import * as getDeployment from '../../../../functions/api/get-deployment.js';
import * as getVersionEndpoint from '../../../../functions/api/get-version-endpoint.js';
import * as listEndpointDeployments from '../../../../functions/api/list-endpoint-deployments.js';
import * as listVersionEndpoints from '../../../../functions/api/list-version-endpoints.js';
import * as undeployVersion from '../../../../functions/api/undeploy-version.js';
import { useDeps } from '../../../../functions/shared/container.js';
import {
  callRoute,
  type FakeDeps,
  givenRunningVersion,
  givenVersion,
  makeDeps,
  modelEndpointKey,
  routeAndRun,
  runWorkflow,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
  useDeps(deps);
});
afterEach(() => {
  useDeps(undefined);
});

const v1 = { project: 'fraud-detection', model: 'iris', version: '1' };
const v1local = { ...v1, environment: 'local' };

describe('Handler: POST …/versions/{v}/endpoints (deploy)', () => {
  it('should answer 202 with the Deployment and location /v1/deployments/{id}', async () => {
    await givenVersion(deps);

    const res = await callRoute(deployVersion, { pathParameters: v1, body: { environment: 'staging' } });

    expect(res.status).toBe(202);
    expect(res.headers['location']).toBe(`/v1/deployments/${res.body.id}`);
    expect(res.body).toMatchObject({ kind: 'deploy', status: 'pending', environment: 'staging' });
    expect(deps.workflows.started).toEqual([
      { workflow: 'deploy-version', name: res.body.id, input: { deploymentId: res.body.id } },
    ]);
  });

  it('should deploy into the default environment without a body', async () => {
    await givenVersion(deps);

    const res = await callRoute(deployVersion, { pathParameters: v1 });

    expect(res.status).toBe(202);
    expect(res.body.environment).toBe('local');
  });

  it('should answer 422 UNKNOWN_ENVIRONMENT naming the known ones', async () => {
    await givenVersion(deps);

    const res = await callRoute(deployVersion, { pathParameters: v1, body: { environment: 'prod' } });

    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({
      code: 'UNKNOWN_ENVIRONMENT',
      message: 'unknown environment "prod"; known environments: local, staging',
      details: { environment: 'prod' },
    });
  });

  it('should answer 409 ARTIFACT_INCOMPLETE, then 409 DEPLOYMENT_IN_PROGRESS', async () => {
    await givenVersion(deps, { complete: false });
    await givenVersion(deps);

    const incomplete = await callRoute(deployVersion, { pathParameters: v1 });
    const first = await callRoute(deployVersion, { pathParameters: { ...v1, version: '2' } });
    const again = await callRoute(deployVersion, { pathParameters: { ...v1, version: '2' } });

    expect(incomplete.status).toBe(409);
    expect(incomplete.body.error.code).toBe('ARTIFACT_INCOMPLETE');
    expect(first.status).toBe(202);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'DEPLOYMENT_IN_PROGRESS',
      details: { deploymentId: first.body.id },
    });
  });

  it('should answer 400 for bad resources and unknown fields', async () => {
    await givenVersion(deps);

    const res = await callRoute(deployVersion, {
      pathParameters: v1,
      body: { resources: { memory: 'a lot' }, replicas: 3 },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      'body.resources.memory: must be a memory quantity like "512Mi" or "2Gi"; body.replicas: is not a known field',
    );
  });

  it('should answer 503 when the workflow engine is down', async () => {
    await givenVersion(deps);
    deps.workflows.failWith(new Error('connect ECONNREFUSED'));

    const res = await callRoute(deployVersion, { pathParameters: v1 });

    expect(res.status).toBe(503);
    expect(res.body.error).toEqual({
      code: 'DEPENDENCY_UNAVAILABLE',
      message: 'could not start the deploy-version workflow: connect ECONNREFUSED',
    });
  });
});

describe('Handler: GET …/endpoints[/{env}]', () => {
  it('should show a routed endpoint as serving, and 404 for one never deployed', async () => {
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });

    const one = await callRoute(getVersionEndpoint, { pathParameters: v1local });
    const list = await callRoute(listVersionEndpoints, { pathParameters: v1 });
    const never = await callRoute(getVersionEndpoint, { pathParameters: { ...v1local, environment: 'staging' } });

    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      status: 'serving',
      url: 'http://127.0.0.1:8080/serving/fraud-detection/iris/versions/1',
    });
    expect(list.body.items.map((e: { status: string }) => e.status)).toEqual(['serving']);
    expect(never.status).toBe(404);
  });

  it('should answer 400 for a bad environment name in the path', async () => {
    const res = await callRoute(getVersionEndpoint, { pathParameters: { ...v1local, environment: 'Prod!' } });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^path\.environment: must be 2-50 characters/);
  });
});

describe('Handler: DELETE …/endpoints/{env} (undeploy)', () => {
  it('should answer 202 with the undeploy Deployment and its location', async () => {
    await givenRunningVersion(deps);

    const res = await callRoute(undeployVersion, { pathParameters: v1local });

    expect(res.status).toBe(202);
    expect(res.headers['location']).toBe(`/v1/deployments/${res.body.id}`);
    expect(res.body.kind).toBe('undeploy');
  });

  it('should answer 409 ENDPOINT_SERVING while the model endpoint routes to it', async () => {
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });

    const res = await callRoute(undeployVersion, { pathParameters: v1local });

    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('ENDPOINT_SERVING');
  });

  it('should answer 404 for an unknown environment', async () => {
    const res = await callRoute(undeployVersion, { pathParameters: { ...v1local, environment: 'prod' } });

    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('known environments: local, staging');
  });
});

describe('Handler: deployments', () => {
  it('should answer a deployment by id with its steps, 404 for an unknown id, 400 for a malformed one', async () => {
    // Prepare
    await givenVersion(deps);
    const deploy = await callRoute(deployVersion, { pathParameters: v1 });
    await runWorkflow(deps, deploy.body.id);

    // Act
    const found = await callRoute(getDeployment, { pathParameters: { id: deploy.body.id } });
    const missing = await callRoute(getDeployment, { pathParameters: { id: '01JAAAAAAAAAAAAAAAAAAAAAAA' } });
    const bad = await callRoute(getDeployment, { pathParameters: { id: 'not-an-id' } });

    // Assess
    expect(found.status).toBe(200);
    expect(found.body.status).toBe('succeeded');
    expect(found.body.steps.map((s: { status: string }) => s.status)).toEqual([
      'succeeded',
      'skipped',
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    expect(missing.status).toBe(404);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('path.id: must be a deployment id (a 26-character ULID)');
  });

  it('should list the deployments of an endpoint newest first', async () => {
    await givenRunningVersion(deps);
    const undeploy = await callRoute(undeployVersion, { pathParameters: v1local });

    const res = await callRoute(listEndpointDeployments, { pathParameters: v1local, query: { limit: '10' } });

    expect(res.status).toBe(200);
    expect(res.body.items.map((d: { kind: string }) => d.kind)).toEqual(['undeploy', 'deploy']);
    expect(res.body.items[0].id).toBe(undeploy.body.id);
  });
});
