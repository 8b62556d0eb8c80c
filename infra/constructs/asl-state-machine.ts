import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type ServiceTaskState, taskKeyOfPlaceholder, type WorkflowTaskKey } from '../../functions/workflow/tasks.js';
import { acknowledge, XRAY_REASON } from '../acknowledgments.js';
import { REPO_ROOT } from '../config.js';

const PLACEHOLDER = /\$\{[^}]*\}/g;

export interface AslSubstitutions {
  /** `definitionSubstitutions`: `PrepareDeploymentFunctionArn` → the function's ARN, and the `values` used. */
  substitutions: Record<string, string>;
  /** The task keys the definition names, in order of first use. */
  tasks: WorkflowTaskKey[];
}

/**
 * Maps every `${...}` placeholder of an ASL definition to a task function, or to one of `values` (the parameters of
 * service tasks, e.g. `ImageBuildProjectName`). Only `${<Task>FunctionArn}` placeholders whose task has a function
 * and placeholders with a value exist (the same rule the local runner applies: functions/workflow/tasks.ts); anything
 * else fails synth with the file and placeholder named, rather than a state machine that fails at its first execution.
 */
export const aslSubstitutions = (
  file: string,
  definition: string,
  functions: Partial<Record<WorkflowTaskKey, lambda.IFunction>>,
  values: Readonly<Record<string, string>> = {},
): AslSubstitutions => {
  const substitutions: Record<string, string> = {};
  const tasks: WorkflowTaskKey[] = [];
  const problems: string[] = [];
  for (const placeholder of new Set(definition.match(PLACEHOLDER) ?? [])) {
    const value = values[placeholder.slice(2, -1)];
    if (value !== undefined) {
      substitutions[placeholder.slice(2, -1)] = value;
      continue;
    }
    const key = taskKeyOfPlaceholder(placeholder);
    const fn = key && functions[key];
    if (!key || !fn) {
      problems.push(
        key
          ? `${placeholder}: task "${key}" has no function`
          : `${placeholder}: not a \${<Task>FunctionArn} placeholder of a task in functions/workflow/tasks.ts WORKFLOW_TASKS, nor a parameter of a service task`,
      );
      continue;
    }
    substitutions[placeholder.slice(2, -1)] = fn.functionArn;
    tasks.push(key);
  }
  if (problems.length > 0) {
    throw new Error(`${file}: unresolved placeholder(s): ${problems.join('; ')}`);
  }
  return { substitutions, tasks };
};

/** What a service task (functions/workflow/tasks.ts SERVICE_TASKS) of a definition needs on AWS. */
export interface ServiceTaskBinding {
  /** Its placeholders' values, e.g. `{ ImageBuildProjectName: project.projectName }`. */
  substitutions: Record<string, string>;
  /** What the state machine's role must be allowed to do for the integration, on exactly its resources. */
  statements: iam.PolicyStatement[];
}

export interface AslStateMachineProps {
  /** Physical name; also fixes the ARN, which functions can then be told without a reference. */
  stateMachineName: string;
  /** ASL file (JSONPath), relative to the repository root, e.g. `statemachines/deploy-version.asl.json`, or absolute. */
  definitionFile: string;
  /** The task functions by WORKFLOW_TASKS key; the state machine may invoke exactly those its definition names. */
  functions: Partial<Record<WorkflowTaskKey, lambda.IFunction>>;
  /**
   * The service tasks the definitions may contain, by state name. Only those a definition has are substituted and
   * granted; a service Task state without a binding fails synth.
   */
  serviceTasks?: Partial<Record<ServiceTaskState, ServiceTaskBinding>>;
  logRetention: logs.RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  /** Where the failed-executions alarm is sent (in ALARM and back to OK). */
  alarmTopic?: sns.ITopic;
}

/**
 * A STANDARD state machine from an ASL file in statemachines/, inlined (`DefinitionBody.fromString`) so the template
 * carries the states, with `${<Task>FunctionArn}` resolved through `definitionSubstitutions`. Logs everything
 * (ALL, with execution data) to its own log group, traces with X-Ray, and raises an alarm on failed executions.
 */
export class AslStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** In ALARM while executions fail, time out or are aborted (any in 5 minutes); OK again after a quiet period. */
  readonly failedExecutionsAlarm: cloudwatch.Alarm;
  /** Task keys the definition names (the functions this state machine may invoke). */
  readonly tasks: readonly WorkflowTaskKey[];
  /** Its Task states that call a service integration instead of a function (SERVICE_TASKS names). */
  readonly serviceStates: readonly ServiceTaskState[];

  constructor(scope: Construct, id: string, props: AslStateMachineProps) {
    super(scope, id);
    const definition = readFileSync(path.resolve(REPO_ROOT, props.definitionFile), 'utf8');
    let states: Record<string, { Type?: string; Resource?: string }>;
    try {
      states = (JSON.parse(definition) as { States?: typeof states }).States ?? {};
    } catch (err) {
      throw new Error(`${props.definitionFile}: not valid JSON: ${(err as Error).message}`);
    }
    const services: [ServiceTaskState, ServiceTaskBinding][] = [];
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task' || (state.Resource ?? '').startsWith('${')) continue;
      const binding = props.serviceTasks?.[name as ServiceTaskState];
      if (!binding) {
        throw new Error(
          `${props.definitionFile}: Task state "${name}" calls ${state.Resource}, a service task this state machine has no binding for (SERVICE_TASKS)`,
        );
      }
      services.push([name as ServiceTaskState, binding]);
    }
    const values = Object.assign({}, ...services.map(([, b]) => b.substitutions)) as Record<string, string>;
    const { substitutions, tasks } = aslSubstitutions(props.definitionFile, definition, props.functions, values);
    this.tasks = tasks;
    this.serviceStates = services.map(([name]) => name);

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: substitutions,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // The unqualified ARNs the definition names, nothing else (grantInvoke would add every version and alias).
    const invoked = tasks.flatMap((key) => props.functions[key]?.functionArn ?? []);
    if (invoked.length > 0) {
      this.stateMachine.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: invoked }),
      );
    }
    acknowledge(
      this.stateMachine.role,
      'AwsSolutions-IAM5[Resource::*]',
      `${XRAY_REASON} Logging to CloudWatch Logs likewise needs logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies and DescribeLogGroups on "*" (Step Functions vended logs).`,
    );

    // A failed execution is a failed deployment that Record Failure could not even record, or one it recorded:
    // either way someone should look. Timeouts and aborts count too.
    const failures = new cloudwatch.MathExpression({
      expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
      usingMetrics: {
        failed: this.stateMachine.metricFailed({ statistic: 'Sum' }),
        timedOut: this.stateMachine.metricTimedOut({ statistic: 'Sum' }),
        aborted: this.stateMachine.metricAborted({ statistic: 'Sum' }),
      },
      label: 'failed, timed-out and aborted executions',
      period: Duration.minutes(5),
    });
    this.failedExecutionsAlarm = failures.createAlarm(this, 'FailedExecutionsAlarm', {
      alarmName: `${props.stateMachineName}-failed-executions`,
      alarmDescription: `Executions of ${props.stateMachineName} failed, timed out or were aborted (${props.definitionFile})`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      this.failedExecutionsAlarm.addAlarmAction(action);
      this.failedExecutionsAlarm.addOkAction(action);
    }
    for (const [, binding] of services) {
      for (const statement of binding.statements) this.stateMachine.addToRolePolicy(statement);
    }
  }
}
