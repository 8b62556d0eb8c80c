/**
 * The three ASL files run by aws-local-stepfunctions exactly as the platform runs them: Task states bound to the
 * functions/workflow handlers, real dynalite and s3rver, real model-server processes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps, VersionKey } from '../../core/ports.js';
import { newDeployment } from '../../core/use-cases/deployments.js';
import { deployVersion, undeployVersion } from '../../core/use-cases/endpoints.js';
import { putModelEndpoint } from '../../core/use-cases/model-endpoints.js';
import { BROKEN, IRIS, startTestPlatform, versionWithArtifact } from '../helpers/platform.js';

describe('State machines on the local runner', () => {
  let t: Awaited<ReturnType<typeof startTestPlatform>>;
  let deps: Deps;
  let good: VersionKey;

  beforeAll(async () => {
    t = await startTestPlatform();
    deps = t.deps();
    good = await versionWithArtifact(deps, { project: 'sm', model: 'iris' }, IRIS);
  });
  afterAll(() => t.stop());

  const execution = (arn: string) => t.platform.runner.describe(arn)!;
  const statesEntered = (arn: string) =>
    execution(arn)
      .events.filter((e) => e.type === 'StateEntered')
      .map((e) => e.state);
  const cluster = () => t.platform.clusters.get('local')!;

  it('deploy-version: runs Prepare → Apply Revision → Wait Until Ready → Promote and serves the revision', async () => {
    const d = await deployVersion(deps, good, {});
    await t.platform.runner.idle();

    expect(execution(d.execution.arn).status).toBe('SUCCEEDED');
    expect(statesEntered(d.execution.arn)).toEqual(
      expect.arrayContaining(['Prepare', 'Needs Image?', 'Apply Revision', 'Wait Until Ready', 'Is Ready?', 'Promote']),
    );
    expect(statesEntered(d.execution.arn)).not.toContain('Record Failure');
    expect(statesEntered(d.execution.arn)).not.toContain('Build Image');
    const done = await deps.deployments.get({ id: d.id });
    expect(done?.status).toBe('succeeded');
    expect(done?.steps.map((s) => [s.name, s.status])).toEqual([
      ['Prepare', 'succeeded'],
      ['Build Image', 'skipped'],
      ['Apply Revision', 'succeeded'],
      ['Wait Until Ready', 'succeeded'],
      ['Promote', 'succeeded'],
    ]);
    for (const s of done!.steps.filter((step) => step.status !== 'skipped')) {
      expect(Date.parse(s.endedAt!)).toBeGreaterThanOrEqual(Date.parse(s.startedAt!));
    }
    const endpoint = await deps.endpoints.get({ ...good, environment: 'local' });
    expect(endpoint).toMatchObject({ status: 'running', activeRevision: { number: 1, name: 'iris-1-r1' } });
    expect(cluster().resolveVersion('sm', 'iris', good.version)).toMatchObject({ revision: 'iris-1-r1' });
    expect(existsSync(join(t.dataDir, 'model-cache/local/sm/iris-1-r1/model.onnx'))).toBe(true);
  });

  it('deploy-version Catch path: a model server that cannot load ⇒ endpoint failed, Deployment failed with the reason', async () => {
    const broken = await versionWithArtifact(deps, { project: 'sm', model: 'iris' }, BROKEN);
    const d = await deployVersion(deps, broken, {});
    await t.platform.runner.idle();

    expect(execution(d.execution.arn).status).toBe('FAILED');
    expect(statesEntered(d.execution.arn)).toEqual(expect.arrayContaining(['Record Failure', 'Deployment Failed']));
    const failed = await deps.deployments.get({ id: d.id });
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('RevisionFailed');
    expect(failed?.error?.message).toMatch(/^model server exited with code 1: model failed to load/);
    expect(failed?.steps.find((s) => s.name === 'Wait Until Ready')).toMatchObject({ status: 'failed' });
    expect(failed?.steps.find((s) => s.name === 'Promote')).toMatchObject({ status: 'skipped' });
    const endpoint = await deps.endpoints.get({ ...broken, environment: 'local' });
    expect(endpoint?.status).toBe('failed');
    expect(endpoint?.message).toBe(failed?.error?.message);
    expect(
      cluster()
        .list()
        .revisions.filter((r) => r.version === broken.version),
    ).toEqual([]);
  });

  it('update-route: carries out the rule on the router and marks the model endpoint serving', async () => {
    const d = await putModelEndpoint(
      deps,
      { project: 'sm', model: 'iris', environment: 'local' },
      { rule: { destinations: [{ version: good.version, weight: 100 }] } },
    );
    await t.platform.runner.idle();
    expect(execution(d.execution.arn).status).toBe('SUCCEEDED');
    expect((await deps.deployments.get({ id: d.id }))?.status).toBe('succeeded');
    expect(await deps.modelEndpoints.get({ project: 'sm', model: 'iris', environment: 'local' })).toMatchObject({
      status: 'serving',
      rule: { destinations: [{ version: good.version, weight: 100 }] },
    });
    expect(cluster().resolveModel('sm', 'iris')?.destinations[0]?.target?.revision).toBe('iris-1-r1');
  });

  it('update-route Catch path: a rule whose version stopped running fails in Prepare and keeps the old rule', async () => {
    const key = { project: 'sm', model: 'iris', environment: 'local' };
    const before = (await deps.modelEndpoints.get(key))!;
    const d = newDeployment(deps, {
      kind: 'route',
      ...key,
      request: { rule: { destinations: [{ version: 99, weight: 100 }] } },
    });
    await deps.deployments.put(d, 'absent');
    await deps.modelEndpoints.put(
      { ...before, status: 'pending', deploymentId: d.id, revision: before.revision + 1 },
      before.revision,
    );
    await deps.workflows.start('update-route', d.id, { deploymentId: d.id });
    await t.platform.runner.idle();

    expect(execution(d.execution.arn).status).toBe('FAILED');
    const failed = await deps.deployments.get({ id: d.id });
    expect(failed?.error).toMatchObject({ code: 'PreconditionFailed' });
    expect(failed?.error?.message).toContain('version 99 has no endpoint in environment "local"');
    expect(await deps.modelEndpoints.get(key)).toMatchObject({ status: 'serving', rule: before.rule });
    expect(
      cluster()
        .resolveModel('sm', 'iris')
        ?.destinations.map((x) => x.version),
    ).toEqual([good.version]);
  });

  it('undeploy-version: refuses while serving, then removes the revision and terminates the endpoint', async () => {
    const key = { ...good, environment: 'local' };
    await expect(undeployVersion(deps, key)).rejects.toMatchObject({ code: 'ENDPOINT_SERVING' });
    const me = { project: 'sm', model: 'iris', environment: 'local' };
    const other = await versionWithArtifact(deps, { project: 'sm', model: 'iris' }, IRIS);
    await deployVersion(deps, other, {});
    await t.platform.runner.idle();
    await putModelEndpoint(deps, me, { rule: { destinations: [{ version: other.version, weight: 100 }] } });
    await t.platform.runner.idle();

    const d = await undeployVersion(deps, key);
    await t.platform.runner.idle();
    expect(execution(d.execution.arn).status).toBe('SUCCEEDED');
    expect(statesEntered(d.execution.arn)).toEqual(['Prepare', 'Remove Revision', 'Finalize']);
    expect(await deps.endpoints.get(key)).toMatchObject({ status: 'terminated', activeRevision: null });
    expect(cluster().resolveVersion('sm', 'iris', good.version)).toBeUndefined();
    expect(
      cluster()
        .list()
        .revisions.map((r) => r.name),
    ).not.toContain('iris-1-r1');
  });

  it('undeploy-version Catch path: a stale run fails in Prepare without touching the endpoint', async () => {
    const key = { project: 'sm', model: 'iris', version: good.version, environment: 'local' };
    const d = newDeployment(deps, {
      kind: 'undeploy',
      project: 'sm',
      model: 'iris',
      version: good.version,
      environment: 'local',
      request: {},
    });
    await deps.deployments.put(d, 'absent');
    await deps.workflows.start('undeploy-version', d.id, { deploymentId: d.id });
    await t.platform.runner.idle();
    expect(execution(d.execution.arn).status).toBe('FAILED');
    expect((await deps.deployments.get({ id: d.id }))?.error?.code).toBe('PreconditionFailed');
    expect(await deps.endpoints.get(key)).toMatchObject({ status: 'terminated' });
  });
});
