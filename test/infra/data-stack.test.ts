import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { newApp } from '../../infra/build-app.js';
import { stageSettings } from '../../infra/config.js';
import { DataStack } from '../../infra/stacks/data-stack.js';
import { logicalId, resource, resources } from './template-helpers.js';

const stackOf = (stage: string): DataStack =>
  new DataStack(newApp(), `Merlin-${stage}-Data`, { settings: stageSettings(stage) });

describe('DataStack', () => {
  let devStack: DataStack;
  let prodStack: DataStack;
  let dev: Template;
  let prod: Template;
  beforeAll(() => {
    devStack = stackOf('dev');
    prodStack = stackOf('prod');
    dev = Template.fromStack(devStack);
    prod = Template.fromStack(prodStack);
  });

  describe('table', () => {
    it('should be one on-demand DynamoDB table (not a global table) keyed by PK/SK strings', () => {
      dev.resourceCountIs('AWS::DynamoDB::Table', 1);
      dev.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
      dev.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'PK', AttributeType: 'S' },
          { AttributeName: 'SK', AttributeType: 'S' },
        ]),
      });
    });

    it('should have exactly one index, GSI1 on GSI1PK/GSI1SK strings, projecting all attributes', () => {
      const table = Object.values(resources(dev, 'AWS::DynamoDB::Table'))[0]!;
      expect(table.Properties.GlobalSecondaryIndexes).toEqual([
        {
          IndexName: 'GSI1',
          KeySchema: [
            { AttributeName: 'GSI1PK', KeyType: 'HASH' },
            { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ]);
      expect(table.Properties.AttributeDefinitions).toEqual(
        expect.arrayContaining([
          { AttributeName: 'GSI1PK', AttributeType: 'S' },
          { AttributeName: 'GSI1SK', AttributeType: 'S' },
        ]),
      );
      expect(table.Properties.LocalSecondaryIndexes).toBeUndefined();
    });

    it('should have point-in-time recovery on in every stage', () => {
      for (const template of [dev, prod]) {
        template.hasResourceProperties('AWS::DynamoDB::Table', {
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        });
      }
    });

    it('should expire idempotency records and leases by their ttl attribute', () => {
      for (const template of [dev, prod]) {
        template.hasResourceProperties('AWS::DynamoDB::Table', {
          TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        });
      }
    });

    it('should be retained and deletion-protected outside dev, and removable in dev', () => {
      prod.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
      });
      dev.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Delete',
        Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
      });
    });
  });

  describe('artifacts bucket', () => {
    const bucketOf = (template: Template, stack: DataStack) => resource(template, logicalId(stack.bucket));
    const devBucket = () => bucketOf(dev, devStack);

    it('should be named merlin-<stage>-<account>-<region>, versioned and block all public access', () => {
      const props = devBucket().Properties;
      expect(props.BucketName).toEqual({
        'Fn::Join': ['', ['merlin-dev-', { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }]],
      });
      expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(props.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(props.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    });

    it('should encrypt with its own customer-managed KMS key (rotated) and an S3 bucket key', () => {
      expect(devBucket().Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [logicalId(devStack.artifactsKey), 'Arn'] },
            },
          },
        ],
      });
      const key = resource(dev, logicalId(devStack.artifactsKey));
      expect(key.Type).toBe('AWS::KMS::Key');
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect(logicalId(devStack.artifactsKey)).not.toBe(logicalId(devStack.secretsKey));
      prod.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });

    it('should deny every request that does not use TLS, on both buckets', () => {
      for (const bucket of [devStack.bucket, devStack.accessLogsBucket]) {
        const policy = Object.values(resources(dev, 'AWS::S3::BucketPolicy')).find(
          (p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: logicalId(bucket) }),
        );
        expect((policy!.Properties.PolicyDocument as { Statement: unknown[] }).Statement).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        );
      }
    });

    it('should log server access to the access-logs bucket, which is encrypted, private and expires logs', () => {
      expect(devBucket().Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: logicalId(devStack.accessLogsBucket) },
        LogFilePrefix: 'artifacts-bucket/',
      });
      const logs = resource(dev, logicalId(devStack.accessLogsBucket)).Properties;
      // Log delivery writes SSE-S3 only.
      expect(logs.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      expect(logs.PublicAccessBlockConfiguration).toMatchObject({ BlockPublicAcls: true, RestrictPublicBuckets: true });
      expect((logs.LifecycleConfiguration as { Rules: unknown[] }).Rules).toEqual(
        expect.arrayContaining([expect.objectContaining({ ExpirationInDays: 7, Status: 'Enabled' })]),
      );
    });

    it('should allow presigned PUT and GET from any origin (CORS)', () => {
      const rules = (devBucket().Properties.CorsConfiguration as { CorsRules: Record<string, string[]>[] }).CorsRules;
      expect(rules).toHaveLength(1);
      expect(rules[0]?.AllowedMethods).toEqual(expect.arrayContaining(['PUT', 'GET']));
      expect(rules[0]?.AllowedOrigins).toEqual(['*']);
      expect(rules[0]?.AllowedHeaders).toEqual(['*']);
    });

    it('should abort incomplete multipart uploads after 7 days and expire replaced versions after 30', () => {
      expect((devBucket().Properties.LifecycleConfiguration as { Rules: unknown[] }).Rules).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
          expect.objectContaining({
            Status: 'Enabled',
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            ExpiredObjectDeleteMarker: true,
          }),
        ]),
      );
    });

    it('should be retained outside dev, and emptied and removed in dev', () => {
      expect(bucketOf(prod, prodStack)).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      prod.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
      expect(devBucket().DeletionPolicy).toBe('Delete');
      // Both buckets are emptied before deletion in dev.
      dev.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    });
  });

  describe('stage config', () => {
    it('should follow the stage config: deletion protection, removal and log retention of a user-defined stage', () => {
      const settings = stageSettings('staging', {
        file: { staging: { deletionProtection: false, removalPolicy: 'destroy', logRetentionDays: 14 } },
      });
      const template = Template.fromStack(new DataStack(newApp(), 'Merlin-staging-Data', { settings }));
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Delete',
        Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
      });
      const logs = Object.values(resources(template, 'AWS::S3::Bucket')).find((b) =>
        JSON.stringify(b.Properties.LifecycleConfiguration).includes('ExpirationInDays'),
      );
      expect(JSON.stringify(logs?.Properties.LifecycleConfiguration)).toContain('"ExpirationInDays":14');
    });
  });
});
