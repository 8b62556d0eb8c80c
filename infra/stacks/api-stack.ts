import { CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { WorkflowName } from '../../core/ports.js';
import { API_ROUTES } from '../../functions/api/routes.js';
import { eksClusters, type StageSettings } from '../config.js';
import {
  bindBucket,
  bindEnvironments,
  bindSecretsKey,
  bindStateMachines,
  bindTable,
  grantClusterAccess,
  nameStateMachines,
} from '../constructs/bindings.js';
import { MerlinFunction } from '../constructs/merlin-function.js';
import { eksClusterArns } from '../constructs/service-tasks.js';
import { pascalCase, routeId } from '../naming.js';

/** Routes whose function reads from clusters (model-server logs): they describe the EKS clusters, nothing more. */
export const READS_CLUSTERS: readonly string[] = ['get-endpoint-logs'];

/** JSON access log lines with HTTP API context variables (the CDK default format uses REST API ones). */
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

/**
 * The control-plane API (DESIGN §4): an HTTP API with one route per API_ROUTES entry, each integrated with its own
 * function built from functions/api/<entry>.ts.
 */
export class ApiStack extends Stack {
  readonly api: apigwv2.HttpApi;
  /** By API_ROUTES entry. */
  readonly functions: Record<string, MerlinFunction>;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { settings } = props;

    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${settings.prefix}-api`,
      description: `Merlin ${settings.stage} control-plane API`,
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    const stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });

    const stateMachineArns = Object.fromEntries(
      Object.entries(props.stateMachines).map(([w, m]) => [w, m.stateMachineArn]),
    ) as Record<WorkflowName, string>;
    const clusterArns = eksClusterArns(this, eksClusters(props.environmentsJson));
    this.functions = {};
    for (const route of API_ROUTES) {
      let fn = this.functions[route.entry];
      if (!fn) {
        fn = new MerlinFunction(this, `${pascalCase(route.entry)}Function`, {
          entry: `functions/api/${route.entry}.ts`,
          description: `Merlin ${settings.stage} API ${route.method} ${route.path}`,
          bundling: props.bundling,
          logRetention: settings.logRetention,
          logRemovalPolicy: settings.removalPolicy,
        });
        bindTable(fn, props.table);
        bindBucket(fn, props.bucket, 'readWrite');
        if (route.startsWorkflow) bindStateMachines(fn, props.stateMachines);
        else nameStateMachines(fn, stateMachineArns);
        if (route.encryptsSecrets) bindSecretsKey(fn, props.secretsKey, 'encrypt');
        bindEnvironments(fn, props.environmentsJson);
        if (READS_CLUSTERS.includes(route.entry)) grantClusterAccess(fn, clusterArns);
        this.functions[route.entry] = fn;
      }
      this.api.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${routeId(route.method, route.path)}Integration`, fn),
      });
    }

    this.url = stage.url;
    new CfnOutput(this, 'ApiUrl', { value: this.url, description: 'Base URL of the Merlin API (append /v1/...)' });
    new CfnOutput(this, 'ClusterAccessRoleArns', {
      value: Fn.join(
        ' ',
        READS_CLUSTERS.flatMap((entry) => this.functions[entry]?.role?.roleArn ?? []),
      ),
      description:
        'IAM roles of the API functions that read from clusters: each needs an access entry in every EKS cluster',
    });
  }
}
