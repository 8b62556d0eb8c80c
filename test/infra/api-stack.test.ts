import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENVIRONMENTS } from '../../core/environments.js';
import type { WorkflowName } from '../../core/ports.js';
import { API_ROUTES, ROUTE_GROUPS, type RouteGroup } from '../../functions/api/routes.js';
import { STATE_MACHINE_ENV } from '../../functions/shared/env.js';
import { buildApp, type MerlinApp } from '../../infra/build-app.js';
import { REPO_ROOT } from '../../infra/config.js';
import { TABLE_ACTIONS } from '../../infra/constructs/bindings.js';
import { PUBLIC_ROUTES } from '../../infra/stacks/api-stack.js';
import { expectMerlinDefaults } from './function-assertions.js';
import {
  actionsOf,
  followReference,
  logicalId,
  resource,
  resources,
  resourcesOf,
  roleIdOf,
  roleStatements,
  type Statement,
  variablesOf,
} from './template-helpers.js';

const GROUPS = [...ROUTE_GROUPS];
const routesOf = (group: RouteGroup) => API_ROUTES.filter((r) => r.group === group);

describe('ApiStack', () => {
  let built: MerlinApp;
  let template: Template;
  let producers: Record<string, Template>;
  beforeAll(() => {
    built = buildApp({ stage: 'dev', bundle: false });
    template = Template.fromStack(built.api);
    producers = {
      [built.data.stackName]: Template.fromStack(built.data),
      [built.workflow.stackName]: Template.fromStack(built.workflow),
    };
  });

  const stateMachineRefs = (): string[] =>
    Object.values(built.workflow.stateMachines)
      .map((sm) => JSON.stringify({ Ref: logicalId(sm) }))
      .sort();
  const statementsOf = (group: RouteGroup): Statement[] =>
    roleStatements(template, roleIdOf(resource(template, logicalId(built.api.functions[group])).Properties.Role));

  describe('routes', () => {
    it('should be one HTTP API with a route for every API_ROUTES entry, and no other', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
      const routeKeys = Object.values(resources(template, 'AWS::ApiGatewayV2::Route'))
        .map((r) => r.Properties.RouteKey)
        .sort();
      expect(routeKeys).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    });

    it('should integrate each route with the function of its group', () => {
      const routes = Object.values(resources(template, 'AWS::ApiGatewayV2::Route'));
      for (const route of API_ROUTES) {
        const cfnRoute = routes.find((r) => r.Properties.RouteKey === `${route.method} ${route.path}`);
        const target = JSON.stringify(cfnRoute?.Properties.Target);
        const integrationId = /"Ref":"([A-Za-z0-9]+)"/.exec(target)?.[1] ?? '';
        const integration = resource(template, integrationId).Properties;
        expect(integration.IntegrationType).toBe('AWS_PROXY');
        expect(integration.PayloadFormatVersion).toBe('2.0');
        expect(integration.IntegrationUri, route.entry).toEqual({
          'Fn::GetAtt': [logicalId(built.api.functions[route.group]), 'Arn'],
        });
      }
    });

    it('should serve the $default stage with auto-deploy, JSON access logs with a retention, and output the API URL', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default', AutoDeploy: true });
      const stage = Object.values(resources(template, 'AWS::ApiGatewayV2::Stage'))[0]!;
      const settings = stage.Properties.AccessLogSettings as {
        DestinationArn: { 'Fn::GetAtt': [string, string] };
        Format: string;
      };
      const logGroup = resource(template, settings.DestinationArn['Fn::GetAtt'][0]);
      expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
      expect(logGroup.Properties.RetentionInDays).toBe(7);
      expect(JSON.parse(settings.Format)).toMatchObject({
        requestId: '$context.requestId',
        routeKey: '$context.routeKey',
        status: '$context.status',
        caller: '$context.identity.userArn',
        subject: '$context.authorizer.claims.sub',
        authorizerError: '$context.authorizer.error',
      });
      template.hasOutput('ApiUrl', {});
    });

    it('should throttle every route of the stage with the stage config (dev: 50 rps, bursts of 100)', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      });
      const custom = buildApp({
        stage: 'prod',
        bundle: false,
        config: { environments: DEFAULT_ENVIRONMENTS, stages: { prod: { throttle: { rateLimit: 5, burstLimit: 9 } } } },
      });
      Template.fromStack(custom.api).hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 9 },
      });
    });
  });

  describe('authorizer', () => {
    const authorizationOf = (t: Template) =>
      Object.fromEntries(
        Object.values(resources(t, 'AWS::ApiGatewayV2::Route')).map((r) => [
          r.Properties.RouteKey as string,
          r.Properties.AuthorizationType ?? 'NONE',
        ]),
      );

    it('should require IAM (SigV4) on every route but the public health check by default', () => {
      const auth = authorizationOf(template);
      expect(PUBLIC_ROUTES).toEqual(['GET /healthz']);
      for (const r of API_ROUTES) {
        const key = `${r.method} ${r.path}`;
        expect(auth[key], key).toBe(PUBLIC_ROUTES.includes(key) ? 'NONE' : 'AWS_IAM');
      }
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
    });

    it('should use a JWT authorizer with the issuer and audience of the stage config', () => {
      const jwt = buildApp({
        stage: 'prod',
        bundle: false,
        config: {
          environments: DEFAULT_ENVIRONMENTS,
          stages: {
            prod: {
              authorizer: {
                type: 'jwt',
                issuer: 'https://login.example.com/realms/ml',
                audience: ['merlin-api'],
                scopes: ['merlin/api'],
              },
            },
          },
        },
      });
      const t = Template.fromStack(jwt.api);
      t.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
      t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
        JwtConfiguration: { Issuer: 'https://login.example.com/realms/ml', Audience: ['merlin-api'] },
      });
      const auth = authorizationOf(t);
      for (const r of API_ROUTES) {
        const key = `${r.method} ${r.path}`;
        expect(auth[key], key).toBe(PUBLIC_ROUTES.includes(key) ? 'NONE' : 'JWT');
      }
      const scoped = Object.values(resources(t, 'AWS::ApiGatewayV2::Route')).filter(
        (r) => r.Properties.AuthorizationType === 'JWT',
      );
      for (const r of scoped) expect(r.Properties.AuthorizationScopes).toEqual(['merlin/api']);
      // API Gateway refuses scopes on a route without a JWT authorizer (the deploy would fail).
      const open = Object.values(resources(t, 'AWS::ApiGatewayV2::Route')).filter(
        (r) => r.Properties.AuthorizationType === 'NONE',
      );
      expect(open).toHaveLength(PUBLIC_ROUTES.length);
      for (const r of open) expect(r.Properties).not.toHaveProperty('AuthorizationScopes');
    });
  });

  describe('functions', () => {
    it('should build one function per route group from functions/api/groups/<group>.ts', () => {
      template.resourceCountIs('AWS::Lambda::Function', GROUPS.length);
      expect(GROUPS.length).toBeLessThan(API_ROUTES.length / 4);
      for (const group of GROUPS) {
        expect(routesOf(group).length, group).toBeGreaterThan(0);
        expect(built.api.functions[group].entry).toBe(path.join(REPO_ROOT, 'functions/api/groups', `${group}.ts`));
      }
    });

    it('should give every function the Merlin defaults (Node 22, arm64, X-Ray, logs, contract variables)', () => {
      for (const group of GROUPS) expectMerlinDefaults(template, built.api.functions[group]);
    });

    it('should tell every function its stage (the metrics dimension) and the ARN of each state machine', () => {
      for (const group of GROUPS) {
        const variables = variablesOf(template, built.api.functions[group]);
        expect(variables.MERLIN_STAGE, group).toBe('dev');
        for (const [workflow, name] of Object.entries(STATE_MACHINE_ENV) as [WorkflowName, string][]) {
          expect(followReference(variables[name], producers), `${group} ${name}`).toEqual({
            Ref: logicalId(built.workflow.stateMachines[workflow]),
          });
        }
      }
    });

    it('should let every function use the items of the table and its index only, with no scan, batch or admin action', () => {
      const table = logicalId(built.data.table);
      const readOnly = GROUPS.filter((g) => routesOf(g).every((r) => r.method === 'GET'));
      expect(readOnly.sort()).toEqual(['endpoints', 'meta']);
      for (const group of GROUPS) {
        const dynamo = statementsOf(group).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
        expect(dynamo, group).toHaveLength(1);
        expect(actionsOf(dynamo[0]!).sort(), group).toEqual(
          readOnly.includes(group) ? ['dynamodb:GetItem', 'dynamodb:Query'] : [...TABLE_ACTIONS].sort(),
        );
        const targets = resourcesOf(dynamo[0]!).map((r) => JSON.stringify(followReference(r, producers)));
        expect(targets, group).toEqual([
          JSON.stringify({ 'Fn::GetAtt': [table, 'Arn'] }),
          expect.stringContaining('/index/GSI1'),
        ]);
      }
    });

    it('should let only groups with artifact routes touch the bucket, and only objects under artifacts/', () => {
      const withArtifacts = GROUPS.filter((g) => routesOf(g).some((r) => r.artifacts));
      expect(withArtifacts.sort()).toEqual(['models', 'projects', 'versions']);
      // projects and models only cascade deletes; versions also presigns uploads and downloads.
      const deleteOnly = ['models', 'projects'];
      for (const group of GROUPS) {
        const statements = statementsOf(group);
        const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
        const kms = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
        if (!withArtifacts.includes(group)) {
          expect(s3, group).toEqual([]);
          continue;
        }
        expect(s3.flatMap(actionsOf).sort(), group).toEqual(
          deleteOnly.includes(group)
            ? ['s3:DeleteObject', 's3:ListBucket']
            : ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
        );
        for (const s of s3) {
          const text = JSON.stringify(s.Resource);
          if (actionsOf(s).includes('s3:ListBucket')) {
            expect((s as Statement & { Condition?: unknown }).Condition).toEqual({
              StringLikeIfExists: { 's3:prefix': ['artifacts/*'] },
            });
          } else expect(text, group).toMatch(/\/artifacts\/\*"\]\]\}$/);
        }
        // The bucket key, through S3 only, for exactly the data keys presigned PUT/GET need; none to delete.
        const keyUse = kms.filter((s) => JSON.stringify(s).includes('kms:ViaService'));
        if (deleteOnly.includes(group)) {
          expect(keyUse, group).toEqual([]);
          continue;
        }
        expect(keyUse.flatMap(actionsOf).sort(), group).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
        expect(followReference(resourcesOf(keyUse[0]!)[0], producers), group).toEqual({
          'Fn::GetAtt': [logicalId(built.data.artifactsKey), 'Arn'],
        });
      }
    });

    it('should let only the deployments group start executions, exactly the three state machines', () => {
      const starters = GROUPS.filter((g) => routesOf(g).some((r) => r.startsWorkflow));
      expect(starters).toEqual(['deployments']);
      expect(
        routesOf('deployments')
          .map((r) => r.entry)
          .sort(),
      ).toEqual([
        'delete-model-endpoint',
        'deploy-version',
        'put-model-endpoint',
        'redeploy-version',
        'undeploy-version',
      ]);
      for (const group of GROUPS) {
        const statements = statementsOf(group);
        expect(statements.flatMap(actionsOf), group).not.toContain('*');
        const states = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('states:')));
        for (const s of states) expect(actionsOf(s), group).toEqual(['states:StartExecution']);
        const started = states
          .flatMap(resourcesOf)
          .map((r) => JSON.stringify(followReference(r, producers)))
          .sort();
        expect(started, group).toEqual(starters.includes(group) ? stateMachineRefs() : []);
      }
    });

    it('should give each function a role of its own that writes its own log group, with no managed policy', () => {
      const roles = new Set<string>();
      for (const group of GROUPS) {
        const fn = resource(template, logicalId(built.api.functions[group])).Properties;
        const roleId = roleIdOf(fn.Role);
        roles.add(roleId);
        expect(resource(template, roleId).Properties.ManagedPolicyArns, group).toBeUndefined();
        const logs = statementsOf(group).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
        expect(logs.flatMap(actionsOf).sort(), group).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
        const logGroupRef = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        expect(logs.flatMap(resourcesOf), group).toEqual([{ 'Fn::GetAtt': [logGroupRef, 'Arn'] }]);
      }
      expect(roles.size).toBe(GROUPS.length);
    });
  });

  describe('dashboard', () => {
    it('should have one dashboard named after the stage with API, deployment and workflow widgets', () => {
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      const dashboard = Object.values(resources(template, 'AWS::CloudWatch::Dashboard'))[0]!;
      expect(dashboard.Properties.DashboardName).toBe('Merlin-dev');
      const body = JSON.stringify(dashboard.Properties.DashboardBody);
      for (const title of ['API latency (ms)', 'API errors', 'Deployments', 'Workflow duration (ms, p90)']) {
        expect(body).toContain(title);
      }
      for (const metric of ['DeploymentStarted', 'DeploymentFailed', 'DeploymentSucceeded']) {
        expect(body).toContain(`\\"Merlin\\",\\"${metric}\\",\\"service\\",\\"merlin\\",\\"stage\\",\\"dev\\"`);
      }
      for (const metric of ['Latency', '5xx', '4xx', 'ExecutionTime', 'ExecutionsFailed'])
        expect(body).toContain(metric);
    });
  });
});
