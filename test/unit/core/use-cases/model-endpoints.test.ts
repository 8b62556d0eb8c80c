import { beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  DependencyError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from '../../../../core/errors.js';
import type { RouteRule } from '../../../../core/schemas/index.js';
import { deployVersion } from '../../../../core/use-cases/endpoints.js';
import {
  checkRuleShape,
  getModelEndpoint,
  listModelEndpoints,
  putModelEndpoint,
} from '../../../../core/use-cases/model-endpoints.js';
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
  thrownBy,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
});

const split: RouteRule = {
  destinations: [
    { version: 1, weight: 90 },
    { version: 2, weight: 10 },
  ],
};

describe('Use case: checkRuleShape', () => {
  it('should accept weights summing to 100 with a separate mirror', () => {
    expect(() => checkRuleShape({ ...split, mirror: { version: 3, percent: 5 } })).not.toThrow();
  });

  it('should refuse weights that do not sum to 100, saying what they sum to', () => {
    const error = thrownBy(() =>
      checkRuleShape({
        destinations: [
          { version: 1, weight: 60 },
          { version: 2, weight: 30 },
        ],
      }),
    );

    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('destination weights must sum to 100, they sum to 90');
    expect(error.details).toEqual({ weights: [60, 30] });
  });

  it('should refuse a version named twice', () => {
    const error = thrownBy(() =>
      checkRuleShape({
        destinations: [
          { version: 2, weight: 50 },
          { version: 2, weight: 50 },
        ],
      }),
    );

    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('version 2 is named twice in destinations');
  });

  it('should refuse a mirror that is also a destination', () => {
    const error = thrownBy(() => checkRuleShape({ ...split, mirror: { version: 2, percent: 100 } }));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('the mirror version 2 is also a destination; mirror another version');
  });
});

describe('Use case: putModelEndpoint', () => {
  it('should create the model endpoint pending with rule null and start update-route on first PUT', async () => {
    // Prepare
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    deps.clock.advanceSeconds(5);

    // Act
    const deployment = await putModelEndpoint(deps, modelEndpointKey(), { rule: split });

    // Assess
    expect(deployment).toMatchObject({
      kind: 'route',
      project: 'fraud-detection',
      model: 'iris',
      environment: 'local',
      status: 'pending',
      request: { rule: split },
      steps: [
        { name: 'Prepare', status: 'pending', attempts: 0 },
        { name: 'Apply Route', status: 'pending', attempts: 0 },
        { name: 'Finalize', status: 'pending', attempts: 0 },
      ],
      execution: { workflow: 'update-route', name: deployment.id },
    });
    expect(deployment.version).toBeUndefined();
    expect(deps.modelEndpoints.peek(modelEndpointKey())).toEqual({
      project: 'fraud-detection',
      model: 'iris',
      environment: 'local',
      url: 'http://127.0.0.1:8080/serving/fraud-detection/iris',
      status: 'pending',
      rule: null,
      deploymentId: deployment.id,
      createdAt: '2025-01-01T00:00:05.000Z',
      updatedAt: '2025-01-01T00:00:05.000Z',
      revision: 1,
    });
    expect(deps.workflows.last()).toEqual({
      workflow: 'update-route',
      name: deployment.id,
      input: { deploymentId: deployment.id },
    });
  });

  it('should keep the current rule while a change to an existing endpoint is pending', async () => {
    await givenRunningVersion(deps);
    await givenRunningVersion(deps);
    const { modelEndpoint } = await routeAndRun(deps, modelEndpointKey(), {
      destinations: [{ version: 1, weight: 100 }],
    });

    const deployment = await putModelEndpoint(deps, modelEndpointKey(), { rule: split });

    expect(deps.modelEndpoints.peek(modelEndpointKey())).toMatchObject({
      status: 'pending',
      rule: { destinations: [{ version: 1, weight: 100 }] },
      deploymentId: deployment.id,
      createdAt: modelEndpoint.createdAt,
      revision: modelEndpoint.revision + 1,
    });
  });

  it('should check the rule shape before anything else is looked up (ValidationError)', async () => {
    await givenModel(deps);

    const error = await rejectionOf(
      putModelEndpoint(deps, modelEndpointKey(), { rule: { destinations: [{ version: 1, weight: 50 }] } }),
    );

    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('destination weights must sum to 100, they sum to 50');
    expect(deps.deployments.size).toBe(0);
  });

  it('should refuse with 422 RULE_INVALID listing each version without a running endpoint', async () => {
    // Prepare: v1 running, v2 pending, v3 has no endpoint, v4 does not even exist
    await givenRunningVersion(deps);
    await givenVersion(deps);
    await givenVersion(deps);
    await deployVersion(deps, { ...MODEL_KEY, version: 2 }, {});

    // Act
    const error = await rejectionOf(
      putModelEndpoint(deps, modelEndpointKey(), {
        rule: {
          destinations: [
            { version: 1, weight: 50 },
            { version: 2, weight: 25 },
            { version: 3, weight: 25 },
          ],
          mirror: { version: 4, percent: 1 },
        },
      }),
    );

    // Assess
    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('RULE_INVALID');
    const problems = [
      'the version 2 endpoint is pending, not running',
      'version 3 has no endpoint in environment "local"; deploy it first',
      'version 4 has no endpoint in environment "local"; deploy it first',
    ];
    expect(error.message).toBe(`the rule cannot be carried out: ${problems.join('; ')}`);
    expect(error.details).toEqual({ problems });
    expect(deps.modelEndpoints.size).toBe(0);
  });

  it('should judge the rule against endpoints of the model endpoint environment only', async () => {
    await givenRunningVersion(deps, { environment: 'staging' });

    const error = await rejectionOf(
      putModelEndpoint(deps, modelEndpointKey('local'), { rule: { destinations: [{ version: 1, weight: 100 }] } }),
    );

    expect(error.code).toBe('RULE_INVALID');
  });

  it('should refuse while a routing change is pending with 409 DEPLOYMENT_IN_PROGRESS', async () => {
    await givenRunningVersion(deps);
    const first = await putModelEndpoint(deps, modelEndpointKey(), {
      rule: { destinations: [{ version: 1, weight: 100 }] },
    });

    const error = await rejectionOf(
      putModelEndpoint(deps, modelEndpointKey(), { rule: { destinations: [{ version: 1, weight: 100 }] } }),
    );

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('DEPLOYMENT_IN_PROGRESS');
    expect(error.message).toContain(`is being changed by deployment ${first.id}`);
    expect(error.details).toEqual({ deploymentId: first.id });
  });

  it('should answer NotFoundError for an unknown environment or model', async () => {
    await givenModel(deps);
    const rule = { destinations: [{ version: 1, weight: 100 }] };

    const env = await rejectionOf(putModelEndpoint(deps, modelEndpointKey('prod'), { rule }));
    const model = await rejectionOf(putModelEndpoint(deps, { ...modelEndpointKey(), model: 'ghost' }, { rule }));

    expect(env).toBeInstanceOf(NotFoundError);
    expect(env.message).toContain('environment "prod" not found');
    expect(model.message).toBe('model "ghost" not found in project "fraud-detection"');
  });

  it('should fail a new model endpoint when the workflow cannot start', async () => {
    await givenRunningVersion(deps);
    deps.workflows.failWith();

    const error = await rejectionOf(
      putModelEndpoint(deps, modelEndpointKey(), { rule: { destinations: [{ version: 1, weight: 100 }] } }),
    );

    expect(error).toBeInstanceOf(DependencyError);
    expect(error.message).toBe('could not start the update-route workflow: Step Functions is unavailable');
    expect(deps.modelEndpoints.peek(modelEndpointKey())).toMatchObject({ status: 'failed', rule: null, revision: 2 });
    expect(deps.deployments.all()[deps.deployments.size - 1]).toMatchObject({
      kind: 'route',
      status: 'failed',
      error: { code: 'WorkflowStartFailed' },
    });
  });

  it('should restore an existing model endpoint when the workflow cannot start', async () => {
    await givenRunningVersion(deps);
    const rule = { destinations: [{ version: 1, weight: 100 }] };
    const { modelEndpoint } = await routeAndRun(deps, modelEndpointKey(), rule);
    deps.workflows.failWith();

    await rejectionOf(putModelEndpoint(deps, modelEndpointKey(), { rule }));

    expect(deps.modelEndpoints.peek(modelEndpointKey())).toEqual({
      ...modelEndpoint,
      revision: modelEndpoint.revision + 2,
    });
  });

  it('should answer CONCURRENT_CHANGE and drop its deployment when the model endpoint changed meanwhile', async () => {
    await givenRunningVersion(deps);
    deps.modelEndpoints.failNext('put', new ConflictError('modelEndpoint already exists', undefined, 'ALREADY_EXISTS'));

    const error = await rejectionOf(
      putModelEndpoint(deps, modelEndpointKey(), { rule: { destinations: [{ version: 1, weight: 100 }] } }),
    );

    expect(error.code).toBe('CONCURRENT_CHANGE');
    expect(deps.deployments.all().filter((d) => d.kind === 'route')).toHaveLength(0);
  });
});

describe('Use case: getModelEndpoint and listModelEndpoints', () => {
  it('should answer NotFoundError pointing at PUT when there is none', async () => {
    const error = await rejectionOf(getModelEndpoint(deps, modelEndpointKey()));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe(
      'model fraud-detection/iris has no model endpoint in environment "local"; create one with PUT',
    );
  });

  it('should list one model endpoint per environment, by environment name', async () => {
    await givenRunningVersion(deps, { environment: 'staging' });
    await deployAndRun(deps, endpointKey(1, 'local'));
    await routeAndRun(deps, modelEndpointKey('staging'), { destinations: [{ version: 1, weight: 100 }] });
    await routeAndRun(deps, modelEndpointKey('local'), { destinations: [{ version: 1, weight: 100 }] });

    const page = await listModelEndpoints(deps, MODEL_KEY, { limit: 20 });

    expect(page.items.map((m) => [m.environment, m.status])).toEqual([
      ['local', 'serving'],
      ['staging', 'serving'],
    ]);
  });

  it('should answer NotFoundError for a missing model', async () => {
    const error = await rejectionOf(listModelEndpoints(deps, MODEL_KEY, { limit: 20 }));

    expect(error.message).toBe('model "iris" not found in project "fraud-detection"');
  });
});
