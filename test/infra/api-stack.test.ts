import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../core/ports.js';
import { API_ROUTES } from '../../functions/api/routes.js';
import { STATE_MACHINE_ENV } from '../../functions/shared/env.js';
import { buildApp, type MerlinApp } from '../../infra/build-app.js';
import { REPO_ROOT } from '../../infra/config.js';
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
  variablesOf,
} from './template-helpers.js';

const ENTRIES = [...new Set(API_ROUTES.map((r) => r.entry))];

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

  describe('routes', () => {
    it('should be one HTTP API with a route for every API_ROUTES entry, and no other', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
      const routeKeys = Object.values(resources(template, 'AWS::ApiGatewayV2::Route'))
        .map((r) => r.Properties.RouteKey)
        .sort();
      expect(routeKeys).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    });

    it('should integrate each route with the function built from its entry', () => {
      const routes = Object.values(resources(template, 'AWS::ApiGatewayV2::Route'));
      for (const route of API_ROUTES) {
        const cfnRoute = routes.find((r) => r.Properties.RouteKey === `${route.method} ${route.path}`);
        const target = JSON.stringify(cfnRoute?.Properties.Target);
        const integrationId = /"Ref":"([A-Za-z0-9]+)"/.exec(target)?.[1] ?? '';
        const integration = resource(template, integrationId).Properties;
        expect(integration.IntegrationType).toBe('AWS_PROXY');
        expect(integration.PayloadFormatVersion).toBe('2.0');
        expect(integration.IntegrationUri).toEqual({
          'Fn::GetAtt': [logicalId(built.api.functions[route.entry]!), 'Arn'],
        });
      }
    });

    it('should serve the $default stage with auto-deploy and access logs, and output the API URL', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default', AutoDeploy: true });
      const stage = Object.values(resources(template, 'AWS::ApiGatewayV2::Stage'))[0]!;
      const settings = stage.Properties.AccessLogSettings as { DestinationArn: unknown; Format: string };
      expect(settings.DestinationArn).toBeDefined();
      expect(JSON.parse(settings.Format)).toMatchObject({ routeKey: '$context.routeKey', status: '$context.status' });
      template.hasOutput('ApiUrl', {});
    });
  });

  describe('functions', () => {
    it('should build one function per route from functions/api/<entry>.ts', () => {
      expect(ENTRIES).toHaveLength(API_ROUTES.length);
      template.resourceCountIs('AWS::Lambda::Function', ENTRIES.length);
      for (const entry of ENTRIES) {
        expect(built.api.functions[entry]?.entry).toBe(path.join(REPO_ROOT, 'functions/api', `${entry}.ts`));
      }
    });

    it('should give every function the Merlin defaults (Node 22, arm64, X-Ray, logs, contract variables)', () => {
      for (const entry of ENTRIES) expectMerlinDefaults(template, built.api.functions[entry]!);
    });

    it('should tell every function the ARN of each state machine', () => {
      for (const entry of ENTRIES) {
        const variables = variablesOf(template, built.api.functions[entry]!);
        for (const [workflow, name] of Object.entries(STATE_MACHINE_ENV) as [WorkflowName, string][]) {
          expect(followReference(variables[name], producers), `${entry} ${name}`).toEqual({
            Ref: logicalId(built.workflow.stateMachines[workflow]),
          });
        }
      }
    });

    it('should let every function use the table and the bucket, and only the routes that start workflows start exactly the three state machines', () => {
      const starters = new Set(API_ROUTES.filter((r) => r.startsWorkflow).map((r) => r.entry));
      expect([...starters].sort()).toEqual([
        'delete-model-endpoint',
        'deploy-version',
        'put-model-endpoint',
        'redeploy-version',
        'undeploy-version',
      ]);
      for (const entry of ENTRIES) {
        const props = resource(template, logicalId(built.api.functions[entry]!)).Properties;
        const statements = roleStatements(template, roleIdOf(props.Role));
        const actions = statements.flatMap(actionsOf);
        expect(actions, entry).toEqual(
          expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 's3:GetObject*', 's3:PutObject']),
        );
        expect(actions, entry).not.toContain('*');

        const states = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('states:')));
        for (const s of states) expect(actionsOf(s), entry).toEqual(['states:StartExecution']);
        const started = states
          .flatMap(resourcesOf)
          .map((r) => JSON.stringify(followReference(r, producers)))
          .sort();
        expect(started, entry).toEqual(starters.has(entry) ? stateMachineRefs() : []);
      }
    });
  });
});
