import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
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
import { MerlinFunction } from '../../infra/constructs/merlin-function.js';
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

    it('should keep data and logs outside dev only', () => {
      expect(stageSettings('dev').removalPolicy).toBe(RemovalPolicy.DESTROY);
      expect(stageSettings('prod').removalPolicy).toBe(RemovalPolicy.RETAIN);
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
