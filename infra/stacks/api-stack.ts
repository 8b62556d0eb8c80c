import { CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { WorkflowName } from '../../core/ports.js';
import { API_ROUTES, ROUTE_GROUPS, type RouteEntry, type RouteGroup } from '../../functions/api/routes.js';
import { acknowledge } from '../acknowledgments.js';
import { eksClusters, type StageSettings } from '../config.js';
import {
  type ArtifactAccess,
  artifactsBucket,
  bindBucket,
  bindEnvironments,
  bindSecretsKey,
  bindStage,
  bindStateMachines,
  bindTable,
  grantClusterAccess,
  nameStateMachines,
} from '../constructs/bindings.js';
import { MerlinDashboard } from '../constructs/dashboard.js';
import { MerlinFunction } from '../constructs/merlin-function.js';
import { eksClusterArns } from '../constructs/service-tasks.js';
import { pascalCase, routeId } from '../naming.js';

/**
 * JSON access log lines with HTTP API context variables (the CDK default format uses REST API ones), including who
 * called: an audit trail of the control plane.
 */
const ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    httpMethod: '$context.httpMethod',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    // Who called: the IAM principal (iam authorizer) or the token subject (jwt), and why an authorizer refused.
    caller: '$context.identity.userArn',
    subject: '$context.authorizer.claims.sub',
    authorizerError: '$context.authorizer.error',
  }),
);

export interface ApiStackProps extends StackProps {
  settings: StageSettings;
  table: dynamodb.ITable;
  bucket: s3.IBucket;
  stateMachines: Record<WorkflowName, sfn.IStateMachine>;
  /** The key secret values are encrypted under (DataStack.secretsKey). */
  secretsKey: kms.IKey;
  /** MERLIN_ENVIRONMENTS (infra/config.ts environmentsJson). */
  environmentsJson: string;
  /** Extra bundling options for every function (tests ask for esbuild metafiles). */
  bundling?: BundlingOptions;
}

/** The authorizer every route but the health check uses (stage config `authorizer`). */
const routeAuthorizer = (settings: StageSettings): apigwv2.IHttpRouteAuthorizer => {
  const config = settings.authorizer;
  if (config.type === 'jwt') {
    return new HttpJwtAuthorizer('JwtAuthorizer', config.issuer, {
      authorizerName: `${settings.prefix}-jwt`,
      jwtAudience: config.audience,
    });
  }
  return new HttpIamAuthorizer();
};

/** Route groups whose function reads from clusters (model-server logs): they describe the EKS clusters, nothing more. */
export const READS_CLUSTERS: readonly RouteGroup[] = ROUTE_GROUPS.filter((g) =>
  API_ROUTES.some((r) => r.group === g && r.readsClusters),
);

/** Routes anyone may call: the health check (no data, no dependencies). */
export const PUBLIC_ROUTES: readonly string[] = ['GET /healthz'];

/**
 * The control-plane API (DESIGN §4): an HTTP API with one route per API_ROUTES entry, behind the stage's authorizer
 * (IAM or JWT) and throttling, with JSON access logs. One function per route group (functions/api/groups/<group>.ts),
 * allowed exactly what its routes declare in API_ROUTES: table items always, the artifacts prefix of the bucket
 * (and its key) if a route touches artifacts, StartExecution if one starts workflows, KMS data keys if one encrypts
 * secrets, DescribeCluster on the configured clusters if one reads from clusters.
 */
export class ApiStack extends Stack {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  /** By route group. */
  readonly functions: Record<RouteGroup, MerlinFunction>;
  readonly url: string;
  /** The stage's CloudWatch dashboard (API, deployments, workflows). */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const authorizer = routeAuthorizer(settings);
    const bucket = artifactsBucket(this, settings.stage, props.bucket);

    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${settings.prefix}-api`,
      description: `Merlin ${settings.stage} control-plane API`,
      createDefaultStage: false,
      defaultAuthorizer: authorizer,
      ...(settings.authorizer.type === 'jwt' &&
        settings.authorizer.scopes && { defaultAuthorizationScopes: settings.authorizer.scopes }),
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
      throttle: settings.throttle,
    });

    const stateMachineArns = Object.fromEntries(
      Object.entries(props.stateMachines).map(([w, m]) => [w, m.stateMachineArn]),
    ) as Record<WorkflowName, string>;
    const clusterArns = eksClusterArns(this, eksClusters(props.environmentsJson));
    const functions = {} as Record<RouteGroup, MerlinFunction>;
    for (const group of ROUTE_GROUPS) {
      const routes = API_ROUTES.filter((r) => r.group === group);
      const fn = new MerlinFunction(this, `${pascalCase(group)}Function`, {
        entry: `functions/api/groups/${group}.ts`,
        description: `Merlin ${settings.stage} API ${group}: ${routes.map((r) => r.entry).join(', ')}`.slice(0, 256),
        bundling: props.bundling,
        logRetention: settings.logRetention,
        logRemovalPolicy: settings.removalPolicy,
        awsClients: {
          eks: routes.some((r) => r.readsClusters),
          kms: routes.some((r) => r.encryptsSecrets),
        },
      });
      // A group whose routes all read gets no table writes; artifacts as its routes declare them.
      bindTable(fn, props.table, routes.every((r) => r.method === 'GET') ? 'read' : 'readWrite');
      bindBucket(fn, bucket, artifactAccess(routes));
      if (routes.some((r) => r.startsWorkflow)) bindStateMachines(fn, props.stateMachines);
      else nameStateMachines(fn, stateMachineArns);
      if (routes.some((r) => r.encryptsSecrets)) bindSecretsKey(fn, props.secretsKey, 'encrypt');
      bindEnvironments(fn, props.environmentsJson);
      bindStage(fn, settings.stage);
      if (routes.some((r) => r.readsClusters)) grantClusterAccess(fn, clusterArns);
      functions[group] = fn;

      for (const route of routes) {
        const isPublic = PUBLIC_ROUTES.includes(`${route.method} ${route.path}`);
        const added = this.api.addRoutes({
          path: route.path,
          methods: [apigwv2.HttpMethod[route.method]],
          integration: new HttpLambdaIntegration(`${routeId(route.method, route.path)}Integration`, fn),
          // No scopes either: API Gateway refuses authorization scopes on a route without a JWT authorizer.
          ...(isPublic && { authorizer: new apigwv2.HttpNoneAuthorizer(), authorizationScopes: [] }),
        });
        if (isPublic) {
          for (const r of added) {
            acknowledge(
              r,
              'AwsSolutions-APIG4',
              'The health check is public on purpose (load balancers, uptime probes): it answers {"status":"ok"} without reading any data or calling any dependency; every other route requires the stage authorizer.',
            );
          }
        }
      }
    }
    this.functions = functions;

    this.dashboard = new MerlinDashboard(this, 'Dashboard', {
      stage: settings.stage,
      dashboardName: `${settings.prefix}`,
      api: this.api,
      functions,
      stateMachines: props.stateMachines,
    }).dashboard;

    this.url = this.stage.url;
    new CfnOutput(this, 'ApiUrl', { value: this.url, description: 'Base URL of the Merlin API (append /v1/...)' });
    new CfnOutput(this, 'ClusterAccessRoleArns', {
      value: Fn.join(
        ' ',
        READS_CLUSTERS.map((g) => functions[g].role!.roleArn),
      ),
      description:
        'IAM roles of the API functions that read from clusters: each needs an access entry in every EKS cluster',
    });
  }
}

/** The artifact access a group needs: the most its routes declare (RouteEntry.artifacts). */
export const artifactAccess = (routes: readonly RouteEntry[]): ArtifactAccess => {
  if (routes.some((r) => r.artifacts === 'readWrite')) return 'readWrite';
  return routes.some((r) => r.artifacts === 'delete') ? 'delete' : 'none';
};
