import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, type MerlinApp, newApp } from '../../infra/build-app.js';
import { actionsOf, resources, resourcesOf, type Statement } from './template-helpers.js';

/**
 * cdk-nag 3 (AwsSolutions) is a CDK policy-validation plugin: synth fails when a rule finds a violation that no
 * `Validations.of(construct).acknowledge(...)` covers, and the report lists each one. Zero unacknowledged errors is
 * a synth that succeeds.
 */
interface Violation {
  ruleName: string;
  violatingConstructs: { constructPath: string }[];
}

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** Synthesizes `app` with the AwsSolutions pack; the violations it reports (none: synth succeeded). */
const nagViolations = (app: App): string[] => {
  try {
    app.synth();
    return [];
  } catch (err) {
    const report = /found in: (\S+)/.exec(String((err as Error).message))?.[1];
    if (!report) throw err;
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as { pluginReports: { violations: Violation[] }[] };
    return parsed.pluginReports.flatMap((p) =>
      p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)),
    );
  }
};

const nagApp = (): App => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'merlin-nag-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: newApp({ bundle: false }).node.getAllContext() });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
};

const EKS = {
  environments: [
    { name: 'local', cluster: { kind: 'local' } },
    {
      name: 'prod',
      isDefault: true,
      cluster: { kind: 'eks', eksClusterName: 'ml-prod', region: 'eu-west-1' },
      servingUrl: 'https://serving.example.com',
    },
  ],
};

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['dev', undefined],
    ['prod', undefined],
    ['prod', EKS],
  ] as const)('should report no unacknowledged finding on any stack (stage %s, environments %o)', (stage, config) => {
    const app = nagApp();
    buildApp({ app, stage, ...(config && { config }) });

    expect(nagViolations(app)).toEqual([]);
  });

  it('should catch a violation (the check is live): a bucket without TLS, logs or public access block', () => {
    const app = nagApp();
    new s3.Bucket(new Stack(app, 'Careless'), 'Open', { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ACLS_ONLY });

    const violations = nagViolations(app);

    expect(violations).toEqual(
      expect.arrayContaining([
        'AwsSolutions-S1 at Careless/Open/Resource',
        'AwsSolutions-S10 at Careless/Open/Resource',
      ]),
    );
  });

  describe('acknowledgments', () => {
    const acknowledgments = (built: MerlinApp) =>
      built.app.node.findAll().flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) =>
            Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
              path: c.node.path,
              id: id.replace(/^annotation::/i, ''),
              reason,
            })),
          ),
      );

    it('should justify each one in code and name the exact wildcard for IAM5, never the whole rule', () => {
      const all = acknowledgments(buildApp({ stage: 'prod', bundle: false, config: EKS }));

      expect(all.length).toBeGreaterThan(0);
      expect(new Set(all.map((a) => a.id.replace(/\[.*$/, '')))).toEqual(
        new Set(['AwsSolutions-L1', 'AwsSolutions-IAM5', 'AwsSolutions-APIG4', 'AwsSolutions-CB4']),
      );
      for (const a of all) {
        expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(80);
        if (a.id.startsWith('AwsSolutions-IAM5')) expect(a.id, a.path).toMatch(/^AwsSolutions-IAM5\[Resource::.+\]$/);
      }
      // The only public route is the health check.
      expect(all.filter((a) => a.id === 'AwsSolutions-APIG4').map((a) => a.path)).toEqual([
        'Merlin-prod-Api/HttpApi/GET--healthz',
      ]);
    });

    it('should grant "*" only for actions that have no resource-level permissions (X-Ray, log delivery, ECR login)', () => {
      const built = buildApp({ stage: 'prod', bundle: false, config: EKS });
      const allowedOnStar = new Set([
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
        'ecr:GetAuthorizationToken',
        'logs:CreateLogDelivery',
        'logs:GetLogDelivery',
        'logs:UpdateLogDelivery',
        'logs:DeleteLogDelivery',
        'logs:ListLogDeliveries',
        'logs:PutResourcePolicy',
        'logs:DescribeResourcePolicies',
        'logs:DescribeLogGroups',
      ]);
      let checked = 0;
      for (const stack of [built.data, built.serving, built.workflow, built.api]) {
        const template = Template.fromStack(stack);
        const policies = [
          ...Object.values(resources(template, 'AWS::IAM::Policy')),
          ...Object.values(resources(template, 'AWS::IAM::ManagedPolicy')),
        ];
        for (const policy of policies) {
          for (const s of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
            expect(
              actionsOf(s).filter((a) => a.includes('*')),
              JSON.stringify(s),
            ).toEqual([]);
            if (!resourcesOf(s).includes('*')) continue;
            checked++;
            for (const action of actionsOf(s)) expect(allowedOnStar, action).toContain(action);
          }
        }
      }
      expect(checked).toBeGreaterThan(0);
    });
  });
});
