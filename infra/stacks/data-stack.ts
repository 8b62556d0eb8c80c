import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { StageSettings } from '../config.js';
import { artifactsBucketName, TABLE_INDEXES } from '../constructs/bindings.js';

export interface DataStackProps extends StackProps {
  settings: StageSettings;
}

/**
 * The stateful part: the control-plane table, the artifacts bucket (with its server access logs) and the keys. Kept
 * (RETAIN, deletion protection) outside `dev` unless the stage config says otherwise; the stateless stacks receive
 * them as props.
 */
export class DataStack extends Stack {
  readonly table: dynamodb.Table;
  readonly bucket: s3.Bucket;
  /** Encrypts the artifacts bucket (SSE-KMS with an S3 bucket key); granted with the bucket's object grants. */
  readonly artifactsKey: kms.Key;
  /** Server access logs of the artifacts bucket. */
  readonly accessLogsBucket: s3.Bucket;
  /** Encrypts project secrets (envelope encryption: KMS data keys, AES-256-GCM in the functions). */
  readonly secretsKey: kms.Key;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { removalPolicy, deletionProtection, stage } = props.settings;
    const retain = removalPolicy === RemovalPolicy.RETAIN;

    // Table, not TableV2: TableV2 synthesizes an AWS::DynamoDB::GlobalTable, which this single-region table is not.
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'PK', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'SK', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection,
      removalPolicy,
      // Idempotency records and leases carry `ttl` (epoch seconds); DynamoDB removes them after it.
      timeToLiveAttribute: 'ttl',
    });
    for (const index of TABLE_INDEXES) {
      this.table.addGlobalSecondaryIndex({
        indexName: index,
        partitionKey: { name: `${index}PK`, type: dynamodb.AttributeType.STRING },
        sortKey: { name: `${index}SK`, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    // Who reads and writes artifacts (S3 request, object key, principal), kept as long as the stage keeps its logs.
    // Log delivery supports SSE-S3 only (not SSE-KMS) on the target bucket. It is granted by bucket policy, ACLs stay
    // disabled: cdk.json's @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy (without it CDK would ask for ObjectWriter).
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [
        { id: 'ExpireAccessLogs', expiration: Duration.days(Math.min(props.settings.logRetention, 3653)) },
        { id: 'AbortIncompleteMultipartUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
      autoDeleteObjects: !retain,
    });

    this.artifactsKey = new kms.Key(this, 'ArtifactsKey', {
      description: `Merlin ${stage}: encrypts model artifacts at rest (S3 bucket key)`,
      enableKeyRotation: true,
      removalPolicy,
      ...(!retain && { pendingWindow: Duration.days(7) }),
    });

    this.bucket = new s3.Bucket(this, 'Artifacts', {
      bucketName: artifactsBucketName(stage),
      // SSE-KMS under our own key: reading an artifact needs kms:Decrypt on it besides s3:GetObject, so a bucket
      // policy mistake alone exposes nothing. The bucket key keeps KMS calls (and cost) per object low.
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.artifactsKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'artifacts-bucket/',
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      // Clients upload and download artifact files straight to/from S3 with presigned URLs.
      cors: [
        {
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: ['*'],
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        { id: 'AbortIncompleteMultipartUploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
        // Replaced and deleted files stay recoverable for a while (versioning), then stop costing; the delete markers
        // that deleting a version's files leaves behind go once nothing is left under them.
        {
          id: 'ExpireNoncurrentVersions',
          noncurrentVersionExpiration: Duration.days(30),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy,
      // In dev, `cdk destroy` empties the bucket first (a versioned bucket is otherwise never empty).
      autoDeleteObjects: !retain,
    });

    // Without this key no stored secret can be read again: kept outside dev like the table.
    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Merlin ${stage}: encrypts project secrets (data keys for AES-256-GCM)`,
      enableKeyRotation: true,
      removalPolicy,
      ...(!retain && { pendingWindow: Duration.days(7) }),
    });
  }
}
