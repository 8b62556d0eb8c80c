import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { WorkflowName } from '../../core/ports.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/shared/metric-names.js';

export interface MerlinDashboardProps {
  stage: string;
  dashboardName: string;
  api: apigwv2.IHttpApi;
  /** API functions by route group. */
  functions: Record<string, lambda.IFunction>;
  stateMachines: Record<WorkflowName, sfn.IStateMachine>;
}

const PERIOD = Duration.minutes(5);

/**
 * One CloudWatch dashboard per stage: API traffic, latency and errors; the business metrics the handlers emit
 * (functions/shared/observability.ts: namespace Merlin, dimensions service and stage); workflow durations and
 * outcomes; errors and throttles of the API functions.
 */
export class MerlinDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MerlinDashboardProps) {
    super(scope, id);
    const business = (metricName: string, color: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME, stage: props.stage },
        statistic: 'Sum',
        period: PERIOD,
        color,
      });
    const workflows = Object.entries(props.stateMachines) as [WorkflowName, sfn.IStateMachine][];
    const groups = Object.entries(props.functions);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# Merlin ${props.stage}\nControl-plane API, deployments and workflows of the \`${props.stage}\` stage.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests',
        left: [props.api.metricCount({ period: PERIOD, statistic: 'Sum', label: 'requests' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        left: [
          props.api.metricLatency({ period: PERIOD, statistic: 'p50', label: 'p50' }),
          props.api.metricLatency({ period: PERIOD, statistic: 'p99', label: 'p99' }),
          props.api.metricIntegrationLatency({ period: PERIOD, statistic: 'p99', label: 'integration p99' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'API errors',
        left: [
          props.api.metricClientError({ period: PERIOD, statistic: 'Sum', label: '4xx' }),
          props.api.metricServerError({ period: PERIOD, statistic: 'Sum', label: '5xx' }),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Deployments',
        left: [
          business('DeploymentStarted', cloudwatch.Color.BLUE),
          business('DeploymentSucceeded', cloudwatch.Color.GREEN),
          business('DeploymentFailed', cloudwatch.Color.RED),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Workflow duration (ms, p90)',
        left: workflows.map(([name, sm]) => sm.metricTime({ period: PERIOD, statistic: 'p90', label: name })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Workflow executions failed',
        left: workflows.map(([name, sm]) => sm.metricFailed({ period: PERIOD, statistic: 'Sum', label: name })),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API function errors',
        left: groups.map(([group, fn]) => fn.metricErrors({ period: PERIOD, statistic: 'Sum', label: group })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'API function duration (ms, p99)',
        left: groups.map(([group, fn]) => fn.metricDuration({ period: PERIOD, statistic: 'p99', label: group })),
        width: 12,
      }),
    );
  }
}
