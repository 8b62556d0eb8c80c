/**
 * The rules Merlin users rely on (reference/merlin.md §2–3), one test each, named after the rule; where Merlin has a
 * quirk (§10.1) the test names the fix.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { logsQuery, redeployBody, versionListQuery } from '../../../../core/schemas/index.js';
import { createVersion, listVersions, updateVersion } from '../../../../core/use-cases/catalog.js';
import { deleteModel, deleteProject, deleteVersion } from '../../../../core/use-cases/deletion.js';
import { deployVersion, getEndpoint, redeployVersion } from '../../../../core/use-cases/endpoints.js';
import { getEndpointLogs } from '../../../../core/use-cases/logs.js';
import { deleteModelEndpoint, putModelEndpoint } from '../../../../core/use-cases/model-endpoints.js';
import { putSecret } from '../../../../core/use-cases/secrets.js';
import {
  endpointKey,
  type FakeDeps,
  givenModel,
  givenRunningVersion,
  givenVersion,
  MODEL_KEY,
  makeDeps,
  modelEndpointKey,
  PROJECT,
  rejectionOf,
  routeAndRun,
  runWorkflow,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
});

describe('Merlin rule: redeploy', () => {
  it('a redeploy (PATCH) creates a new revision while the old one keeps serving', async () => {
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });

    const d = await redeployVersion(deps, endpointKey(1), { resources: { cpu: '1' } }, undefined);

    expect(d.targetRevision).toEqual({ number: 2, name: 'iris-1-r2' });
    expect(d.previousRevision).toEqual({ number: 1, name: 'iris-1-r1' });
    const during = deps.endpoints.peek(endpointKey(1))!;
    expect(during).toMatchObject({
      status: 'pending',
      previousStatus: 'running',
      activeRevision: { name: 'iris-1-r1' },
    });
    expect(deps.clusters.of().revisions.has('iris-1-r1')).toBe(true);
    const outcome = await runWorkflow(deps, d.id);
    expect(outcome.status).toBe('succeeded');
    expect(await getEndpoint(deps, endpointKey(1))).toMatchObject({
      status: 'serving',
      activeRevision: { number: 2, name: 'iris-1-r2' },
      resources: { cpu: '1', memory: '512Mi' },
    });
    expect([...deps.clusters.of().revisions.keys()]).toEqual(['iris-1-r2']);
  });

  it('a failed redeploy restores the previous status, keeps the old revision, and records the error on the Deployment', async () => {
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });
    deps.clusters.of().script('iris-1-r2', { state: 'failed', reason: 'OOMKilled' });

    const d = await redeployVersion(deps, endpointKey(1), { env: { MODE: 'big' } }, undefined);
    await runWorkflow(deps, d.id);

    expect(deps.deployments.peek({ id: d.id })).toMatchObject({
      status: 'failed',
      error: { code: 'RevisionFailed', message: 'OOMKilled' },
    });
    expect(await getEndpoint(deps, endpointKey(1))).toMatchObject({
      status: 'serving',
      activeRevision: { name: 'iris-1-r1' },
      env: {},
    });
    expect([...deps.clusters.of().revisions.keys()]).toEqual(['iris-1-r1']);
  });

  it('settings a redeploy does not name are kept (Merlin quirk 7: empty overrides are not sent)', async () => {
    const v = await givenVersion(deps);
    const first = await deployVersion(deps, versionKey(v.version), { env: { A: '1' }, resources: { memory: '1Gi' } });
    await runWorkflow(deps, first.id);

    const d = await redeployVersion(deps, endpointKey(1), { resources: { cpu: '250m' } }, undefined);
    await runWorkflow(deps, d.id);

    expect(deps.endpoints.peek(endpointKey(1))).toMatchObject({
      env: { A: '1' },
      resources: { cpu: '250m', memory: '1Gi' },
    });
  });

  it('the environment of an endpoint cannot change', () => {
    const r = redeployBody.safeParse({ environment: 'staging' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain('the environment of an endpoint cannot change');
  });

  it('a terminated endpoint is deployed again with POST, not redeployed', async () => {
    await givenRunningVersion(deps);
    const un = await (await import('../../../../core/use-cases/endpoints.js')).undeployVersion(deps, endpointKey(1));
    await runWorkflow(deps, un.id);
    const e = await rejectionOf(redeployVersion(deps, endpointKey(1), {}, undefined));
    expect(e).toMatchObject({ code: 'NOT_DEPLOYED' });
  });
});

describe('Merlin rule: a pending endpoint cannot be changed', () => {
  it('redeploy, deploy and undeploy of a pending endpoint are 409 naming the Deployment to wait for', async () => {
    await givenRunningVersion(deps);
    const d = await redeployVersion(deps, endpointKey(1), {}, undefined);

    for (const attempt of [
      redeployVersion(deps, endpointKey(1), {}, undefined),
      deployVersion(deps, versionKey(1), {}),
      (await import('../../../../core/use-cases/endpoints.js')).undeployVersion(deps, endpointKey(1)),
    ]) {
      const e = await rejectionOf(attempt);
      expect(e).toMatchObject({ code: 'DEPLOYMENT_IN_PROGRESS', details: { deploymentId: d.id } });
      expect(e.message).toContain(`GET /v1/deployments/${d.id}`);
    }
  });

  it('a stale If-Match on a redeploy is a 412 with the current revision', async () => {
    const e0 = await givenRunningVersion(deps);
    const e = await rejectionOf(redeployVersion(deps, endpointKey(1), {}, e0.revision - 1));
    expect(e).toMatchObject({ code: 'PRECONDITION_FAILED', details: { revision: e0.revision } });
  });
});

describe('Merlin rule: maxActiveVersionsPerModel per environment (default 2)', () => {
  it('a third active version endpoint of a model in one environment is refused, naming the two and the limit', async () => {
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    const v3 = await givenVersion(deps);

    const e = await rejectionOf(deployVersion(deps, versionKey(v3.version), {}));

    expect(e).toMatchObject({ code: 'ACTIVE_LIMIT_REACHED', details: { active: [1, 2], limit: 2 } });
    expect(e.message).toContain('the limit is 2');
  });

  it('the limit is per environment: staging allows one active version', async () => {
    await givenRunningVersion(deps, { environment: 'staging' });
    const v2 = await givenVersion(deps);
    const e = await rejectionOf(deployVersion(deps, versionKey(v2.version), { environment: 'staging' }));
    expect(e).toMatchObject({ code: 'ACTIVE_LIMIT_REACHED', details: { limit: 1 } });
    await expect(deployVersion(deps, versionKey(v2.version), { environment: 'local' })).resolves.toMatchObject({
      status: 'pending',
    });
  });
});

describe('Merlin rule: resource requests within the environment limits, checked synchronously (quirk 3 fixed)', () => {
  const limitsDeps = () =>
    makeDeps({
      environmentConfigs: [
        {
          name: 'local',
          isDefault: true,
          cluster: { kind: 'local' },
          servingUrl: 'http://127.0.0.1:8080/serving',
          limits: { maxCpu: '500m', maxMemory: '1Gi', maxReplicas: 3 },
          defaults: { cpu: '250m', memory: '256Mi', minReplicas: 1, maxReplicas: 1 },
        },
      ],
    });

  it('a CPU request over maxCpu is refused even in millicores ("600m" > "500m"), naming the limit', async () => {
    deps = limitsDeps();
    const v = await givenVersion(deps);
    const e = await rejectionOf(deployVersion(deps, versionKey(v.version), { resources: { cpu: '600m' } }));
    expect(e).toMatchObject({ code: 'RESOURCES_OVER_LIMIT', details: { limit: 'limits.maxCpu', value: '500m' } });
    expect(e.message).toBe('resources.cpu "600m" is more than environment "local" allows (limits.maxCpu: "500m")');
    expect(deps.deployments.size).toBe(0);
  });

  it('memory is compared across units ("1.5Gi" > "1Gi", "1000Mi" ≤ "1Gi")', async () => {
    deps = limitsDeps();
    const v = await givenVersion(deps);
    const e = await rejectionOf(deployVersion(deps, versionKey(v.version), { resources: { memory: '1.5Gi' } }));
    expect(e).toMatchObject({ code: 'RESOURCES_OVER_LIMIT', details: { limit: 'limits.maxMemory' } });
    await expect(
      deployVersion(deps, versionKey(v.version), { resources: { memory: '1000Mi' } }),
    ).resolves.toBeDefined();
  });

  it('max replicas over the environment limit, and min replicas over max replicas, are refused', async () => {
    deps = limitsDeps();
    const v = await givenVersion(deps);
    const over = await rejectionOf(deployVersion(deps, versionKey(v.version), { resources: { maxReplicas: 4 } }));
    expect(over).toMatchObject({ code: 'RESOURCES_OVER_LIMIT', details: { limit: 'limits.maxReplicas' } });
    const inverted = await rejectionOf(
      deployVersion(deps, versionKey(v.version), { resources: { minReplicas: 3, maxReplicas: 2 } }),
    );
    expect(inverted).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(inverted.message).toBe('resources.minReplicas (3) must not be more than resources.maxReplicas (2)');
  });

  it('a redeploy is checked against the limits too', async () => {
    deps = limitsDeps();
    await givenRunningVersion(deps);
    const e = await rejectionOf(redeployVersion(deps, endpointKey(1), { resources: { cpu: '2' } }, undefined));
    expect(e).toMatchObject({ code: 'RESOURCES_OVER_LIMIT' });
  });
});

describe('Merlin rule: deleting what still serves is refused, naming it', () => {
  it('deleting a model with active endpoints is a 409 that names them; nothing is deleted', async () => {
    await givenRunningVersion(deps);
    const e = await rejectionOf(deleteModel(deps, MODEL_KEY, undefined));
    expect(e).toMatchObject({
      code: 'ACTIVE_ENDPOINTS',
      details: {
        endpoints: [{ project: PROJECT, model: 'iris', version: 1, environment: 'local', status: 'running' }],
      },
    });
    expect(e.message).toContain('fraud-detection/iris version 1 in "local" (running)');
    expect(deps.models.peek(MODEL_KEY)).toBeDefined();
  });

  it('deleting a project with active endpoints is a 409 that names them', async () => {
    await givenRunningVersion(deps);
    const e = await rejectionOf(deleteProject(deps, { project: PROJECT }, undefined));
    expect(e).toMatchObject({ code: 'ACTIVE_ENDPOINTS' });
    expect(e.message).toContain('version 1 in "local"');
  });

  it('deleting a version with an active endpoint is refused; with only terminated or failed ones it goes', async () => {
    await givenRunningVersion(deps);
    expect(await rejectionOf(deleteVersion(deps, versionKey(1), undefined))).toMatchObject({
      code: 'ACTIVE_ENDPOINTS',
    });
    const v2 = await givenVersion(deps);
    deps.clusters.of().script('iris-2-r1', { state: 'failed', reason: 'CrashLoopBackOff' });
    const d = await deployVersion(deps, versionKey(v2.version), {});
    await runWorkflow(deps, d.id);

    await deleteVersion(deps, versionKey(2), undefined);

    expect(deps.versions.peek(versionKey(2))).toBeUndefined();
    expect(deps.endpoints.peek(endpointKey(2))).toBeUndefined();
    expect([...deps.artifacts.objects.keys()].some((k) => k.includes('/iris/2/'))).toBe(false);
  });

  it('deleting a project without active endpoints removes its models, versions and secrets', async () => {
    await givenVersion(deps);
    await putSecret(deps, { project: PROJECT, name: 'api-token' }, { value: 's3cr3t' });

    await deleteProject(deps, { project: PROJECT }, undefined);

    expect(deps.projects.peek({ project: PROJECT })).toBeUndefined();
    expect(deps.models.peek(MODEL_KEY)).toBeUndefined();
    expect(deps.versions.peek(versionKey(1))).toBeUndefined();
    expect((await deps.secrets.list({ project: PROJECT }, { limit: 10 })).items).toEqual([]);
  });

  it('version numbers are never reused after a delete', async () => {
    await givenVersion(deps);
    await givenVersion(deps);
    await deleteVersion(deps, versionKey(2), undefined);
    const next = await createVersion(deps, MODEL_KEY, {});
    expect(next.version).toBe(3);
  });

  it('deleting a model without active endpoints removes its versions, endpoint records, model endpoints and files', async () => {
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });
    await runWorkflow(deps, (await deleteModelEndpoint(deps, modelEndpointKey(), undefined)).id);
    const un = await (await import('../../../../core/use-cases/endpoints.js')).undeployVersion(deps, endpointKey(1));
    await runWorkflow(deps, un.id);

    await deleteModel(deps, MODEL_KEY, undefined);

    expect(deps.models.peek(MODEL_KEY)).toBeUndefined();
    expect(deps.versions.peek(versionKey(1))).toBeUndefined();
    expect(deps.endpoints.peek(endpointKey(1))).toBeUndefined();
    expect(deps.modelEndpoints.peek(modelEndpointKey())).toBeUndefined();
    expect(deps.artifacts.objects.size).toBe(0);
    expect(deps.deployments.size).toBe(0);
    await givenModel(deps);
    expect((await createVersion(deps, MODEL_KEY, {})).version).toBe(1);
  });
});

describe('Merlin rule: versions carry labels; the list filters by label and sorts newest first', () => {
  it('?label=k:v keeps the versions carrying every given label, newest first, in full pages', async () => {
    await givenModel(deps);
    for (let i = 1; i <= 7; i++) {
      await createVersion(deps, MODEL_KEY, {
        labels: { team: i % 2 ? 'fraud' : 'risk', stage: i > 4 ? 'prod' : 'dev' },
      });
    }
    const q = versionListQuery.parse({ label: 'team:fraud', limit: '2' });
    const first = await listVersions(deps, MODEL_KEY, q);
    expect(first.items.map((v) => v.version)).toEqual([7, 5]);
    const second = await listVersions(deps, MODEL_KEY, { ...q, cursor: first.nextCursor! });
    expect(second.items.map((v) => v.version)).toEqual([3, 1]);
    const both = await listVersions(deps, MODEL_KEY, versionListQuery.parse({ label: 'team:fraud,stage:prod' }));
    expect(both.items.map((v) => v.version)).toEqual([7, 5]);
  });

  it('a label filter that is not key:value with label syntax is a 400-style validation error', () => {
    const r = versionListQuery.safeParse({ label: 'team' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('"team" is not key:value with label syntax (e.g. team:fraud)');
  });

  it('PATCH replaces labels, params, metrics; a stale If-Match is 412', async () => {
    const v = await givenVersion(deps);
    const updated = await updateVersion(deps, versionKey(1), { metrics: { auc: 0.91 } }, v.revision);
    expect(updated).toMatchObject({ metrics: { auc: 0.91 }, revision: v.revision + 1 });
    expect(await rejectionOf(updateVersion(deps, versionKey(1), { labels: {} }, v.revision))).toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
  });
});

describe('Merlin rule: the model endpoint', () => {
  it('DELETE stops serving: the model endpoint is terminated and its versions are running again (not serving)', async () => {
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });
    expect((await getEndpoint(deps, endpointKey(1))).status).toBe('serving');

    const d = await deleteModelEndpoint(deps, modelEndpointKey(), undefined);
    await runWorkflow(deps, d.id);

    expect(deps.modelEndpoints.peek(modelEndpointKey())).toMatchObject({ status: 'terminated', rule: null });
    expect((await getEndpoint(deps, endpointKey(1))).status).toBe('running');
    expect(deps.clusters.of().callsOf('deleteModelRoute')).toHaveLength(1);
  });

  it('a terminated model endpoint can be routed again with PUT', async () => {
    await givenRunningVersion(deps);
    await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });
    await runWorkflow(deps, (await deleteModelEndpoint(deps, modelEndpointKey(), undefined)).id);
    const again = await routeAndRun(deps, modelEndpointKey(), { destinations: [{ version: 1, weight: 100 }] });
    expect(again.modelEndpoint).toMatchObject({ status: 'serving' });
  });

  it('weights over several running versions with a mirror are accepted; a stale If-Match is 412', async () => {
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    const { modelEndpoint } = await routeAndRun(deps, modelEndpointKey(), {
      destinations: [
        { version: 1, weight: 90 },
        { version: 2, weight: 10 },
      ],
    });
    expect(modelEndpoint.status).toBe('serving');
    const e = await rejectionOf(
      putModelEndpoint(deps, modelEndpointKey(), { rule: { destinations: [{ version: 2, weight: 100 }] } }, 1),
    );
    expect(e).toMatchObject({ code: 'PRECONDITION_FAILED' });
  });
});

describe('Logs of a version endpoint', () => {
  it('returns the last lines of the serving revision, and with since only the newer ones', async () => {
    await givenRunningVersion(deps);
    const cluster = deps.clusters.of();
    const lines = [
      '{"time":"2025-01-01T00:00:00.000Z","msg":"listening"}',
      '{"time":"2025-01-01T00:05:00.000Z","msg":"ready"}',
      'a line without time',
      '{"time":"2025-01-01T00:09:00.000Z","msg":"late"}',
    ];
    cluster.logs.set('iris-1-r1', lines);
    deps.clock.set('2025-01-01T00:10:00.000Z');

    const all = await getEndpointLogs(deps, endpointKey(1), logsQuery.parse({}));
    expect(all).toMatchObject({ revision: 'iris-1-r1', lines });
    const tail = await getEndpointLogs(deps, endpointKey(1), logsQuery.parse({ tail: '1' }));
    expect(tail.lines).toEqual([lines[3]]);
    const since = await getEndpointLogs(deps, endpointKey(1), logsQuery.parse({ since: '6m' }));
    expect(since.lines).toEqual([lines[1], lines[2], lines[3]]);
  });

  it('since must be a time or a duration', () => {
    expect(logsQuery.safeParse({ since: 'yesterday' }).success).toBe(false);
  });
});

describe('Merlin rule: the active-version limit holds under concurrency', () => {
  it('three versions deployed at the same moment with a limit of 2: exactly two start, one is refused', async () => {
    for (let i = 0; i < 3; i++) await givenVersion(deps);

    const results = await Promise.allSettled([1, 2, 3].map((v) => deployVersion(deps, versionKey(v), {})));

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toMatchObject({ code: 'ACTIVE_LIMIT_REACHED' });
    expect(deps.leases.held.size).toBe(0);
  });
});
