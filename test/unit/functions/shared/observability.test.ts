import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deployVersion, undeployVersion } from '../../../../core/use-cases/endpoints.js';
import * as deployRoute from '../../../../functions/api/deploy-version.js';
import * as getProject from '../../../../functions/api/get-project.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { BUSINESS_METRICS } from '../../../../functions/shared/metric-names.js';
import {
  type BusinessMetric,
  type MetricsRecorder,
  onLambda,
  powertoolsMetrics,
  recordMetricsWith,
  traced,
  tracer,
} from '../../../../functions/shared/observability.js';
import { handler as applyRevision } from '../../../../functions/workflow/apply-revision.js';
import { handler as finalizeUndeploy } from '../../../../functions/workflow/finalize-undeploy.js';
import { handler as prepareDeployment } from '../../../../functions/workflow/prepare-deployment.js';
import { handler as prepareUndeploy } from '../../../../functions/workflow/prepare-undeploy.js';
import { handler as promoteRevision } from '../../../../functions/workflow/promote-revision.js';
import { handler as recordFailure } from '../../../../functions/workflow/record-failure.js';
import { handler as removeRevision } from '../../../../functions/workflow/remove-revision.js';
import {
  callRoute,
  endpointKey,
  type FakeDeps,
  givenRunningVersion,
  givenVersion,
  lambdaContext,
  makeDeps,
  versionKey,
} from '../../../fakes/index.js';

/** Records what handlers count and how often they flush. */
const recorder = () => {
  const counted: BusinessMetric[] = [];
  let flushes = 0;
  const r: MetricsRecorder & { counted: BusinessMetric[]; flushes: () => number } = {
    counted,
    flushes: () => flushes,
    count: (name) => counted.push(name),
    flush: () => {
      flushes++;
    },
  };
  return r;
};

let deps: FakeDeps;
let metrics: ReturnType<typeof recorder>;
beforeEach(() => {
  deps = makeDeps();
  useDeps(deps);
  metrics = recorder();
  recordMetricsWith(metrics);
});
afterEach(() => {
  useDeps(undefined);
  recordMetricsWith(undefined);
});

const ctx = lambdaContext('merlin-observability-test');
const v1 = { project: 'fraud-detection', model: 'iris', version: '1' };

describe('Business metrics: DeploymentStarted from the API', () => {
  it('should count DeploymentStarted once for a deploy answered 202, and flush at the end of every invocation', async () => {
    await givenVersion(deps);

    const res = await callRoute(deployRoute, { pathParameters: v1, body: { environment: 'staging' } });
    await callRoute(getProject, { pathParameters: { project: 'fraud-detection' } });

    expect(res.status).toBe(202);
    expect(metrics.counted).toEqual(['DeploymentStarted']);
    expect(metrics.flushes()).toBe(2);
  });

  it('should count nothing for a refused deploy or a replayed idempotent one', async () => {
    const refused = await callRoute(deployRoute, { pathParameters: v1, body: {} });
    await givenVersion(deps);
    const headers = { 'idempotency-key': 'deploy-once' };
    const first = await callRoute(deployRoute, { pathParameters: v1, body: {}, headers });
    const replay = await callRoute(deployRoute, { pathParameters: v1, body: {}, headers });

    expect(refused.status).toBe(404);
    expect(first.status).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(metrics.counted).toEqual(['DeploymentStarted']);
  });
});

describe('Business metrics: how deployments end, from the workflow tasks', () => {
  it('should count DeploymentSucceeded when Promote finishes a deployment', async () => {
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), {});
    const input = { deploymentId: d.id };

    await prepareDeployment(input, ctx);
    await applyRevision(input, ctx);
    expect(metrics.counted).toEqual([]);
    await promoteRevision(input, ctx);

    expect(deps.deployments.peek({ id: d.id })?.status).toBe('succeeded');
    expect(metrics.counted).toEqual(['DeploymentSucceeded']);
  });

  it('should count DeploymentFailed when Record Failure fails a deployment, and nothing when it is retried', async () => {
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), {});
    const failure = { deploymentId: d.id, error: { Error: 'RevisionFailed', Cause: 'OOMKilled' } };

    await recordFailure(failure, ctx);
    await recordFailure(failure, ctx);

    expect(deps.deployments.peek({ id: d.id })?.status).toBe('failed');
    expect(metrics.counted).toEqual(['DeploymentFailed']);
  });

  it('should count DeploymentSucceeded when Finalize ends an undeploy', async () => {
    await givenRunningVersion(deps);
    const d = await undeployVersion(deps, endpointKey(1));
    const input = { deploymentId: d.id };

    await prepareUndeploy(input, ctx);
    await removeRevision(input, ctx);
    await finalizeUndeploy(input, ctx);

    expect(metrics.counted).toEqual(['DeploymentSucceeded']);
  });
});

describe('Powertools wiring', () => {
  it('should publish counted metrics as CloudWatch EMF in the Merlin namespace with service and stage dimensions', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const emf = powertoolsMetrics('prod');

    emf.count('DeploymentStarted');
    emf.count('DeploymentFailed');
    emf.flush();
    const lines = out.mock.calls.map((c) => String(c[0]));
    out.mockRestore();

    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]!);
    expect(doc._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'Merlin',
        Dimensions: [['service', 'stage']],
        Metrics: [
          { Name: 'DeploymentStarted', Unit: 'Count' },
          { Name: 'DeploymentFailed', Unit: 'Count' },
        ],
      },
    ]);
    expect(doc).toMatchObject({ service: 'merlin', stage: 'prod', DeploymentStarted: 1, DeploymentFailed: 1 });
    expect(BUSINESS_METRICS).toEqual(['DeploymentStarted', 'DeploymentSucceeded', 'DeploymentFailed']);
  });

  it('should write nothing (no EMF, no warning) when an invocation counted nothing', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);

    powertoolsMetrics('dev').flush();
    const calls = [out, err, warn].map((s) => s.mock.calls.length);
    for (const s of [out, err, warn]) s.mockRestore();

    expect(calls).toEqual([0, 0, 0]);
  });

  it('should trace nothing outside Lambda: the tracer is off and AWS SDK clients stay untouched', () => {
    const client = { middlewareStack: { add: vi.fn(), use: vi.fn() } };

    expect(onLambda()).toBe(false);
    expect(onLambda({ AWS_LAMBDA_FUNCTION_NAME: 'Merlin-prod-Api-ProjectsFunction' })).toBe(true);
    expect(tracer.isTracingEnabled()).toBe(false);
    expect(traced(client)).toBe(client);
    expect(client.middlewareStack.add).not.toHaveBeenCalled();
    expect(client.middlewareStack.use).not.toHaveBeenCalled();
  });
});
