import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RouteGroup } from '../../functions/api/routes.js';
import { WORKFLOW_TASKS, type WorkflowTaskKey } from '../../functions/workflow/tasks.js';
import { buildApp, type MerlinApp } from '../../infra/build-app.js';
import type { MerlinConfig } from '../../infra/config.js';
import type { MerlinFunction } from '../../infra/constructs/merlin-function.js';
import { READS_CLUSTERS } from '../../infra/stacks/api-stack.js';
import { REACHES_CLUSTERS } from '../../infra/stacks/workflow-stack.js';
import {
  actionsOf,
  logicalId,
  resource,
  resources,
  resourcesOf,
  roleIdOf,
  roleStatements,
  type Statement,
} from './template-helpers.js';

const TASKS = Object.keys(WORKFLOW_TASKS) as WorkflowTaskKey[];

/** Two EKS clusters in two regions; a third environment shares the first cluster (one ARN, not two). */
const TWO_CLUSTERS: MerlinConfig = {
  environments: [
    { name: 'local', cluster: { kind: 'local' } },
    {
      name: 'staging',
      cluster: { kind: 'eks', eksClusterName: 'ml-staging', region: 'eu-west-1' },
      servingUrl: 'https://serving.staging.example.com/',
    },
    {
      name: 'canary',
      cluster: { kind: 'eks', eksClusterName: 'ml-staging', region: 'eu-west-1', namespacePrefix: 'canary-' },
      servingUrl: 'https://serving.canary.example.com/',
    },
    {
      name: 'production',
      isDefault: true,
      cluster: { kind: 'eks', eksClusterName: 'ml-prod', region: 'us-east-1' },
      servingUrl: 'https://serving.example.com/',
    },
  ],
};
const CLUSTER_ARNS = [
  'arn:aws:eks:eu-west-1:<account>:cluster/ml-staging',
  'arn:aws:eks:us-east-1:<account>:cluster/ml-prod',
];

/** An ARN as CloudFormation renders it (`Fn::Join` over the partition and account), with those two spelled out. */
const arnText = (value: unknown): string => {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(arnText).join(join[0]);
  const ref = (value as { Ref?: string }).Ref;
  if (ref === 'AWS::Partition') return 'aws';
  if (ref === 'AWS::AccountId') return '<account>';
  throw new Error(`not an ARN: ${JSON.stringify(value)}`);
};

const statementsOf = (template: Template, fn: MerlinFunction): Statement[] =>
  roleStatements(template, roleIdOf(resource(template, logicalId(fn)).Properties.Role));
const eksStatements = (template: Template, fn: MerlinFunction) =>
  statementsOf(template, fn).filter((s) => actionsOf(s).some((a) => a.startsWith('eks:') || a === '*'));

/** Who may reach the environments' EKS clusters: `eks:DescribeCluster`, on exactly those clusters, for exactly the functions that talk to them. */
describe('EKS access of the functions (DescribeCluster on the configured clusters only)', () => {
  let built: MerlinApp;
  let workflow: Template;
  let api: Template;
  beforeAll(() => {
    built = buildApp({ stage: 'prod', bundle: false, config: TWO_CLUSTERS });
    workflow = Template.fromStack(built.workflow);
    api = Template.fromStack(built.api);
  });

  it('should let each workflow task that reaches clusters describe exactly the two configured clusters', () => {
    for (const key of REACHES_CLUSTERS) {
      const statements = eksStatements(workflow, built.workflow.functions[key]);
      expect(statements, key).toHaveLength(1);
      expect(actionsOf(statements[0]!), key).toEqual(['eks:DescribeCluster']);
      expect(resourcesOf(statements[0]!).map(arnText).sort(), key).toEqual(CLUSTER_ARNS);
    }
  });

  it('should give the other workflow tasks no EKS access at all', () => {
    const others = TASKS.filter((key) => !REACHES_CLUSTERS.includes(key));
    expect(others).toEqual(expect.arrayContaining(['PrepareDeployment', 'FinalizeUndeploy', 'FinalizeRoute']));
    for (const key of others) expect(eksStatements(workflow, built.workflow.functions[key]), key).toEqual([]);
  });

  it('should let only the group of the logs route describe the clusters, and the same two', () => {
    expect(READS_CLUSTERS).toEqual(['endpoints']);
    for (const [group, fn] of Object.entries(built.api.functions)) {
      const statements = eksStatements(api, fn);
      if (READS_CLUSTERS.includes(group as RouteGroup)) {
        expect(statements.flatMap(actionsOf), group).toEqual(['eks:DescribeCluster']);
        expect(statements.flatMap(resourcesOf).map(arnText).sort(), group).toEqual(CLUSTER_ARNS);
      } else expect(statements, group).toEqual([]);
    }
  });

  it('should grant no other EKS action and no EKS access on "*", in any policy of any stack', () => {
    for (const stack of [built.data, built.serving, built.workflow, built.api]) {
      for (const policy of Object.values(resources(Template.fromStack(stack), 'AWS::IAM::Policy'))) {
        for (const s of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
          const eks = actionsOf(s).filter((a) => a.startsWith('eks:'));
          if (eks.length === 0) continue;
          expect(eks).toEqual(['eks:DescribeCluster']);
          expect(resourcesOf(s)).not.toContain('*');
        }
      }
    }
  });

  it('should output the roles that need an access entry in each cluster (docs/eks.md)', () => {
    /** The role logical ids in a space-joined output (CloudFormation keeps a single one unjoined). */
    const roles = (template: Template, output: string): string[] => {
      const value = (template.toJSON().Outputs as Record<string, { Value: Record<string, unknown> }>)[output]!.Value;
      const parts = (value['Fn::Join'] as [string, unknown[]] | undefined)?.[1] ?? [value];
      return (parts as { 'Fn::GetAtt': [string, string] }[]).map((r) => r['Fn::GetAtt'][0]);
    };
    const roleOf = (template: Template, fn: MerlinFunction) =>
      roleIdOf(resource(template, logicalId(fn)).Properties.Role);

    expect(roles(workflow, 'ClusterAccessRoleArns')).toEqual(
      REACHES_CLUSTERS.map((key) => roleOf(workflow, built.workflow.functions[key])),
    );
    expect(roles(api, 'ClusterAccessRoleArns')).toEqual(
      READS_CLUSTERS.map((group) => roleOf(api, built.api.functions[group])),
    );
  });

  it('should grant nothing on EKS when every environment is local', () => {
    const local = buildApp({ bundle: false });
    for (const [template, fns] of [
      [Template.fromStack(local.workflow), Object.values(local.workflow.functions)],
      [Template.fromStack(local.api), Object.values(local.api.functions)],
    ] as const) {
      for (const fn of fns) expect(eksStatements(template, fn)).toEqual([]);
    }
  });
});
