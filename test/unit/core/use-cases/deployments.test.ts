import { beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../../core/errors.js';
import {
  finishDeployment,
  getDeployment,
  listDeployments,
  newDeployment,
  runStep,
  startStep,
} from '../../../../core/use-cases/deployments.js';
import {
  deployAndRun,
  endpointKey,
  type FakeDeps,
  givenRunningVersion,
  makeDeps,
  modelEndpointKey,
  rejectionOf,
  routeAndRun,
  undeployAndRun,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
});

const routeDeployment = () =>
  newDeployment(deps, {
    kind: 'route',
    project: 'fraud-detection',
    model: 'iris',
    environment: 'local',
    request: { rule: { destinations: [{ version: 1, weight: 100 }] } },
  });

describe('Use case: getDeployment', () => {
  it('should answer NotFoundError naming the id', async () => {
    const error = await rejectionOf(getDeployment(deps, '01JAAAAAAAAAAAAAAAAAAAAAAA'));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('deployment "01JAAAAAAAAAAAAAAAAAAAAAAA" not found');
    expect(error.details).toEqual({ id: '01JAAAAAAAAAAAAAAAAAAAAAAA' });
  });
});

describe('Use case: listDeployments', () => {
  it('should list the history of a version endpoint newest first, without the routing changes', async () => {
    // Prepare: deploy, undeploy, redeploy v1; route the model endpoint to it
    await givenRunningVersion(deps);
    const { deployment: undeploy } = await undeployAndRun(deps, endpointKey(1));
    const { deployment: redeploy } = await deployAndRun(deps, endpointKey(1));
    const { deployment: route } = await routeAndRun(deps, modelEndpointKey(), {
      destinations: [{ version: 1, weight: 100 }],
    });

    // Act
    const history = await listDeployments(deps, endpointKey(1), { limit: 2 });
    const older = await listDeployments(deps, endpointKey(1), { limit: 2, cursor: history.nextCursor! });
    const routing = await listDeployments(deps, modelEndpointKey(), { limit: 20 });

    // Assess
    expect(history.items.map((d) => d.id)).toEqual([redeploy.id, undeploy.id]);
    expect(older.items.map((d) => d.kind)).toEqual(['deploy']);
    expect(older.nextCursor).toBeNull();
    expect(routing.items.map((d) => d.id)).toEqual([route.id]);
  });
});

describe('Use case: step bookkeeping', () => {
  it('should name the execution after the deployment id and the workflow of its kind', () => {
    const d = routeDeployment();

    expect(d.execution).toEqual({
      workflow: 'update-route',
      name: d.id,
      arn: deps.workflows.executionArn('update-route', d.id),
    });
    expect(d.steps.map((s) => s.name)).toEqual(['Prepare', 'Apply Route', 'Finalize']);
  });

  it('should not complete a step whose work answers "not done", and complete it once done', async () => {
    const d = routeDeployment();
    await deps.deployments.put(d, 'absent');

    await runStep(
      deps,
      d.id,
      'Apply Route',
      async () => 1,
      (n) => n > 1,
    );
    const midway = deps.deployments.peek({ id: d.id })!.steps[1];
    deps.clock.advanceSeconds(7);
    await runStep(
      deps,
      d.id,
      'Apply Route',
      async () => 2,
      (n) => n > 1,
    );

    expect(midway).toEqual({
      name: 'Apply Route',
      status: 'running',
      startedAt: '2025-01-01T00:00:00.000Z',
      attempts: 1,
    });
    expect(deps.deployments.peek({ id: d.id })!.steps[1]).toEqual({
      name: 'Apply Route',
      status: 'succeeded',
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:00:07.000Z',
      attempts: 2,
    });
  });

  it('should keep a finished deployment status when a late step starts', async () => {
    const d = routeDeployment();
    await deps.deployments.put(d, 'absent');
    await finishDeployment(deps, d.id);

    const after = await startStep(deps, d.id, 'Prepare');

    expect(after.status).toBe('succeeded');
  });

  it('should fail the running step with the message and skip the pending ones', async () => {
    const d = routeDeployment();
    await deps.deployments.put(d, 'absent');
    await runStep(deps, d.id, 'Prepare', async () => undefined);
    await startStep(deps, d.id, 'Apply Route');

    const failed = await finishDeployment(deps, d.id, { code: 'RouteFailed', message: 'no gateway' });

    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ code: 'RouteFailed', message: 'no gateway' });
    expect(failed.steps.map((s) => [s.status, s.error])).toEqual([
      ['succeeded', undefined],
      ['failed', 'no gateway'],
      ['skipped', undefined],
    ]);
  });
});
