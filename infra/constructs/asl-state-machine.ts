import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { taskKeyOfPlaceholder, type WorkflowTaskKey } from '../../functions/workflow/tasks.js';
import { REPO_ROOT } from '../config.js';

const PLACEHOLDER = /\$\{[^}]*\}/g;

export interface AslSubstitutions {
  /** `definitionSubstitutions`: `PrepareDeploymentFunctionArn` → the function's ARN. */
  substitutions: Record<string, string>;
  /** The task keys the definition names, in order of first use. */
  tasks: WorkflowTaskKey[];
}

/**
 * Maps every `${...}` placeholder of an ASL definition to a task function. Only `${<Task>FunctionArn}` placeholders
 * whose task has a function exist (the same rule the local runner applies: functions/workflow/tasks.ts); anything else
 * fails synth with the file and placeholder named, rather than a state machine that fails at its first execution.
 */
export const aslSubstitutions = (
  file: string,
  definition: string,
  functions: Partial<Record<WorkflowTaskKey, lambda.IFunction>>,
): AslSubstitutions => {
  const substitutions: Record<string, string> = {};
  const tasks: WorkflowTaskKey[] = [];
  const problems: string[] = [];
  for (const placeholder of new Set(definition.match(PLACEHOLDER) ?? [])) {
    const key = taskKeyOfPlaceholder(placeholder);
    const fn = key && functions[key];
    if (!key || !fn) {
      problems.push(
        key
          ? `${placeholder}: task "${key}" has no function`
          : `${placeholder}: not a \${<Task>FunctionArn} placeholder of a task in functions/workflow/tasks.ts WORKFLOW_TASKS`,
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

export interface AslStateMachineProps {
  /** Physical name; also fixes the ARN, which functions can then be told without a reference. */
  stateMachineName: string;
  /** ASL file (JSONPath), relative to the repository root, e.g. `statemachines/deploy-version.asl.json`, or absolute. */
  definitionFile: string;
  /** The task functions by WORKFLOW_TASKS key; the state machine may invoke exactly those its definition names. */
  functions: Partial<Record<WorkflowTaskKey, lambda.IFunction>>;
  logRetention: logs.RetentionDays;
  logRemovalPolicy: RemovalPolicy;
}

/**
 * A STANDARD state machine from an ASL file in statemachines/, inlined (`DefinitionBody.fromString`) so the template
 * carries the states, with `${<Task>FunctionArn}` resolved through `definitionSubstitutions`. Logs everything
 * (ALL, with execution data) to its own log group and traces with X-Ray.
 */
export class AslStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** Task keys the definition names (the functions this state machine may invoke). */
  readonly tasks: readonly WorkflowTaskKey[];

  constructor(scope: Construct, id: string, props: AslStateMachineProps) {
    super(scope, id);
    const definition = readFileSync(path.resolve(REPO_ROOT, props.definitionFile), 'utf8');
    try {
      JSON.parse(definition);
    } catch (err) {
      throw new Error(`${props.definitionFile}: not valid JSON: ${(err as Error).message}`);
    }
    const { substitutions, tasks } = aslSubstitutions(props.definitionFile, definition, props.functions);
    this.tasks = tasks;

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
    for (const key of tasks) props.functions[key]?.grantInvoke(this.stateMachine);
  }
}
