import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type MerlinApp } from '../../infra/build-app.js';
import { type CfnResource, resources } from './template-helpers.js';

/**
 * The security properties of issue 6, checked on every resource of every stack of a disposable (dev) and a kept
 * (prod) stage: a new resource that lacks one fails here, whichever stack it lands in.
 */
const STAGES = [
  ['dev', 7],
  ['prod', 90],
] as const;

describe.each(STAGES)('Security properties of every stack (stage %s)', (stage, retentionDays) => {
  let built: MerlinApp;
  let templates: Template[];
  const all = (type: string): [string, CfnResource][] => templates.flatMap((t) => Object.entries(resources(t, type)));
  beforeAll(() => {
    built = buildApp({ stage, bundle: false });
    templates = [built.data, built.serving, built.workflow, built.api].map((s) => Template.fromStack(s));
  });

  it('should keep every log group for the stage’s retention', () => {
    const groups = all('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(20);
    for (const [id, g] of groups) expect(g.Properties.RetentionInDays, id).toBe(retentionDays);
  });

  it('should trace every function and state machine with X-Ray', () => {
    const functions = all('AWS::Lambda::Function').filter(([id]) => !id.startsWith('CustomS3AutoDeleteObjects'));
    expect(functions).toHaveLength(7 + 11);
    for (const [id, fn] of functions) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      expect(fn.Properties.Runtime, id).toBe('nodejs22.x');
    }
    const machines = all('AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(3);
    for (const [id, sm] of machines) {
      expect(sm.Properties.TracingConfiguration, id).toEqual({ Enabled: true });
      expect((sm.Properties.LoggingConfiguration as { Level: string }).Level, id).toBe('ALL');
    }
  });

  it('should encrypt, block public access to and require TLS on every bucket', () => {
    const buckets = all('AWS::S3::Bucket');
    expect(buckets).toHaveLength(2);
    const policies = all('AWS::S3::BucketPolicy').map(([, p]) => p.Properties);
    for (const [id, bucket] of buckets) {
      expect(bucket.Properties.BucketEncryption, id).toBeDefined();
      expect(bucket.Properties.PublicAccessBlockConfiguration, id).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const policy = policies.find((p) => JSON.stringify(p.Bucket) === JSON.stringify({ Ref: id }));
      expect(JSON.stringify(policy?.PolicyDocument), id).toContain('{"Bool":{"aws:SecureTransport":"false"}}');
    }
  });

  it('should rotate every KMS key, encrypt the alarm topic, and recover the table to a point in time', () => {
    const keys = all('AWS::KMS::Key');
    expect(keys.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'AlarmsKey',
      'ArtifactsKey',
      'SecretsKey',
    ]);
    for (const [id, key] of keys) expect(key.Properties.EnableKeyRotation, id).toBe(true);
    for (const [id, topic] of all('AWS::SNS::Topic')) expect(topic.Properties.KmsMasterKeyId, id).toBeDefined();
    const [[, table]] = all('AWS::DynamoDB::Table') as [[string, CfnResource]];
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(stage !== 'dev');
  });

  it('should keep stateful resources outside dev and remove them in dev', () => {
    const stateful = [
      ...all('AWS::DynamoDB::Table'),
      ...all('AWS::S3::Bucket'),
      ...all('AWS::KMS::Key'),
      ...all('AWS::ECR::Repository'),
    ];
    expect(stateful).toHaveLength(1 + 2 + 3 + 1);
    for (const [id, r] of stateful) expect(r.DeletionPolicy, id).toBe(stage === 'dev' ? 'Delete' : 'Retain');
  });
});
