import { ArnFormat, CfnOutput, Duration, IgnoreMode, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcardResource } from '../acknowledgments.js';
import { type ImageBuildArchitecture, REPO_ROOT, type StageSettings } from '../config.js';
import { ARTIFACTS_PREFIX, ARTIFACTS_REASON, artifactReadStatements, artifactsBucket } from '../constructs/bindings.js';

/** Where every artifact lives in the bucket (core/names.ts artifactPrefix): what builds and model servers read. */
export { ARTIFACTS_PREFIX };

/** A build longer than this fails the deployment with `image build TIMED_OUT`. */
export const IMAGE_BUILD_TIMEOUT = Duration.minutes(30);

/**
 * The build of one image: the CodeBuild environment gets ARTIFACT_URI and IMAGE_TAG from the deploy workflow's
 * Build Image state and REPOSITORY_URI/REPOSITORY_NAME from the project. It copies the artifact (the build context,
 * a Dockerfile at its root) out of S3, builds it and pushes `<repository>:<IMAGE_TAG>`. A tag that exists already
 * is not built again; a push that loses a race to an identical concurrent build (immutable tags) finds the tag there
 * and succeeds. Build and push are one phase, so a failed build never reaches the push (POST_BUILD would run anyway).
 */
export const IMAGE_BUILDSPEC = {
  version: '0.2',
  env: { shell: 'bash' },
  phases: {
    pre_build: {
      'on-failure': 'ABORT',
      commands: [
        'test -n "$ARTIFACT_URI" && test -n "$IMAGE_TAG" || { echo "ARTIFACT_URI and IMAGE_TAG must be set"; exit 1; }',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion (the registry host)
        'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"',
        'if aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$IMAGE_TAG" > /dev/null 2>&1; then echo "$REPOSITORY_URI:$IMAGE_TAG exists already"; touch /tmp/image-exists; fi',
        'mkdir -p /tmp/context && aws s3 cp --recursive --only-show-errors "$ARTIFACT_URI" /tmp/context',
        'test -f /tmp/context/Dockerfile || { echo "the artifact at $ARTIFACT_URI has no Dockerfile at its root"; exit 1; }',
      ],
    },
    build: {
      'on-failure': 'ABORT',
      commands: [
        'test -f /tmp/image-exists || docker build --pull --tag "$REPOSITORY_URI:$IMAGE_TAG" /tmp/context',
        'test -f /tmp/image-exists || docker push "$REPOSITORY_URI:$IMAGE_TAG" || aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$IMAGE_TAG"',
      ],
    },
  },
};

export interface ServingStackProps extends StackProps {
  settings: StageSettings;
  /**
   * The artifacts bucket (DataStack.bucket, with its KMS key): builds read their context from it, model servers their
   * artifacts.
   */
  bucket: s3.IBucket;
  /** The CPU architecture of the built images: that of the EKS nodes that run them. */
  imageBuildArchitecture: ImageBuildArchitecture;
  /** Build the model-server image (serving/Dockerfile) as a CDK image asset; see `modelServerImage`. */
  modelServerImageAsset?: boolean;
}

/**
 * The build context of serving/Dockerfile: what it copies (package.json, package-lock.json, serving/) and nothing
 * else, so the asset hash changes only with the model server and synth copies a few hundred KB, not the repository.
 */
export const MODEL_SERVER_CONTEXT_EXCLUDE = ['*', '!package.json', '!package-lock.json', '!serving', '!serving/**'];

/**
 * What the data plane needs on AWS besides the clusters (DESIGN §3 "serving"): the ECR repository of images built
 * from artifacts, the CodeBuild project that builds them (started by the deploy workflow's Build Image state), and
 * the policy model servers' IAM role (IRSA, docs/eks.md) needs to read artifacts. The model-server image itself is
 * built outside CDK (docs/eks.md) so that synth needs no Docker; its URI comes in through the stage config.
 */
export class ServingStack extends Stack {
  readonly repository: ecr.Repository;
  readonly imageBuild: codebuild.Project;
  readonly modelServerPolicy: iam.ManagedPolicy;
  /**
   * The model-server image built from serving/Dockerfile when the stage asks for it (`modelServerImageAsset`): synth
   * only stages its build context; `cdk deploy` builds it (Docker) and pushes it to the CDK assets repository.
   */
  readonly modelServerImage?: ecrAssets.DockerImageAsset;

  constructor(scope: Construct, id: string, props: ServingStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const bucket = artifactsBucket(this, settings.stage, props.bucket);
    const retain = settings.removalPolicy === RemovalPolicy.RETAIN;

    this.repository = new ecr.Repository(this, 'ModelImages', {
      imageScanOnPush: true,
      // A tag is a manifest digest: the same tag is always the same image, so it may never move.
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      // Tagged images may back running revisions for months: only leftovers without a tag expire.
      lifecycleRules: [
        {
          description: 'Untagged images (interrupted or superseded pushes) expire',
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(7),
        },
      ],
      removalPolicy: settings.removalPolicy,
      emptyOnDelete: !retain,
    });

    const projectName = `${settings.prefix}-image-build`;
    // CodeBuild writes to /aws/codebuild/<project>; created here to give it a retention.
    new logs.LogGroup(this, 'ImageBuildLogs', {
      logGroupName: `/aws/codebuild/${projectName}`,
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    const role = new iam.Role(this, 'ImageBuildRole', {
      assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
      description: `Merlin ${settings.stage}: image builds read artifacts and push to the model images repository`,
    });
    const arm = props.imageBuildArchitecture === 'arm64';
    this.imageBuild = new codebuild.Project(this, 'ImageBuild', {
      projectName,
      description: `Merlin ${settings.stage}: builds the Dockerfile of a model artifact and pushes it to ECR`,
      role,
      buildSpec: codebuild.BuildSpec.fromObject(IMAGE_BUILDSPEC),
      environment: {
        buildImage: arm
          ? codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
          : codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5,
        computeType: arm ? codebuild.ComputeType.LARGE : codebuild.ComputeType.MEDIUM,
        // docker build needs the Docker daemon.
        privileged: true,
      },
      environmentVariables: {
        REPOSITORY_URI: { value: this.repository.repositoryUri },
        REPOSITORY_NAME: { value: this.repository.repositoryName },
      },
      timeout: IMAGE_BUILD_TIMEOUT,
      queuedTimeout: Duration.hours(1),
      grantReportGroupPermissions: false,
    });

    // Read: the artifact of the version being built, i.e. anything under the artifacts prefix, and nothing else.
    const readArtifacts = artifactReadStatements(bucket);
    for (const statement of readArtifacts) role.addToPolicy(statement);
    // Push: this repository only (GetAuthorizationToken has no resource-level permission).
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:InitiateLayerUpload',
          'ecr:UploadLayerPart',
          'ecr:CompleteLayerUpload',
          'ecr:PutImage',
          'ecr:DescribeImages',
        ],
        resources: [this.repository.repositoryArn],
      }),
    );

    // What a model server's role needs (attached to the IRSA role of each cluster: docs/eks.md).
    this.modelServerPolicy = new iam.ManagedPolicy(this, 'ModelServerArtifactsRead', {
      description: `Merlin ${settings.stage}: model servers read model artifacts`,
      statements: readArtifacts,
    });

    const artifactObjects = bucket.arnForObjects(`${ARTIFACTS_PREFIX}*`);
    acknowledgeWildcardResource(this.modelServerPolicy, artifactObjects, ARTIFACTS_REASON);
    acknowledgeWildcardResource(role, artifactObjects, ARTIFACTS_REASON);
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken supports no resource-level permissions (docker login to the registry); every push action is limited to the model images repository.',
    );
    acknowledgeWildcardResource(
      role,
      this.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: `/aws/codebuild/${this.imageBuild.projectName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      'CodeBuild writes each build to a new log stream of the project’s own log group (/aws/codebuild/<project>): the wildcard covers those streams only (granted by the CodeBuild construct).',
    );
    acknowledge(
      this.imageBuild,
      'AwsSolutions-CB4',
      'The project produces no build artifacts and uses no cache (NO_ARTIFACTS): its only output is the image it pushes to ECR, encrypted at rest there; a KMS key for CodeBuild would encrypt nothing.',
    );

    new CfnOutput(this, 'ModelImagesRepositoryUri', {
      value: this.repository.repositoryUri,
      description: 'ECR repository of images built from artifacts (tag = artifact manifest digest)',
    });
    new CfnOutput(this, 'ImageBuildProjectName', { value: this.imageBuild.projectName });
    if (props.modelServerImageAsset) {
      this.modelServerImage = new ecrAssets.DockerImageAsset(this, 'ModelServerImage', {
        directory: REPO_ROOT,
        file: 'serving/Dockerfile',
        exclude: MODEL_SERVER_CONTEXT_EXCLUDE,
        ignoreMode: IgnoreMode.DOCKER,
        platform: arm ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
        displayName: `Merlin ${settings.stage} model server`,
      });
      new CfnOutput(this, 'ModelServerImageUri', {
        value: this.modelServerImage.imageUri,
        description:
          'The model-server image built from serving/Dockerfile (EKS environments that name no image run it)',
      });
    }

    new CfnOutput(this, 'ModelServerArtifactsPolicyArn', {
      value: this.modelServerPolicy.managedPolicyArn,
      description: 'Attach to the IAM role of the model servers (IRSA) in every EKS cluster',
    });
  }
}
