import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { DependencyError, UnprocessableError } from '../../../../core/errors.js';
import type { RevisionSpec, VersionKey } from '../../../../core/ports.js';
import type { ModelVersion } from '../../../../core/schemas/index.js';
import { completeArtifact } from '../../../../core/use-cases/artifacts.js';
import { createVersion } from '../../../../core/use-cases/catalog.js';
import { deployVersion } from '../../../../core/use-cases/endpoints.js';
import {
  imageBuildFailure,
  imageBuildFor,
  imageTag,
  prepareImage,
  revisionImage,
} from '../../../../core/use-cases/images.js';
import { applyRevision, failureReason, prepareDeployment } from '../../../../core/use-cases/workflows.js';
import {
  endpointKey,
  type FakeDeps,
  givenModel,
  MODEL_KEY,
  makeDeps,
  rejectionOf,
  runWorkflow,
  ServiceTaskFailure,
  TEST_IMAGE_REPOSITORY,
  uploadFiles,
  versionKey,
} from '../../../fakes/index.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const EKS = { cluster: { kind: 'eks' as const, eksClusterName: 'c', region: 'eu-west-1' } };
const LOCAL = { cluster: { kind: 'local' as const } };

const artifactOf = (files: { path: string; sha256: string }[]) => ({
  uri: 's3://bucket/artifacts/p/m/1/',
  status: 'complete' as const,
  files: files.map((f) => ({ ...f, size: 1 })),
});
const DOCKER_ARTIFACT = artifactOf([
  { path: 'Dockerfile', sha256: SHA_A },
  { path: 'serve.py', sha256: SHA_B },
]);

describe('Image builds: imageTag', () => {
  it('should be the first 32 hex digits of SHA-256 over sha256sum lines sorted by path', () => {
    const expected = createHash('sha256')
      .update(`${SHA_A}  Dockerfile\n${SHA_B}  serve.py\n`)
      .digest('hex')
      .slice(0, 32);

    expect(imageTag(DOCKER_ARTIFACT.files)).toBe(expected);
    expect(imageTag(DOCKER_ARTIFACT.files)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('should not depend on the order of the manifest, and change with any file', () => {
    const files = DOCKER_ARTIFACT.files;

    expect(imageTag([...files].reverse())).toBe(imageTag(files));
    expect(imageTag([files[0]!, { ...files[1]!, sha256: SHA_A }])).not.toBe(imageTag(files));
    expect(imageTag([files[0]!, { ...files[1]!, path: 'serve2.py' }])).not.toBe(imageTag(files));
  });
});

describe('Image builds: imageBuildFor', () => {
  const custom = { type: 'custom' as const };

  it('should build a custom version with a Dockerfile and no image of its own, on EKS', () => {
    const version = { artifact: DOCKER_ARTIFACT, custom: { command: ['python', 'serve.py'], protocol: 'v2' as const } };

    expect(imageBuildFor(custom, version, EKS)).toEqual({
      tag: imageTag(DOCKER_ARTIFACT.files),
      artifactUri: 's3://bucket/artifacts/p/m/1/',
    });
  });

  it.each([
    ['a local environment (it runs the command)', custom, { artifact: DOCKER_ARTIFACT }, LOCAL],
    [
      'a version that names its image',
      custom,
      { artifact: DOCKER_ARTIFACT, custom: { image: 'r.example.com/m:1', protocol: 'v2' as const } },
      EKS,
    ],
    ['an artifact without a Dockerfile', custom, { artifact: artifactOf([{ path: 'serve.py', sha256: SHA_B }]) }, EKS],
    ['a Dockerfile below the root', custom, { artifact: artifactOf([{ path: 'src/Dockerfile', sha256: SHA_A }]) }, EKS],
    ['another model type', { type: 'onnx' as const }, { artifact: DOCKER_ARTIFACT }, EKS],
  ])('should build nothing for %s', (_what, model, version, env) => {
    expect(imageBuildFor(model, version, env)).toBeUndefined();
  });
});

describe('Image builds: prepareImage and revisionImage', () => {
  const build = { tag: 'f'.repeat(32), artifactUri: 's3://b/artifacts/p/m/1/' };

  it('should ask for a build only when the registry lacks the tag', async () => {
    const deps = makeDeps();

    const missing = await prepareImage(deps.images, build);
    deps.images.push(build.tag);
    const present = await prepareImage(deps.images, build);

    expect(missing).toEqual({ needsImage: true, imageTag: build.tag, artifactUri: build.artifactUri });
    expect(present).toEqual({ needsImage: false, imageTag: build.tag, artifactUri: build.artifactUri });
    expect(await prepareImage(deps.images, undefined)).toEqual({ needsImage: false });
    expect(deps.images.lookups).toEqual([build.tag, build.tag]);
  });

  it('should run the built image, else the version’s own, else none (the model server)', () => {
    const { images } = makeDeps();

    expect(revisionImage(images, build, {})).toBe(`${TEST_IMAGE_REPOSITORY}:${build.tag}`);
    expect(revisionImage(images, undefined, { custom: { image: 'r.example.com/m:1', protocol: 'v2' } })).toBe(
      'r.example.com/m:1',
    );
    expect(revisionImage(images, undefined, {})).toBeUndefined();
  });
});

describe('Image builds: imageBuildFailure', () => {
  const build = {
    Id: 'merlin-image-build:1234',
    BuildStatus: 'FAILED',
    Phases: [
      { PhaseType: 'PRE_BUILD', PhaseStatus: 'SUCCEEDED' },
      {
        PhaseType: 'BUILD',
        PhaseStatus: 'FAILED',
        Contexts: [{ StatusCode: 'COMMAND_EXECUTION_ERROR', Message: 'Error while executing command: docker build' }],
      },
    ],
    Logs: { DeepLink: 'https://console.aws.amazon.com/cloudwatch/home#logsV2:x' },
  };

  it('should name the status, the failed phase, its context and the logs', () => {
    expect(imageBuildFailure(build)).toBe(
      'image build FAILED in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: docker build ' +
        '(logs: https://console.aws.amazon.com/cloudwatch/home#logsV2:x)',
    );
    expect(imageBuildFailure({ Build: { BuildStatus: 'TIMED_OUT' } })).toBe('image build TIMED_OUT');
  });

  it('should not take other causes for a build', () => {
    expect(imageBuildFailure({ errorMessage: 'x' })).toBeUndefined();
    expect(imageBuildFailure('FAILED')).toBeUndefined();
    expect(imageBuildFailure(null)).toBeUndefined();
  });

  it('should give failureReason a short reason for a Catch of Build Image', () => {
    expect(failureReason({ Error: 'States.TaskFailed', Cause: JSON.stringify(build) })).toEqual({
      code: 'States.TaskFailed',
      message: expect.stringMatching(/^image build FAILED in phase BUILD: COMMAND_EXECUTION_ERROR: /),
    });
  });
});

describe('Use case: the deploy workflow of a custom version built from its Dockerfile', () => {
  let deps: FakeDeps;
  let key: VersionKey;
  let version: ModelVersion;
  beforeEach(async () => {
    deps = makeDeps();
    await givenModel(deps, { type: 'custom' });
    const created = await createVersion(deps, MODEL_KEY, {
      custom: { command: ['python', 'serve.py'], protocol: 'v2' },
    });
    key = versionKey(created.version);
    const files = uploadFiles(deps, key, { Dockerfile: 'FROM python:3.12-slim\n', 'serve.py': 'print(1)\n' });
    version = await completeArtifact(deps, key, { files });
  });
  const tag = () => imageTag(version.artifact.files);
  const stepsOf = (id: string) => deps.deployments.peek({ id })!.steps.map((s) => [s.name, s.status]);
  const appliedSpec = () => (deps.clusters.of('staging').callsOf('applyRevision') as [[RevisionSpec]])[0][0];

  it('should accept the deploy on EKS, build the image, apply the revision with it and time readiness after it', async () => {
    // Prepare: the build takes ten minutes, far past the staging timeout of 60 s
    const d = await deployVersion(deps, key, { environment: 'staging' });
    const requests: unknown[] = [];

    // Act
    const outcome = await runWorkflow(deps, d.id, {
      buildImage: async (request) => {
        requests.push(request);
        deps.clock.advanceSeconds(600);
        deps.images.push(request.imageTag);
      },
    });

    // Assess
    expect(outcome.status).toBe('succeeded');
    expect(requests).toEqual([{ artifactUri: version.artifact.uri, imageTag: tag() }]);
    expect(appliedSpec().image).toBe(`${TEST_IMAGE_REPOSITORY}:${tag()}`);
    const stored = deps.deployments.peek({ id: d.id })!;
    expect(stepsOf(d.id)).toEqual([
      ['Prepare', 'succeeded'],
      ['Build Image', 'succeeded'],
      ['Apply Revision', 'succeeded'],
      ['Wait Until Ready', 'succeeded'],
      ['Promote', 'succeeded'],
    ]);
    const build = stored.steps[1]!;
    expect(Date.parse(build.endedAt!) - Date.parse(build.startedAt!)).toBe(600_000);
    expect(build.endedAt).toBe(stored.steps[2]?.startedAt);
    expect(deps.endpoints.peek(endpointKey(key.version, 'staging'))?.status).toBe('running');
  });

  it('should skip the build when the registry holds the tag already (an unchanged artifact is never rebuilt)', async () => {
    deps.images.push(tag());
    const d = await deployVersion(deps, key, { environment: 'staging' });
    let builds = 0;

    const outcome = await runWorkflow(deps, d.id, {
      buildImage: async () => {
        builds += 1;
      },
    });

    expect(outcome.status).toBe('succeeded');
    expect(builds).toBe(0);
    expect(stepsOf(d.id)[1]).toEqual(['Build Image', 'skipped']);
    expect(appliedSpec().image).toBe(`${TEST_IMAGE_REPOSITORY}:${tag()}`);
  });

  it('should time out readiness by the environment timeout counted from the end of the build', async () => {
    const d = await deployVersion(deps, key, { environment: 'staging' });
    deps.clusters.of('staging').script(`iris-${key.version}-r1`, { state: 'starting', reason: 'ContainerCreating' });

    const outcome = await runWorkflow(deps, d.id, {
      buildImage: async (request) => {
        deps.clock.advanceSeconds(600);
        deps.images.push(request.imageTag);
      },
    });

    expect(outcome.status).toBe('failed');
    expect(outcome.checks).toBe(61);
    expect(deps.deployments.peek({ id: d.id })?.error?.message).toBe(
      'timeout after 60s waiting for readiness: ContainerCreating',
    );
  });

  it('should fail the deployment with the build’s reason, the Build Image step failed and nothing applied', async () => {
    const d = await deployVersion(deps, key, { environment: 'staging' });
    const cause = {
      Build: {
        BuildStatus: 'FAILED',
        Phases: [{ PhaseType: 'BUILD', PhaseStatus: 'FAILED', Contexts: [{ Message: 'docker build exited 1' }] }],
      },
    };

    const outcome = await runWorkflow(deps, d.id, {
      buildImage: async () => {
        throw new ServiceTaskFailure({ Error: 'States.TaskFailed', Cause: JSON.stringify(cause) });
      },
    });

    expect(outcome.status).toBe('failed');
    const stored = deps.deployments.peek({ id: d.id })!;
    expect(stored.error).toEqual({
      code: 'States.TaskFailed',
      message: 'image build FAILED in phase BUILD: docker build exited 1',
    });
    expect(stepsOf(d.id)).toEqual([
      ['Prepare', 'succeeded'],
      ['Build Image', 'failed'],
      ['Apply Revision', 'skipped'],
      ['Wait Until Ready', 'skipped'],
      ['Promote', 'skipped'],
    ]);
    expect(stored.steps[1]?.error).toBe(stored.error?.message);
    expect(deps.clusters.of('staging').callsOf('applyRevision')).toEqual([]);
    expect(deps.endpoints.peek(endpointKey(key.version, 'staging'))).toMatchObject({ status: 'failed' });
    expect(deps.images.tags.size).toBe(0);
  });

  it('should let Prepare fail with the registry’s DependencyError (the state machine retries it)', async () => {
    const d = await deployVersion(deps, key, { environment: 'staging' });
    deps.images.failWith(new DependencyError('ECR DescribeImages failed: ThrottlingException: slow down'));

    const error = await rejectionOf(prepareDeployment(deps, { deploymentId: d.id }));

    expect(error).toBeInstanceOf(DependencyError);
    expect(stepsOf(d.id)[1]).toEqual(['Build Image', 'pending']);
  });

  it('should never ask the registry for a local deployment (local clusters run the command)', async () => {
    const d = await deployVersion(deps, key, { environment: 'local' });

    const prepared = await prepareDeployment(deps, { deploymentId: d.id });
    await applyRevision(deps, { deploymentId: d.id });

    expect(prepared.needsImage).toBe(false);
    expect(deps.images.lookups).toEqual([]);
    const [[spec]] = deps.clusters.of('local').callsOf('applyRevision') as [[RevisionSpec]];
    expect(spec.image).toBeUndefined();
  });

  it('should still refuse a custom version on EKS with neither an image nor a Dockerfile', async () => {
    const bare = await createVersion(deps, MODEL_KEY, { custom: { command: ['python', 'serve.py'], protocol: 'v2' } });
    const bareKey = versionKey(bare.version);
    await completeArtifact(deps, bareKey, { files: uploadFiles(deps, bareKey, { 'serve.py': 'print(1)\n' }) });

    const error = await rejectionOf(deployVersion(deps, bareKey, { environment: 'staging' }));

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.message).toContain('without an image (or a Dockerfile in its artifact to build one from)');
  });
});
