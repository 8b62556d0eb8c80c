import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { StageSettings } from '../config.js';

export interface DataStackProps extends StackProps {
  settings: StageSettings;
}

/**
 * The stateful part: the control-plane table and the artifacts bucket. Kept (RETAIN, deletion protection) outside
 * `dev`; the stateless stacks receive both as props.
 */
export class DataStack extends Stack {
  readonly table: dynamodb.Table;
  readonly bucket: s3.Bucket;
  /** Encrypts project secrets (envelope encryption: KMS data keys, AES-256-GCM in the functions). */
  readonly secretsKey: kms.Key;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { removalPolicy } = props.settings;
    const retain = removalPolicy === RemovalPolicy.RETAIN;

    // Table, not TableV2: TableV2 synthesizes an AWS::DynamoDB::GlobalTable, which this single-region table is not.
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'PK', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'SK', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: retain,
      removalPolicy,
      // Idempotency records and leases carry `ttl` (epoch seconds); DynamoDB removes them after it.
      timeToLiveAttribute: 'ttl',
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'GSI1',
      partitionKey: { name: 'GSI1PK', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'GSI1SK', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    this.bucket = new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.S3_MANAGED,
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
      ],
      removalPolicy,
      // In dev, `cdk destroy` empties the bucket first (a versioned bucket is otherwise never empty).
      autoDeleteObjects: !retain,
    });

    // Without this key no stored secret can be read again: kept outside dev like the table.
    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Merlin ${props.settings.stage}: encrypts project secrets (data keys for AES-256-GCM)`,
      enableKeyRotation: true,
      removalPolicy,
      ...(!retain && { pendingWindow: Duration.days(7) }),
    });
  }
}
