import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENVIRONMENTS, Environments } from '../../core/environments.js';
import { buildApp, newApp } from '../../infra/build-app.js';
import {
  ConfigError,
  environmentsJson,
  placeholderServingUrl,
  readMerlinConfig,
  stageSettings,
} from '../../infra/config.js';
import { bindSecretsKey, grantClusterAccess } from '../../infra/constructs/bindings.js';
import { awsClientDefines, MerlinFunction } from '../../infra/constructs/merlin-function.js';
import { variablesOf } from './template-helpers.js';

const EKS_CONFIG = {
  environments: [
    { name: 'local', cluster: { kind: 'local' } },
    {
      name: 'staging',
      isDefault: true,
      cluster: { kind: 'eks', eksClusterName: 'ml-staging', region: 'eu-west-1' },
      servingUrl: 'https://serving.staging.example.com/',
    },
  ],
};

describe('Merlin CDK app', () => {
  describe('stages', () => {
    it('should name the stacks Merlin-<stage>-Data/Serving/Workflow/Api, dev by default', () => {
      const dev = buildApp({ bundle: false });
      expect([dev.data, dev.serving, dev.workflow, dev.api].map((s) => s.stackName)).toEqual([
        'Merlin-dev-Data',
        'Merlin-dev-Serving',
        'Merlin-dev-Workflow',
        'Merlin-dev-Api',
      ]);
      const prod = buildApp({ stage: 'prod', bundle: false });
      expect(prod.api.stackName).toBe('Merlin-prod-Api');
      const assembly = prod.app.synth();
      const dependencies = (name: string) =>
        assembly
          .getStackByName(name)
          .dependencies.map((d) => d.id)
          .filter((id) => !id.endsWith('.assets'))
          .sort();
      expect(dependencies('Merlin-prod-Serving')).toEqual(['Merlin-prod-Data']);
      expect(dependencies('Merlin-prod-Workflow')).toEqual(['Merlin-prod-Data', 'Merlin-prod-Serving']);
      expect(dependencies('Merlin-prod-Api')).toEqual(['Merlin-prod-Data', 'Merlin-prod-Workflow']);
    });

    it('should fail synth on a stage that cannot name resources', () => {
      expect(() => buildApp({ stage: 'Prod_1', bundle: false })).toThrow(/invalid stage "Prod_1"/);
      expect(() => stageSettings(42)).toThrow(/invalid stage 42/);
    });

    it('should keep and protect data outside dev by default: removal, deletion protection, retention, auth, throttle', () => {
      expect(stageSettings('dev')).toMatchObject({
        removalPolicy: RemovalPolicy.DESTROY,
        deletionProtection: false,
        logRetention: 7,
        authorizer: { type: 'iam' },
        throttle: { rateLimit: 50, burstLimit: 100 },
      });
      for (const stage of ['prod', 'staging']) {
        expect(stageSettings(stage), stage).toMatchObject({
          prefix: `Merlin-${stage}`,
          removalPolicy: RemovalPolicy.RETAIN,
          deletionProtection: true,
          logRetention: 90,
          authorizer: { type: 'iam' },
          throttle: { rateLimit: 200, burstLimit: 400 },
        });
      }
    });

    it('should take a stage from merlin.config.json "stages", the "stages" context (object or JSON) overriding it', () => {
      const file = {
        staging: {
          logRetentionDays: 14,
          authorizer: { type: 'jwt', issuer: 'https://id.example.com', audience: ['merlin'] },
        },
      };
      const fromFile = stageSettings('staging', { file });
      const overridden = stageSettings('staging', {
        file,
        context: JSON.stringify({ staging: { logRetentionDays: 30, throttle: { rateLimit: 10, burstLimit: 20 } } }),
      });

      expect(fromFile).toMatchObject({
        logRetention: 14,
        deletionProtection: true,
        authorizer: { type: 'jwt', issuer: 'https://id.example.com', audience: ['merlin'] },
        throttle: { rateLimit: 200, burstLimit: 400 },
      });
      expect(overridden).toMatchObject({
        logRetention: 30,
        authorizer: { type: 'jwt' },
        throttle: { rateLimit: 10, burstLimit: 20 },
      });
      expect(stageSettings('prod', { file }).logRetention).toBe(90);
    });

    it('should refuse an invalid stage config, naming where it came from and the field', () => {
      expect(() => stageSettings('prod', { file: { prod: { logRetentionDays: 10 } } })).toThrow(
        /^merlin\.config\.json stages: prod\.logRetentionDays: must be one of 1, 3, 5, 7/,
      );
      expect(() =>
        stageSettings('prod', {
          file: { prod: { authorizer: { type: 'jwt', issuer: 'http://id', audience: ['a'] } } },
        }),
      ).toThrow(/prod\.authorizer\.issuer: must be the https URL of the OIDC issuer/);
      expect(() => stageSettings('prod', { file: { prod: { authorizer: { type: 'none' } } } })).toThrow(
        /prod\.authorizer/,
      );
      expect(() => stageSettings('prod', { context: { prod: { throttle: { rateLimit: 0, burstLimit: 1 } } } })).toThrow(
        /^the "stages" context: prod\.throttle\.rateLimit/,
      );
      expect(() => stageSettings('prod', { context: { prod: { retain: true } } })).toThrow(/Unrecognized key/);
      expect(() => stageSettings('prod', { context: '{' })).toThrow(/^the "stages" context: not valid JSON/);
      expect(() => buildApp({ config: { environments: DEFAULT_ENVIRONMENTS, stages: [] }, bundle: false })).toThrow(
        ConfigError,
      );
    });

    it('should read the stage settings the CDK CLI passes as context (-c stage=prod -c stages=...)', () => {
      const app = newApp({ bundle: false });
      app.node.setContext('stages', JSON.stringify({ prod: { deletionProtection: false } }));
      const built = buildApp({ app, stage: 'prod' });
      Template.fromStack(built.data).hasResourceProperties('AWS::DynamoDB::Table', {
        DeletionProtectionEnabled: false,
      });
    });
  });

  describe('environments config', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'merlin-infra-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('should fall back to the single local environment without merlin.config.json', () => {
      expect(readMerlinConfig(dir)).toEqual({ environments: DEFAULT_ENVIRONMENTS });
    });

    it('should read {"environments": [...]} from merlin.config.json', () => {
      writeFileSync(path.join(dir, 'merlin.config.json'), JSON.stringify(EKS_CONFIG));
      expect(readMerlinConfig(dir)).toEqual(EKS_CONFIG);
    });

    it('should read the "stages" of merlin.config.json too', () => {
      const stages = { prod: { throttle: { rateLimit: 100, burstLimit: 200 } } };
      writeFileSync(path.join(dir, 'merlin.config.json'), JSON.stringify({ ...EKS_CONFIG, stages }));
      expect(readMerlinConfig(dir)).toEqual({ ...EKS_CONFIG, stages });
    });

    it('should fail with the file named on malformed JSON or a wrong shape', () => {
      writeFileSync(path.join(dir, 'merlin.config.json'), '{"environments": [');
      expect(() => readMerlinConfig(dir)).toThrow(/^merlin.config.json: not valid JSON/);
      writeFileSync(path.join(dir, 'merlin.config.json'), '[]');
      expect(() => readMerlinConfig(dir)).toThrow(
        /^merlin.config.json: expected an object \{"environments": \[...\]\}/,
      );
    });

    it('should fail synth with the offending field when the config is invalid', () => {
      const twoDefaults = {
        environments: [
          { name: 'a', isDefault: true },
          { name: 'b', isDefault: true },
        ],
      };
      expect(() => buildApp({ config: twoDefaults, configSource: 'merlin.config.json', bundle: false })).toThrow(
        /^merlin.config.json: invalid environments config: .*exactly one environment may be the default/,
      );
      expect(() => environmentsJson({ environments: [{ name: 'gpu', cluster: { kind: 'eks' } }] })).toThrow(
        /invalid environments config: 0\.cluster\.eksClusterName/,
      );
      expect(() => environmentsJson({ environments: [] })).toThrow(/declare at least one environment/);
      // infra/app.ts prints a ConfigError's message alone, without a stack trace.
      expect(() => environmentsJson({ environments: [] })).toThrow(ConfigError);
    });

    it('should fail synth when the environments would not fit in a function environment', () => {
      const many = { environments: Array.from({ length: 12 }, (_, i) => ({ name: `env-${i}` })) };
      expect(() => environmentsJson(many)).toThrow(/Lambda's 4 KB limit/);
    });

    it('should pass the validated environments, with servingUrl filled in, to every function', () => {
      const { api, workflow } = buildApp({ config: EKS_CONFIG, bundle: false });
      const fns = [...Object.values(api.functions), ...Object.values(workflow.functions)];
      const templates = new Map<Stack, Template>([api, workflow].map((stack) => [stack, Template.fromStack(stack)]));
      const values = new Set(
        fns.map((fn) => {
          return variablesOf(templates.get(Stack.of(fn))!, fn).MERLIN_ENVIRONMENTS as string;
        }),
      );
      expect(values.size).toBe(1);
      const [value] = values;
      // Functions parse it with no fallback URL (functions/shared/container.ts).
      const parsed = new Environments(JSON.parse(value ?? ''));
      expect(parsed.all.map((e) => [e.name, e.servingUrl, e.isDefault])).toEqual([
        ['local', placeholderServingUrl('local'), false],
        ['staging', 'https://serving.staging.example.com', true],
      ]);
      expect(parsed.get('staging').cluster).toEqual({ kind: 'eks', eksClusterName: 'ml-staging', region: 'eu-west-1' });
    });
  });

  describe('MerlinFunction', () => {
    it('should fail synth when a function misses a variable of the environment contract', () => {
      const stack = new Stack(newApp({ bundle: false }), 'Incomplete');
      new MerlinFunction(stack, 'Health', {
        entry: 'functions/api/get-health.ts',
        environment: { TABLE_NAME: 'table' },
        logRetention: stageSettings('dev').logRetention,
        logRemovalPolicy: RemovalPolicy.DESTROY,
      });
      expect(() => Template.fromStack(stack)).toThrow(
        /environment contract .* missing: ARTIFACT_BUCKET, DEPLOY_VERSION_STATE_MACHINE_ARN, UNDEPLOY_VERSION_STATE_MACHINE_ARN, UPDATE_ROUTE_STATE_MACHINE_ARN, MERLIN_ENVIRONMENTS$/m,
      );
    });

    it('should refuse at synth to bind a secrets key, image repository or clusters to a bundle without that client', () => {
      const stack = new Stack(newApp({ bundle: false }), 'Clients');
      const props = {
        entry: 'functions/api/get-health.ts',
        logRetention: stageSettings('dev').logRetention,
        logRemovalPolicy: RemovalPolicy.DESTROY,
      };
      const bare = new MerlinFunction(stack, 'Bare', props);
      const withKms = new MerlinFunction(stack, 'WithKms', { ...props, awsClients: { kms: true } });
      const key = new kms.Key(stack, 'Key');

      expect(bare.awsClients).toEqual({ eks: false, kms: false, ecr: false });
      expect(() => bindSecretsKey(bare, key, 'decrypt')).toThrow(/Clients\/Bare: the secrets key needs the KMS client/);
      expect(() => grantClusterAccess(bare, [])).toThrow(/cluster access needs the EKS client/);
      expect(() => bindSecretsKey(withKms, key, 'decrypt')).not.toThrow();
      expect(awsClientDefines({ eks: false, kms: true, ecr: false })).toEqual({
        'globalThis.MERLIN_WITHOUT_EKS': 'true',
        'globalThis.MERLIN_WITHOUT_ECR': 'true',
      });
    });

    it('should merge the environment over the defaults and keep defaults for undefined overrides', () => {
      const stack = new Stack(newApp({ bundle: false }), 'Merged');
      const fn = new MerlinFunction(stack, 'Health', {
        entry: 'functions/api/get-health.ts',
        environment: { EXTRA: '1', NODE_OPTIONS: '--enable-source-maps --max-old-space-size=400' },
        timeout: undefined,
        memorySize: 1024,
        logRetention: stageSettings('dev').logRetention,
        logRemovalPolicy: RemovalPolicy.DESTROY,
      });
      const cfn = stack.resolve((fn.node.defaultChild as unknown as { environment: unknown }).environment) as {
        variables: Record<string, string>;
      };
      expect(cfn.variables).toEqual({
        NODE_OPTIONS: '--enable-source-maps --max-old-space-size=400',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        EXTRA: '1',
      });
      expect(stack.resolve(fn.timeout?.toSeconds())).toBe(30);
      expect((fn.node.defaultChild as unknown as { memorySize: number }).memorySize).toBe(1024);
    });
  });
});
