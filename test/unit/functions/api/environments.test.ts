import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as getEnvironment from '../../../../functions/api/get-environment.js';
import * as getHealth from '../../../../functions/api/get-health.js';
import * as listEnvironments from '../../../../functions/api/list-environments.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { callRoute, makeDeps } from '../../../fakes/index.js';

beforeEach(() => {
  useDeps(makeDeps());
});
afterEach(() => {
  useDeps(undefined);
});

describe('Handler: environments and health', () => {
  it('should list the environments', async () => {
    const res = await callRoute(listEnvironments);

    expect(res.status).toBe(200);
    expect(res.body.items.map((e: { name: string }) => e.name)).toEqual(['local', 'staging']);
    expect(res.body.nextCursor).toBeNull();
  });

  it('should get one environment, 404 for an unknown one and 400 for a bad name', async () => {
    const found = await callRoute(getEnvironment, { pathParameters: { environment: 'staging' } });
    const missing = await callRoute(getEnvironment, { pathParameters: { environment: 'prod' } });
    const bad = await callRoute(getEnvironment, { pathParameters: { environment: 'PROD' } });

    expect(found.body.deploymentTimeoutSeconds).toBe(60);
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('environment "prod" not found; known environments: local, staging');
    expect(bad.status).toBe(400);
  });

  it('should answer the health check', async () => {
    const res = await callRoute(getHealth);

    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});
