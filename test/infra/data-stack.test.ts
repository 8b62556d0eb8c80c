import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { newApp } from '../../infra/build-app.js';
import { stageSettings } from '../../infra/config.js';
import { DataStack } from '../../infra/stacks/data-stack.js';
import { resources } from './template-helpers.js';

const synth = (stage: string): Template => {
  const stack = new DataStack(newApp(), `Merlin-${stage}-Data`, { settings: stageSettings(stage) });
  return Template.fromStack(stack);
};

describe('DataStack', () => {
  let dev: Template;
  let prod: Template;
  beforeAll(() => {
    dev = synth('dev');
    prod = synth('prod');
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
    it('should be encrypted, versioned and block all public access', () => {
      dev.resourceCountIs('AWS::S3::Bucket', 1);
      dev.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
    });

    it('should deny every request that does not use TLS', () => {
      dev.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });

    it('should allow presigned PUT and GET from any origin (CORS)', () => {
      const bucket = Object.values(resources(dev, 'AWS::S3::Bucket'))[0]!;
      const rules = (bucket.Properties.CorsConfiguration as { CorsRules: Record<string, string[]>[] }).CorsRules;
      expect(rules).toHaveLength(1);
      expect(rules[0]?.AllowedMethods).toEqual(expect.arrayContaining(['PUT', 'GET']));
      expect(rules[0]?.AllowedOrigins).toEqual(['*']);
      expect(rules[0]?.AllowedHeaders).toEqual(['*']);
    });

    it('should abort incomplete multipart uploads after 7 days', () => {
      dev.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
          ]),
        },
      });
    });

    it('should be retained outside dev, and emptied and removed in dev', () => {
      prod.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      prod.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
      dev.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
      dev.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    });
  });
});
