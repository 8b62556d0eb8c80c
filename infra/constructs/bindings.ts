import { Aws, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ENCRYPTION_CONTEXT_KEYS } from '../../adapters/crypto/kms-cipher.js';
import type { WorkflowName } from '../../core/ports.js';
import { type FunctionEnv, STATE_MACHINE_ENV } from '../../functions/shared/env.js';
import { acknowledgeWildcardResource } from '../acknowledgments.js';
import { MerlinFunction } from './merlin-function.js';

/**
 * Wiring helpers: each sets the variables of the function environment contract (functions/shared/env.ts) together
 * with the IAM access that goes with them, so a variable and its permission never drift apart (house style #10).
 */

type ContractVariable = Exclude<keyof FunctionEnv, 'AWS_REGION'>;

const setVariable = (fn: lambda.Function, name: ContractVariable, value: string): void => {
  fn.addEnvironment(name, value);
};

/** The table's global secondary indexes (DataStack creates them; adapters/dynamodb queries them by name). */
export const TABLE_INDEXES = ['GSI1'] as const;

/** What adapters/dynamodb does with items: single-item reads and writes and queries; no scans, batches or admin. */
export const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
] as const;

/** The reads among TABLE_ACTIONS: what a function whose routes only read (all GET) may do. */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;

/**
 * `TABLE_NAME` + the item actions the adapters use (`read`: only the reads), on the table and its named indexes only.
 */
export const bindTable = (
  fn: lambda.Function,
  table: dynamodb.ITable,
  access: 'readWrite' | 'read' = 'readWrite',
): void => {
  setVariable(fn, 'TABLE_NAME', table.tableName);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: access === 'read' ? [...TABLE_READ_ACTIONS] : [...TABLE_ACTIONS],
      resources: [table.tableArn, ...TABLE_INDEXES.map((index) => `${table.tableArn}/index/${index}`)],
    }),
  );
};

/** Where every artifact lives in the bucket (core/names.ts artifactPrefix). */
export const ARTIFACTS_PREFIX = 'artifacts/';

/**
 * The artifacts bucket's physical name: fixed per stage, account and region (at most 55 characters), so that the
 * stacks that use it name it without a cross-stack reference and every policy names the same ARN.
 */
export const artifactsBucketName = (stage: string): string => `merlin-${stage}-${Aws.ACCOUNT_ID}-${Aws.REGION}`;

/** The artifacts bucket (DataStack) as another stack of the same stage sees it: by name, with its KMS key. */
export const artifactsBucket = (scope: Construct, stage: string, bucket: s3.IBucket): s3.IBucket =>
  s3.Bucket.fromBucketAttributes(scope, 'ArtifactsBucket', {
    bucketName: artifactsBucketName(stage),
    ...(bucket.encryptionKey && { encryptionKey: bucket.encryptionKey }),
  });

/**
 * Reading artifacts: objects under the artifacts prefix, listing only that prefix, and decrypting with the bucket's
 * key through S3 only. What image builds and model servers need (ServingStack).
 */
export const artifactReadStatements = (bucket: s3.IBucket): iam.PolicyStatement[] => [
  new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${ARTIFACTS_PREFIX}*`)] }),
  listArtifactsStatement(bucket),
  ...artifactKeyStatements(bucket, ['kms:Decrypt']),
];

/**
 * Listing the artifacts prefix. `IfExists`: S3 also evaluates s3:ListBucket, without any s3:prefix in the request
 * context, to decide whether a GET or HEAD of a missing object answers 404 (allowed) or 403 (denied); a plain
 * StringLike would turn "not uploaded yet" and "artifact file not found" into access-denied errors. A listing that
 * names a prefix must still name one under artifacts/.
 */
const listArtifactsStatement = (bucket: s3.IBucket): iam.PolicyStatement =>
  new iam.PolicyStatement({
    actions: ['s3:ListBucket'],
    resources: [bucket.bucketArn],
    conditions: { StringLikeIfExists: { 's3:prefix': [`${ARTIFACTS_PREFIX}*`] } },
  });

const artifactKeyStatements = (bucket: s3.IBucket, actions: string[]): iam.PolicyStatement[] =>
  bucket.encryptionKey
    ? [
        new iam.PolicyStatement({
          actions,
          resources: [bucket.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(bucket).region}.amazonaws.com` } },
        }),
      ]
    : [];

/** What a function may do with the artifacts: see RouteEntry.artifacts. */
export type ArtifactAccess = 'readWrite' | 'delete' | 'none';

/**
 * `ARTIFACT_BUCKET`; with `readWrite`, get/put/delete on the objects under the artifacts prefix and listing that
 * prefix (presigned PUT/GET URLs are signed with the function's role, so the role must allow what the URL does), and
 * the bucket key's data keys through S3 only; with `delete`, only deleting and listing there (no key: deleting an
 * object decrypts nothing). `none` only names the bucket.
 */
export const bindBucket = (fn: lambda.Function, bucket: s3.IBucket, access: ArtifactAccess): void => {
  setVariable(fn, 'ARTIFACT_BUCKET', bucket.bucketName);
  if (access === 'none') return;
  const statements = [
    new iam.PolicyStatement({
      actions: access === 'delete' ? ['s3:DeleteObject'] : ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resources: [bucket.arnForObjects(`${ARTIFACTS_PREFIX}*`)],
    }),
    listArtifactsStatement(bucket),
    ...(access === 'delete' ? [] : artifactKeyStatements(bucket, ['kms:Decrypt', 'kms:GenerateDataKey'])),
  ];
  for (const statement of statements) fn.addToRolePolicy(statement);
  acknowledgeWildcardResource(fn.role!, bucket.arnForObjects(`${ARTIFACTS_PREFIX}*`), ARTIFACTS_REASON);
};

/** Why a policy may name every object under the artifacts prefix. */
export const ARTIFACTS_REASON =
  'Prefix-scoped: the objects of every model version live under artifacts/<project>/<model>/<version>/ (core/names.ts artifactPrefix), created at run time, so no narrower static ARN exists; nothing outside the prefix is granted, and a listing that names a prefix must name one under it (s3:prefix condition).';

/** `MERLIN_STAGE`: the `stage` dimension of the business metrics (functions/shared/observability.ts). */
export const bindStage = (fn: lambda.Function, stage: string): void => {
  setVariable(fn, 'MERLIN_STAGE', stage);
};

/** The three `*_STATE_MACHINE_ARN` variables + `states:StartExecution` on exactly those state machines. */
export const bindStateMachines = (fn: lambda.Function, machines: Record<WorkflowName, sfn.IStateMachine>): void => {
  for (const [workflow, machine] of Object.entries(machines) as [WorkflowName, sfn.IStateMachine][]) {
    setVariable(fn, STATE_MACHINE_ENV[workflow] as ContractVariable, machine.stateMachineArn);
    machine.grantStartExecution(fn);
  }
};

/**
 * The three `*_STATE_MACHINE_ARN` variables without any permission, for functions that never start an execution
 * (the workflow tasks). The ARNs are plain strings built from the state machine names, so they create no reference,
 * and no dependency cycle between a state machine and the functions it runs.
 */
export const nameStateMachines = (fn: lambda.Function, arns: Record<WorkflowName, string>): void => {
  for (const [workflow, arn] of Object.entries(arns) as [WorkflowName, string][]) {
    setVariable(fn, STATE_MACHINE_ENV[workflow] as ContractVariable, arn);
  }
};

/**
 * `SECRETS_KEY_ID` + what the function does with secret values: `encrypt` may only have KMS make data keys
 * (`kms:GenerateDataKey`), `decrypt` may only have it decrypt them (`kms:Decrypt`), and only with a secret's
 * encryption context (project and name: adapters/crypto/kms-cipher.ts). Functions that do neither get neither the
 * variable nor a permission. The key policy delegates to IAM (the CDK default), so the role policy is enough.
 */
export const bindSecretsKey = (fn: lambda.Function, key: kms.IKey, use: 'encrypt' | 'decrypt'): void => {
  MerlinFunction.requireClient(fn, 'kms', 'the secrets key');
  setVariable(fn, 'SECRETS_KEY_ID', key.keyArn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [use === 'encrypt' ? 'kms:GenerateDataKey' : 'kms:Decrypt'],
      resources: [key.keyArn],
      conditions: {
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...ENCRYPTION_CONTEXT_KEYS] },
        Null: { 'kms:EncryptionContextKeys': 'false' },
      },
    }),
  );
};

/** `MERLIN_ENVIRONMENTS`: the validated environments config (infra/config.ts environmentsJson). */
export const bindEnvironments = (fn: lambda.Function, environmentsJson: string): void => {
  setVariable(fn, 'MERLIN_ENVIRONMENTS', environmentsJson);
};

/**
 * `IMAGE_REPOSITORY_URI`: the repository of images built from artifacts; with `describe`, `ecr:DescribeImages` on it
 * (Prepare asks whether a tag exists). `none` only names it (Apply Revision names the image in the revision).
 */
export const bindImageRepository = (
  fn: lambda.Function,
  repository: ecr.IRepository,
  access: 'describe' | 'none',
): void => {
  MerlinFunction.requireClient(fn, 'ecr', 'the image repository');
  setVariable(fn, 'IMAGE_REPOSITORY_URI', repository.repositoryUri);
  if (access === 'describe') {
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ecr:DescribeImages'], resources: [repository.repositoryArn] }),
    );
  }
};

/** `MODEL_SERVER_IMAGE`: the model-server image of EKS environments whose cluster config names none. */
export const bindModelServerImage = (fn: lambda.Function, image: string): void => {
  setVariable(fn, 'MODEL_SERVER_IMAGE', image);
};

/**
 * `eks:DescribeCluster` on exactly these clusters (ARNs from the environments config): how a function finds a
 * cluster's API endpoint and CA. What it may do inside the cluster is the cluster's access entry for the function's
 * role (docs/eks.md), not IAM. No clusters, no statement.
 */
export const grantClusterAccess = (fn: lambda.Function, clusterArns: readonly string[]): void => {
  MerlinFunction.requireClient(fn, 'eks', 'cluster access');
  if (clusterArns.length === 0) return;
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['eks:DescribeCluster'], resources: [...clusterArns] }));
};
