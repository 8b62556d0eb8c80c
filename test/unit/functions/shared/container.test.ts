import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DependencyError } from '../../../../core/errors.js';
import { getDeps, provideEks, useDeps } from '../../../../functions/shared/container.js';

/** The variables infra gives a function that may use every optional client (functions/shared/env.ts). */
const ENV = {
  TABLE_NAME: 'merlin-table',
  ARTIFACT_BUCKET: 'merlin-bucket',
  DEPLOY_VERSION_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Merlin-dev-deploy-version',
  UNDEPLOY_VERSION_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Merlin-dev-undeploy-version',
  UPDATE_ROUTE_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Merlin-dev-update-route',
  MERLIN_ENVIRONMENTS: JSON.stringify([
    {
      name: 'gpu',
      isDefault: true,
      cluster: { kind: 'eks', eksClusterName: 'ml-gpu', region: 'eu-west-1' },
      servingUrl: 'https://gpu.example.com',
    },
  ]),
  AWS_REGION: 'eu-west-1',
  SECRETS_KEY_ID: 'arn:aws:kms:eu-west-1:123456789012:key/secrets',
  IMAGE_REPOSITORY_URI: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/merlin-images',
};
const WITHOUT = ['MERLIN_WITHOUT_EKS', 'MERLIN_WITHOUT_KMS', 'MERLIN_WITHOUT_ECR'] as const;

describe('Composition root: optional AWS clients left out of a bundle (infra awsClients)', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    Object.assign(process.env, ENV);
    useDeps(undefined);
    provideEks(undefined);
  });
  afterEach(() => {
    for (const name of WITHOUT) globalThis[name] = undefined;
    for (const key of Object.keys(ENV)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    useDeps(undefined);
  });

  it('should build every client when nothing is left out (the local platform and tests)', () => {
    const deps = getDeps();

    expect(() => deps.clusters.forEnvironment('gpu')).not.toThrow();
    expect(deps.images.reference('abc')).toBe(`${ENV.IMAGE_REPOSITORY_URI}:abc`);
  });

  it('should fail clearly, as a dependency error naming the client, when a left-out client is needed', async () => {
    for (const name of WITHOUT) globalThis[name] = true;
    const deps = getDeps();

    expect(() => deps.clusters.forEnvironment('gpu')).toThrow(DependencyError);
    expect(() => deps.clusters.forEnvironment('gpu')).toThrow(/bundled without the EKS client/);
    await expect(deps.cipher.encrypt('v', { project: 'p', name: 'n' })).rejects.toThrow(
      /bundled without the KMS client.*SECRETS_KEY_ID/,
    );
    await expect(deps.images.exists('abc')).rejects.toThrow(/bundled without the ECR client/);
  });
});
