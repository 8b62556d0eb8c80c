// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ASL placeholders and shell variables are literal ${...} strings
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../core/ports.js';
import { SERVICE_TASKS, WORKFLOW_TASKS, type WorkflowTaskKey } from '../../functions/workflow/tasks.js';
import { buildApp, type MerlinApp, newApp } from '../../infra/build-app.js';
import { ConfigError, REPO_ROOT } from '../../infra/config.js';
import { CODEBUILD_SYNC_RULE } from '../../infra/constructs/service-tasks.js';
import {
  ARTIFACTS_PREFIX,
  IMAGE_BUILD_TIMEOUT,
  MODEL_SERVER_CONTEXT_EXCLUDE,
} from '../../infra/stacks/serving-stack.js';
import { REACHES_CLUSTERS } from '../../infra/stacks/workflow-stack.js';
import {
  actionsOf,
  followReference,
  logicalId,
  resource,
  resourcesOf,
  roleIdOf,
  roleStatements,
  type Statement,
  substitute,
  variablesOf,
} from './template-helpers.js';

const TASKS = Object.keys(WORKFLOW_TASKS) as WorkflowTaskKey[];
const MODEL_SERVER = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/merlin/model-server:1.4.0';

/** Image builds on AWS: the ECR repository, the CodeBuild project and its role (ServingStack), and who may use them. */
describe('Image builds (ServingStack) and the deploy workflow’s Build Image', () => {
  let dev: MerlinApp;
  let serving: Template;
  let workflow: Template;
  let producers: Record<string, Template>;
  beforeAll(() => {
    dev = buildApp({ stage: 'dev', bundle: false });
    serving = Template.fromStack(dev.serving);
    workflow = Template.fromStack(dev.workflow);
    producers = { [dev.serving.stackName]: serving, [dev.data.stackName]: Template.fromStack(dev.data) };
  });

  const repositoryArn = () => ({ 'Fn::GetAtt': [logicalId(dev.serving.repository), 'Arn'] });
  const projectArn = () => ({ 'Fn::GetAtt': [logicalId(dev.serving.imageBuild), 'Arn'] });
  /** The artifacts bucket by its fixed name (infra/constructs/bindings.ts artifactsBucketName). */
  const bucketArn = () => ({
    'Fn::Join': [
      '',
      ['arn:', { Ref: 'AWS::Partition' }, ':s3:::merlin-dev-', { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }],
    ],
  });
  const objectsArn = () => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':s3:::merlin-dev-',
        { Ref: 'AWS::AccountId' },
        '-',
        { Ref: 'AWS::Region' },
        `/${ARTIFACTS_PREFIX}*`,
      ],
    ],
  });
  const artifactsKeyUse = () => ({
    actions: ['kms:Decrypt'],
    resources: [{ 'Fn::GetAtt': [logicalId(dev.data.artifactsKey), 'Arn'] }],
    condition: {
      StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
    },
  });
  /** Follows every cross-stack reference inside a value (e.g. a bucket ARN inside an Fn::Join). */
  const follow = (value: unknown): unknown => {
    const followed = followReference(value, producers);
    if (followed !== value) return follow(followed);
    if (Array.isArray(value)) return value.map(follow);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, follow(v)]));
    }
    return value;
  };
  const statementsOfFunction = (key: WorkflowTaskKey): Statement[] => {
    const fn = resource(workflow, logicalId(dev.workflow.functions[key]));
    return roleStatements(workflow, roleIdOf(fn.Properties.Role));
  };
  const machineOf = (name: WorkflowName) => resource(workflow, logicalId(dev.workflow.stateMachines[name])).Properties;
  const machineStatements = (name: WorkflowName) => roleStatements(workflow, roleIdOf(machineOf(name).RoleArn));

  describe('ECR repository', () => {
    it('should scan on push, keep tags immutable (a tag is a manifest digest) and expire only untagged images', () => {
      serving.resourceCountIs('AWS::ECR::Repository', 1);
      const repo = resource(serving, logicalId(dev.serving.repository)).Properties;
      expect(repo.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
      expect(repo.ImageTagMutability).toBe('IMMUTABLE');
      const policy = JSON.parse((repo.LifecyclePolicy as { LifecyclePolicyText: string }).LifecyclePolicyText) as {
        rules: { selection: { tagStatus: string; countType: string; countNumber: number } }[];
      };
      expect(policy.rules.map((r) => r.selection)).toEqual([
        { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 7, countUnit: 'days' },
      ]);
    });

    it('should be emptied and deleted with a dev stack, and retained outside dev', () => {
      expect(resource(serving, logicalId(dev.serving.repository))).toMatchObject({
        DeletionPolicy: 'Delete',
        Properties: { EmptyOnDelete: true },
      });
      const prod = buildApp({ stage: 'prod', bundle: false });
      const kept = resource(Template.fromStack(prod.serving), logicalId(prod.serving.repository));
      expect(kept.DeletionPolicy).toBe('Retain');
      expect(kept.Properties.EmptyOnDelete).toBeFalsy();
    });
  });

  describe('CodeBuild project', () => {
    const project = () => resource(serving, logicalId(dev.serving.imageBuild)).Properties;

    it('should be a privileged Linux x86_64 build named Merlin-<stage>-image-build with a 30-minute timeout', () => {
      expect(project()).toMatchObject({
        Name: 'Merlin-dev-image-build',
        TimeoutInMinutes: IMAGE_BUILD_TIMEOUT.toMinutes(),
        Source: { Type: 'NO_SOURCE' },
        Artifacts: { Type: 'NO_ARTIFACTS' },
        Environment: {
          Type: 'LINUX_CONTAINER',
          Image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
          PrivilegedMode: true,
        },
      });
    });

    it('should build arm64 images when the stage config says the nodes are arm64', () => {
      const arm = buildApp({
        bundle: false,
        config: { environments: [{ name: 'local' }], imageBuildArchitecture: 'arm64' },
      });
      const props = resource(Template.fromStack(arm.serving), logicalId(arm.serving.imageBuild)).Properties;
      expect(props.Environment).toMatchObject({
        Type: 'ARM_CONTAINER',
        Image: 'aws/codebuild/amazonlinux-aarch64-standard:3.0',
        PrivilegedMode: true,
      });
    });

    it('should name the repository in its environment; ARTIFACT_URI and IMAGE_TAG come from the state machine', () => {
      const variables = (project().Environment as { EnvironmentVariables: { Name: string; Value: unknown }[] })
        .EnvironmentVariables;
      expect(Object.fromEntries(variables.map((v) => [v.Name, v.Value]))).toEqual({
        REPOSITORY_URI: expect.anything(),
        REPOSITORY_NAME: { Ref: logicalId(dev.serving.repository) },
      });
      expect(JSON.stringify(variables[0]?.Value)).toContain(logicalId(dev.serving.repository));
    });

    it('should copy the artifact from S3, docker build its Dockerfile and push <repository>:<IMAGE_TAG>, in one phase', () => {
      const spec = JSON.parse((project().Source as { BuildSpec: string }).BuildSpec) as {
        phases: Record<string, { 'on-failure'?: string; commands: string[] }>;
      };
      const pre = spec.phases.pre_build!.commands.join('\n');
      const build = spec.phases.build!.commands.join('\n');
      expect(pre).toContain('aws s3 cp --recursive --only-show-errors "$ARTIFACT_URI" /tmp/context');
      expect(pre).toContain('test -f /tmp/context/Dockerfile');
      expect(pre).toContain('docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"');
      expect(build).toContain('docker build --pull --tag "$REPOSITORY_URI:$IMAGE_TAG" /tmp/context');
      expect(build).toContain('docker push "$REPOSITORY_URI:$IMAGE_TAG"');
      // Nothing after a failed build: no post_build (it runs even when build fails), every phase aborts on failure
      expect(Object.keys(spec.phases)).toEqual(['pre_build', 'build']);
      for (const phase of Object.values(spec.phases)) expect(phase['on-failure']).toBe('ABORT');
    });

    it('should give the project its own log group with a retention', () => {
      serving.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: '/aws/codebuild/Merlin-dev-image-build',
        RetentionInDays: 7,
      });
    });
  });

  describe('CodeBuild role (least privilege)', () => {
    const statements = () =>
      roleStatements(serving, roleIdOf(resource(serving, logicalId(dev.serving.imageBuild)).Properties.ServiceRole));

    it('should be assumable by CodeBuild only', () => {
      const role = resource(
        serving,
        roleIdOf(resource(serving, logicalId(dev.serving.imageBuild)).Properties.ServiceRole),
      );
      expect((role.Properties.AssumeRolePolicyDocument as { Statement: unknown[] }).Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'codebuild.amazonaws.com' } },
      ]);
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    });

    it('should read the artifacts prefix of the bucket, push to that repository, write its logs, and nothing else', () => {
      const granted = statements().map((s) => ({
        actions: actionsOf(s).sort(),
        resources: resourcesOf(s).map(follow),
        condition: (s as { Condition?: unknown }).Condition,
      }));
      expect(granted).toEqual(
        expect.arrayContaining([
          { actions: ['s3:GetObject'], resources: [objectsArn()], condition: undefined },
          artifactsKeyUse(),
          {
            actions: ['s3:ListBucket'],
            resources: [bucketArn()],
            condition: { StringLikeIfExists: { 's3:prefix': [`${ARTIFACTS_PREFIX}*`] } },
          },
          { actions: ['ecr:GetAuthorizationToken'], resources: ['*'], condition: undefined },
          {
            actions: [
              'ecr:BatchCheckLayerAvailability',
              'ecr:CompleteLayerUpload',
              'ecr:DescribeImages',
              'ecr:InitiateLayerUpload',
              'ecr:PutImage',
              'ecr:UploadLayerPart',
            ],
            resources: [repositoryArn()],
            condition: undefined,
          },
        ]),
      );
      const logs = granted.filter((g) => g.actions.some((a) => a.startsWith('logs:')));
      expect(logs).toHaveLength(1);
      expect(logs[0]?.actions).toEqual(['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(JSON.stringify(logs[0]?.resources)).toContain(':log-group:/aws/codebuild/');
      expect(granted).toHaveLength(6);
      // '*' only where IAM has no resource-level permission
      const wide = granted.filter((g) => g.resources.includes('*'));
      expect(wide.map((g) => g.actions)).toEqual([['ecr:GetAuthorizationToken']]);
      expect(granted.flatMap((g) => g.actions).filter((a) => a.includes('*'))).toEqual([]);
    });
  });

  describe('state machines', () => {
    it('should let deploy-version start, stop and watch builds of exactly that project, and nothing else of CodeBuild', () => {
      const codebuild = machineStatements('deploy-version').filter((s) =>
        actionsOf(s).some((a) => a.startsWith('codebuild:')),
      );
      expect(codebuild).toHaveLength(1);
      expect(actionsOf(codebuild[0]!).sort()).toEqual([
        'codebuild:BatchGetBuilds',
        'codebuild:StartBuild',
        'codebuild:StopBuild',
      ]);
      expect(resourcesOf(codebuild[0]!).map(follow)).toEqual([projectArn()]);
    });

    it('should let deploy-version manage only the EventBridge rule startBuild.sync completes through', () => {
      const events = machineStatements('deploy-version').filter((s) =>
        actionsOf(s).some((a) => a.startsWith('events:')),
      );
      expect(events).toHaveLength(1);
      expect(actionsOf(events[0]!).sort()).toEqual(['events:DescribeRule', 'events:PutRule', 'events:PutTargets']);
      expect(resourcesOf(events[0]!)).toEqual([
        {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':events:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              `:rule/${CODEBUILD_SYNC_RULE}`,
            ],
          ],
        },
      ]);
    });

    it.each(['undeploy-version', 'update-route'] as const)(
      'should give %s no CodeBuild, events or ECR access',
      (name) => {
        const actions = machineStatements(name).flatMap(actionsOf);
        expect(actions.filter((a) => /^(codebuild|events|ecr):/.test(a))).toEqual([]);
      },
    );

    it('should carry the Build Image branch in the deploy-version definition, with the project name substituted', () => {
      const props = machineOf('deploy-version');
      const definition = JSON.parse(props.DefinitionString as string) as {
        States: Record<
          string,
          { Type: string; Resource?: string; Parameters?: Record<string, unknown>; Next?: string }
        >;
      };
      const choice = definition.States['Needs Image?'] as unknown as {
        Choices: { Variable: string; BooleanEquals: boolean; Next: string }[];
        Default: string;
      };
      expect(definition.States.Prepare?.Next).toBe('Needs Image?');
      expect(choice.Choices).toEqual([{ Variable: '$.prepared.needsImage', BooleanEquals: true, Next: 'Build Image' }]);
      expect(choice.Default).toBe('Apply Revision');
      expect(definition.States['Build Image']).toMatchObject({
        Type: 'Task',
        Resource: SERVICE_TASKS['Build Image'].resource,
        Parameters: {
          ProjectName: '${ImageBuildProjectName}',
          EnvironmentVariablesOverride: [
            { Name: 'ARTIFACT_URI', Type: 'PLAINTEXT', 'Value.$': '$.prepared.artifactUri' },
            { Name: 'IMAGE_TAG', Type: 'PLAINTEXT', 'Value.$': '$.prepared.imageTag' },
          ],
        },
        Next: 'Apply Revision',
      });
      const substitutions = props.DefinitionSubstitutions as Record<string, unknown>;
      expect(follow(substitutions.ImageBuildProjectName)).toEqual({ Ref: logicalId(dev.serving.imageBuild) });
      expect(substitute(props.DefinitionString as string, substitutions)).not.toContain('${');
    });
  });

  describe('task functions', () => {
    it('should name the repository to Prepare (which may describe its images) and to Apply Revision only', () => {
      for (const key of TASKS) {
        const variables = variablesOf(workflow, dev.workflow.functions[key]);
        const ecrActions = statementsOfFunction(key).filter((s) => actionsOf(s).some((a) => a.startsWith('ecr:')));
        if (key === 'PrepareDeployment') {
          expect(ecrActions.map(actionsOf)).toEqual([['ecr:DescribeImages']]);
          expect(ecrActions.flatMap(resourcesOf).map(follow)).toEqual([repositoryArn()]);
        } else expect(ecrActions, key).toEqual([]);
        if (key === 'PrepareDeployment' || key === 'ApplyRevision') {
          const uri = JSON.stringify(follow(variables.IMAGE_REPOSITORY_URI));
          expect(uri, key).toContain(`{"Ref":"${logicalId(dev.serving.repository)}"}`);
          expect(uri, key).toContain('.dkr.ecr.');
        } else expect(variables.IMAGE_REPOSITORY_URI, key).toBeUndefined();
      }
    });

    it('should give MODEL_SERVER_IMAGE from the stage config, the command line first, to the tasks that reach clusters', () => {
      const config = {
        environments: [{ name: 'local' }],
        modelServerImage: 'registry.example.com/merlin/model-server:1',
      };
      const fromFile = buildApp({ bundle: false, config });
      const app = newApp({ bundle: false });
      app.node.setContext('modelServerImage', MODEL_SERVER);
      const fromContext = buildApp({ app, config });

      const imageOf = (built: MerlinApp, key: WorkflowTaskKey) =>
        variablesOf(Template.fromStack(built.workflow), built.workflow.functions[key]).MODEL_SERVER_IMAGE;
      for (const key of TASKS) {
        expect(imageOf(fromFile, key), key).toBe(REACHES_CLUSTERS.includes(key) ? config.modelServerImage : undefined);
      }
      expect(imageOf(fromContext, 'ApplyRevision')).toBe(MODEL_SERVER);
      expect(variablesOf(workflow, dev.workflow.functions.ApplyRevision).MODEL_SERVER_IMAGE).toBeUndefined();
    });

    it('should refuse a model-server image that is not an image reference, naming the config file', () => {
      expect(() =>
        buildApp({ bundle: false, config: { environments: [{ name: 'local' }], modelServerImage: 'Not An Image' } }),
      ).toThrow(ConfigError);
      expect(() =>
        buildApp({ bundle: false, config: { environments: [{ name: 'local' }], imageBuildArchitecture: 'mips' } }),
      ).toThrow(/merlin\.config\.json: imageBuildArchitecture: /);
    });
  });

  describe('model-server image asset (stage setting modelServerImageAsset)', () => {
    const withAsset = (extra: Record<string, unknown> = {}, architecture?: 'arm64') =>
      buildApp({
        stage: 'prod',
        bundle: false,
        config: {
          environments: [{ name: 'local' }],
          stages: { prod: { modelServerImageAsset: true } },
          ...(architecture && { imageBuildArchitecture: architecture }),
          ...extra,
        },
      });

    it('should not build the image by default (synth and deploy need no Docker)', () => {
      expect(dev.serving.modelServerImage).toBeUndefined();
      expect(Object.keys(serving.toJSON().Outputs)).not.toContain('ModelServerImageUri');
    });

    it('should stage serving/Dockerfile with exactly its build context, for the nodes’ architecture', () => {
      const built = withAsset({}, 'arm64');
      const assembly = built.app.synth();
      const asset = built.serving.modelServerImage!;
      const manifest = JSON.parse(
        readFileSync(path.join(assembly.directory, 'Merlin-prod-Serving.assets.json'), 'utf8'),
      ) as { dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform: string } }> };
      const [image] = Object.values(manifest.dockerImages);
      const staged = readdirSync(path.join(assembly.directory, image!.source.directory), { recursive: true }).map(
        String,
      );

      // CDK names the staged directory after the source's "extension": a repository cloned into /tmp/tmp.Ab3 stages
      // into asset.<hash>.Ab3.
      expect(Object.values(manifest.dockerImages).map((d) => d.source)).toEqual([
        {
          directory: `asset.${asset.assetHash}${path.extname(REPO_ROOT)}`,
          dockerFile: 'serving/Dockerfile',
          platform: 'linux/arm64',
        },
      ]);
      expect(staged).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'serving/Dockerfile']));
      expect(
        staged.filter((f) => !f.startsWith('serving') && !/^(package(-lock)?\.json|\.dockerignore)$/.test(f)),
      ).toEqual([]);
      expect(MODEL_SERVER_CONTEXT_EXCLUDE[0]).toBe('*');
    });

    it('should run the built image in EKS environments that name none, unless the config names an image', () => {
      const built = withAsset();
      const image = (b: MerlinApp) =>
        JSON.stringify(
          variablesOf(Template.fromStack(b.workflow), b.workflow.functions.ApplyRevision).MODEL_SERVER_IMAGE,
        );
      const named = withAsset({ modelServerImage: MODEL_SERVER });

      expect(image(built)).toContain('container-assets');
      expect(image(built)).toContain(built.serving.modelServerImage!.assetHash);
      Template.fromStack(built.serving).hasOutput('ModelServerImageUri', {});
      expect(named.serving.modelServerImage).toBeUndefined();
      expect(image(named)).toBe(JSON.stringify(MODEL_SERVER));
    });
  });

  describe('model servers', () => {
    it('should offer a managed policy that reads exactly the artifacts prefix (and decrypts through S3), for their IRSA role', () => {
      const policy = resource(serving, logicalId(dev.serving.modelServerPolicy)).Properties;
      const statements = (policy.PolicyDocument as { Statement: Statement[] }).Statement;
      expect(statements.map((s) => [actionsOf(s), resourcesOf(s).map(follow)])).toEqual([
        [['s3:GetObject'], [objectsArn()]],
        [['s3:ListBucket'], [bucketArn()]],
        [['kms:Decrypt'], artifactsKeyUse().resources],
      ]);
      expect(Object.keys(serving.toJSON().Outputs)).toEqual(
        expect.arrayContaining(['ModelImagesRepositoryUri', 'ImageBuildProjectName', 'ModelServerArtifactsPolicyArn']),
      );
    });
  });
});
