import { Annotations, ArnFormat, CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { WorkflowName } from '../../core/ports.js';
import { STATE_MACHINE_FILES, WORKFLOW_TASKS, type WorkflowTaskKey } from '../../functions/workflow/tasks.js';
import { eksClusters, type StageSettings } from '../config.js';
import { AslStateMachine } from '../constructs/asl-state-machine.js';
import {
  artifactsBucket,
  bindBucket,
  bindEnvironments,
  bindImageRepository,
  bindModelServerImage,
  bindSecretsKey,
  bindStage,
  bindTable,
  grantClusterAccess,
  nameStateMachines,
} from '../constructs/bindings.js';
import { MerlinFunction } from '../constructs/merlin-function.js';
import { eksClusterArns, serviceTaskBindings } from '../constructs/service-tasks.js';
import { pascalCase } from '../naming.js';

/** CheckRevision long-polls the cluster for up to ~20 s per call; the others do a few reads and writes. */
const TASK_TIMEOUTS: Partial<Record<WorkflowTaskKey, Duration>> = {
  CheckRevision: Duration.seconds(60),
};

/** The only task that reads secret values: it hands them to the cluster with the new revision. */
export const DECRYPTS_SECRETS: readonly WorkflowTaskKey[] = ['ApplyRevision'];

/**
 * The tasks that talk to clusters (core/use-cases/workflows.ts: the ones calling `clusters.forEnvironment`): only
 * they may describe the environments' EKS clusters, and only their roles need an access entry in each cluster.
 */
export const REACHES_CLUSTERS: readonly WorkflowTaskKey[] = [
  'ApplyRevision',
  'CheckRevision',
  'PromoteRevision',
  'RecordFailure',
  'RemoveRevision',
  'ApplyRoute',
];

/** Prepare asks the registry whether an image exists; Apply Revision names the image in the revision. */
const IMAGE_REPOSITORY_ACCESS: Partial<Record<WorkflowTaskKey, 'describe' | 'none'>> = {
  PrepareDeployment: 'describe',
  ApplyRevision: 'none',
};

export interface WorkflowStackProps extends StackProps {
  settings: StageSettings;
  table: dynamodb.ITable;
  bucket: s3.IBucket;
  /** The key secret values are encrypted under (DataStack.secretsKey). */
  secretsKey: kms.IKey;
  /** MERLIN_ENVIRONMENTS (infra/config.ts environmentsJson). */
  environmentsJson: string;
  /** Image builds (ServingStack): the project the Build Image state runs, and the repository it pushes to. */
  imageBuild: { project: codebuild.IProject; repository: ecr.IRepository };
  /** MODEL_SERVER_IMAGE of the tasks that reach clusters (stage config); unset ⇒ each EKS environment names its own. */
  modelServerImage?: string;
  /** Extra bundling options for every function (tests ask for esbuild metafiles). */
  bundling?: BundlingOptions;
}

/**
 * The workflows (DESIGN §6): one function per WORKFLOW_TASKS key, built from functions/workflow/<entry>.ts, and one
 * state machine per STATE_MACHINE_FILES entry, each allowed to invoke exactly the functions its ASL names.
 */
export class WorkflowStack extends Stack {
  readonly functions: Record<WorkflowTaskKey, MerlinFunction>;
  readonly stateMachines: Record<WorkflowName, sfn.StateMachine>;
  /** The stage's alarm notifications. */
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: WorkflowStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const bucket = artifactsBucket(this, settings.stage, props.bucket);
    const workflows = Object.entries(STATE_MACHINE_FILES) as [WorkflowName, string][];

    // Fixed names make the ARNs known without referencing the state machines, which reference the functions.
    const names = Object.fromEntries(workflows.map(([w]) => [w, `${settings.prefix}-${w}`])) as Record<
      WorkflowName,
      string
    >;
    const arns = Object.fromEntries(
      workflows.map(([w]) => [
        w,
        this.formatArn({
          service: 'states',
          resource: 'stateMachine',
          resourceName: names[w],
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ]),
    ) as Record<WorkflowName, string>;

    const clusterArns = eksClusterArns(this, eksClusters(props.environmentsJson));
    const functions = {} as Record<WorkflowTaskKey, MerlinFunction>;
    for (const [key, entry] of Object.entries(WORKFLOW_TASKS) as [WorkflowTaskKey, string][]) {
      const fn = new MerlinFunction(this, `${key}Function`, {
        entry: `functions/workflow/${entry}.ts`,
        description: `Merlin ${settings.stage} workflow task ${key}`,
        timeout: TASK_TIMEOUTS[key],
        bundling: props.bundling,
        logRetention: settings.logRetention,
        logRemovalPolicy: settings.removalPolicy,
        awsClients: {
          eks: REACHES_CLUSTERS.includes(key),
          kms: DECRYPTS_SECRETS.includes(key),
          ecr: key in IMAGE_REPOSITORY_ACCESS,
        },
      });
      bindTable(fn, props.table);
      // Tasks name the bucket but do not touch it (model servers read artifacts with their own identity).
      bindBucket(fn, bucket, 'none');
      // Tasks never start executions; the contract still asks for the ARNs (see nameStateMachines).
      nameStateMachines(fn, arns);
      bindEnvironments(fn, props.environmentsJson);
      bindStage(fn, settings.stage);
      if (DECRYPTS_SECRETS.includes(key)) bindSecretsKey(fn, props.secretsKey, 'decrypt');
      const images = IMAGE_REPOSITORY_ACCESS[key];
      if (images) bindImageRepository(fn, props.imageBuild.repository, images);
      if (REACHES_CLUSTERS.includes(key)) {
        grantClusterAccess(fn, clusterArns);
        if (props.modelServerImage) bindModelServerImage(fn, props.modelServerImage);
      }
      functions[key] = fn;
    }
    this.functions = functions;

    new CfnOutput(this, 'ClusterAccessRoleArns', {
      value: Fn.join(
        ' ',
        REACHES_CLUSTERS.map((key) => functions[key].role!.roleArn),
      ),
      description:
        'IAM roles of the workflow tasks that reach clusters: each needs an access entry in every EKS cluster',
    });

    // Alarms go to one topic per stage (email subscribers from the stage config; anything else subscribes to its
    // ARN). Encrypted with a key CloudWatch may use: alarms cannot publish to a topic under the AWS managed SNS key.
    const alarmsKey = new kms.Key(this, 'AlarmsKey', {
      description: `Merlin ${settings.stage}: encrypts alarm notifications (SNS)`,
      enableKeyRotation: true,
      removalPolicy: settings.removalPolicy,
      ...(settings.removalPolicy !== RemovalPolicy.RETAIN && { pendingWindow: Duration.days(7) }),
    });
    alarmsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'Alarms', {
      topicName: `${settings.prefix}-alarms`,
      displayName: `Merlin ${settings.stage} alarms`,
      masterKey: alarmsKey,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a resource policy, which replaces SNS's default one: without this statement nothing
    // lets CloudWatch publish, and every alarm notification would be refused.
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': `arn:${this.partition}:cloudwatch:${this.region}:${this.account}:alarm:${settings.prefix}-*`,
          },
        },
      }),
    );
    for (const email of settings.alarmEmails) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topicArn,
      description: 'Alarms of this stage (failed workflow executions): subscribe email, chat or paging here',
    });

    const serviceTasks = serviceTaskBindings(this, { imageBuild: props.imageBuild.project });
    const used = new Set<WorkflowTaskKey>();
    const machines = {} as Record<WorkflowName, sfn.StateMachine>;
    for (const [workflow, file] of workflows) {
      const machine = new AslStateMachine(this, pascalCase(workflow), {
        stateMachineName: names[workflow],
        definitionFile: `statemachines/${file}`,
        functions,
        serviceTasks,
        logRetention: settings.logRetention,
        logRemovalPolicy: settings.removalPolicy,
        alarmTopic: this.alarmTopic,
      });
      for (const key of machine.tasks) used.add(key);
      machines[workflow] = machine.stateMachine;
    }
    this.stateMachines = machines;

    const unused = (Object.keys(WORKFLOW_TASKS) as WorkflowTaskKey[]).filter((key) => !used.has(key));
    if (unused.length > 0) {
      Annotations.of(this).addWarningV2(
        'merlin:unused-task',
        `workflow task function(s) no state machine names: ${unused.join(', ')}`,
      );
    }
  }
}
