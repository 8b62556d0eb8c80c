import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as getModelEndpoint from '../../../../functions/api/get-model-endpoint.js';
import * as listModelEndpoints from '../../../../functions/api/list-model-endpoints.js';
import * as putModelEndpoint from '../../../../functions/api/put-model-endpoint.js';
import { useDeps } from '../../../../functions/shared/container.js';
import {
  callRoute,
  type FakeDeps,
  givenModel,
  givenRunningVersion,
  makeDeps,
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

const me = { project: 'fraud-detection', model: 'iris', environment: 'local' };

describe('Handler: PUT /v1/projects/{p}/models/{m}/endpoints/{env}', () => {
  it('should answer 202 with the route Deployment and its location', async () => {
    await givenRunningVersion(deps);

    const res = await callRoute(putModelEndpoint, {
      pathParameters: me,
      body: { rule: { destinations: [{ version: 1, weight: 100 }] } },
    });

    expect(res.status).toBe(202);
    expect(res.headers['location']).toBe(`/v1/deployments/${res.body.id}`);
    expect(res.body).toMatchObject({
      kind: 'route',
      status: 'pending',
      request: { rule: { destinations: [{ version: 1, weight: 100 }] } },
    });
  });

  it('should answer 400 for weights not summing to 100', async () => {
    await givenModel(deps);

    const res = await callRoute(putModelEndpoint, {
      pathParameters: me,
      body: {
        rule: {
          destinations: [
            { version: 1, weight: 70 },
            { version: 2, weight: 20 },
          ],
        },
      },
    });

    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'destination weights must sum to 100, they sum to 90',
      details: { weights: [70, 20] },
    });
  });

  it('should answer 400 for an empty destination list and a weight over 100', async () => {
    const empty = await callRoute(putModelEndpoint, { pathParameters: me, body: { rule: { destinations: [] } } });
    const heavy = await callRoute(putModelEndpoint, {
      pathParameters: me,
      body: { rule: { destinations: [{ version: 1, weight: 101 }] } },
    });

    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toBe('body.rule.destinations: name at least one destination');
    expect(heavy.status).toBe(400);
    expect(heavy.body.error.message).toMatch(/^body\.rule\.destinations\.0\.weight: /);
  });

  it('should answer 422 RULE_INVALID for a version without a running endpoint', async () => {
    await givenModel(deps);

    const res = await callRoute(putModelEndpoint, {
      pathParameters: me,
      body: { rule: { destinations: [{ version: 3, weight: 100 }] } },
    });

    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('RULE_INVALID');
    expect(res.body.error.details).toEqual({
      problems: ['version 3 has no endpoint in environment "local"; deploy it first'],
    });
  });
});

describe('Handler: GET model endpoints', () => {
  it('should answer 404 before the first PUT, then the endpoint serving after its workflow', async () => {
    await givenRunningVersion(deps);
    const before = await callRoute(getModelEndpoint, { pathParameters: me });
    const put = await callRoute(putModelEndpoint, {
      pathParameters: me,
      body: { rule: { destinations: [{ version: 1, weight: 100 }] } },
    });
    await runWorkflow(deps, put.body.id);

    const after = await callRoute(getModelEndpoint, { pathParameters: me });
    const list = await callRoute(listModelEndpoints, { pathParameters: { project: 'fraud-detection', model: 'iris' } });

    expect(before.status).toBe(404);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ status: 'serving', url: 'http://127.0.0.1:8080/serving/fraud-detection/iris' });
    expect(list.body.items).toHaveLength(1);
  });
});
