import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployVersion, undeployVersion } from '../../../../core/use-cases/endpoints.js';
import { putModelEndpoint } from '../../../../core/use-cases/model-endpoints.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { handler as applyRevision } from '../../../../functions/workflow/apply-revision.js';
import { handler as applyRoute } from '../../../../functions/workflow/apply-route.js';
import { handler as checkRevision } from '../../../../functions/workflow/check-revision.js';
import { handler as finalizeRoute } from '../../../../functions/workflow/finalize-route.js';
import { handler as finalizeUndeploy } from '../../../../functions/workflow/finalize-undeploy.js';
import { handler as prepareDeployment } from '../../../../functions/workflow/prepare-deployment.js';
import { handler as prepareRoute } from '../../../../functions/workflow/prepare-route.js';
import { handler as prepareUndeploy } from '../../../../functions/workflow/prepare-undeploy.js';
import { handler as promoteRevision } from '../../../../functions/workflow/promote-revision.js';
import { handler as recordFailure } from '../../../../functions/workflow/record-failure.js';
import { handler as removeRevision } from '../../../../functions/workflow/remove-revision.js';
import {
  endpointKey,
  type FakeDeps,
  givenRunningVersion,
  givenVersion,
  lambdaContext,
  makeDeps,
  modelEndpointKey,
  rejectionOf,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
  useDeps(deps);
});
afterEach(() => {
  useDeps(undefined);
});

const ctx = lambdaContext('merlin-workflow-test');

describe('Workflow handlers: input validation', () => {
  it.each([
    ['prepare-deployment', prepareDeployment],
    ['apply-revision', applyRevision],
    ['promote-revision', promoteRevision],
    ['record-failure', recordFailure],
  ] as const)('should refuse %s input without a deploymentId, naming it', async (_name, handler) => {
    const error = await rejectionOf(handler({}, ctx));

    expect(error.name).toBe('ValidationError');
    expect(error.message).toBe('input.deploymentId: is required');
  });

  it('should refuse a check without a valid deadline', async () => {
    const missing = await rejectionOf(checkRevision({ deploymentId: 'X' }, ctx));
    const bad = await rejectionOf(checkRevision({ deploymentId: 'X', deadline: 'tomorrow' }, ctx));

    expect(missing.message).toBe('input.deadline: is required');
    expect(bad.message).toMatch(/^input\.deadline: /);
  });

  it('should refuse an empty deploymentId', async () => {
    const error = await rejectionOf(prepareDeployment({ deploymentId: '' }, ctx));

    expect(error.name).toBe('ValidationError');
    expect(error.message).toMatch(/^input\.deploymentId: /);
  });
});

describe('Workflow handlers: the deploy-version tasks', () => {
  it('should run the deploy tasks with small JSON results: prepared, {} for void steps, readiness', async () => {
    // Prepare
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), {});
    const input = { deploymentId: d.id };

    // Act
    const prepared = await prepareDeployment(input, ctx);
    const applied = await applyRevision(input, ctx);
    const readiness = await checkRevision({ ...input, deadline: prepared.deadline }, ctx);
    const promoted = await promoteRevision(input, ctx);

    // Assess
    expect(prepared).toEqual({
      deadline: '2025-01-01T00:05:00.000Z',
      pollSeconds: 1,
      timeoutSeconds: 300,
      needsImage: false,
    });
    expect(applied).toEqual({});
    expect(readiness).toEqual({ ready: true });
    expect(promoted).toEqual({});
    expect(deps.endpoints.peek(endpointKey(1))?.status).toBe('running');
  });

  it('should keep the WorkflowStepError name the ASL Catch matches on (RevisionFailed)', async () => {
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), {});
    deps.clusters.of().script('iris-1-r1', { state: 'failed', reason: 'ImagePullBackOff' });

    const error = await rejectionOf(checkRevision({ deploymentId: d.id, deadline: '2025-01-01T00:05:00.000Z' }, ctx));

    expect(error.name).toBe('RevisionFailed');
    expect(error.message).toBe('ImagePullBackOff');
  });

  it('should keep DeploymentTimeout and PreconditionFailed names', async () => {
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), {});
    deps.clusters.of().script('iris-1-r1', { state: 'starting' });

    const timeout = await rejectionOf(checkRevision({ deploymentId: d.id, deadline: '2024-12-31T23:59:59.000Z' }, ctx));
    deps.endpoints.seed({ ...deps.endpoints.peek(endpointKey(1))!, deploymentId: 'OTHER' });
    const stale = await rejectionOf(promoteRevision({ deploymentId: d.id }, ctx));

    expect(timeout.name).toBe('DeploymentTimeout');
    expect(timeout.message).toBe('timeout after 300s waiting for readiness');
    expect(stale.name).toBe('PreconditionFailed');
  });

  it('should record a failure passed as the Catch error object and return {}', async () => {
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), {});

    const out = await recordFailure(
      {
        deploymentId: d.id,
        error: { Error: 'RevisionFailed', Cause: '{"errorType":"RevisionFailed","errorMessage":"OOMKilled"}' },
      },
      ctx,
    );

    expect(out).toEqual({});
    expect(deps.deployments.peek({ id: d.id })?.error).toEqual({ code: 'RevisionFailed', message: 'OOMKilled' });
  });
});

describe('Workflow handlers: the undeploy-version and update-route tasks', () => {
  it('should run the undeploy tasks to a terminated endpoint', async () => {
    await givenRunningVersion(deps);
    const d = await undeployVersion(deps, endpointKey(1));
    const input = { deploymentId: d.id };

    const results = [
      await prepareUndeploy(input, ctx),
      await removeRevision(input, ctx),
      await finalizeUndeploy(input, ctx),
    ];

    expect(results).toEqual([{}, {}, {}]);
    expect(deps.endpoints.peek(endpointKey(1))?.status).toBe('terminated');
  });

  it('should run the route tasks to a serving model endpoint', async () => {
    await givenRunningVersion(deps);
    const rule = { destinations: [{ version: 1, weight: 100 }] };
    const d = await putModelEndpoint(deps, modelEndpointKey(), { rule });
    const input = { deploymentId: d.id };

    await prepareRoute(input, ctx);
    await applyRoute(input, ctx);
    await finalizeRoute(input, ctx);

    expect(deps.modelEndpoints.peek(modelEndpointKey())).toMatchObject({ status: 'serving', rule });
  });
});
