import { Annotations, ArnFormat, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { WorkflowName } from '../../core/ports.js';
import { STATE_MACHINE_FILES, WORKFLOW_TASKS, type WorkflowTaskKey } from '../../functions/workflow/tasks.js';
import type { StageSettings } from '../config.js';
import { AslStateMachine } from '../constructs/asl-state-machine.js';
import { bindBucket, bindEnvironments, bindSecretsKey, bindTable, nameStateMachines } from '../constructs/bindings.js';
import { MerlinFunction } from '../constructs/merlin-function.js';
import { pascalCase } from '../naming.js';

/** CheckRevision long-polls the cluster for up to ~20 s per call; the others do a few reads and writes. */
const TASK_TIMEOUTS: Partial<Record<WorkflowTaskKey, Duration>> = {
  CheckRevision: Duration.seconds(60),
};

/** The only task that reads secret values: it hands them to the cluster with the new revision. */
export const DECRYPTS_SECRETS: readonly WorkflowTaskKey[] = ['ApplyRevision'];

export interface WorkflowStackProps extends StackProps {
  settings: StageSettings;
  table: dynamodb.ITable;
  bucket: s3.IBucket;
  /** The key secret values are encrypted under (DataStack.secretsKey). */
  secretsKey: kms.IKey;
  /** MERLIN_ENVIRONMENTS (infra/config.ts environmentsJson). */
  environmentsJson: string;
  /** Extra bundling options for every function (tests ask for esbuild metafiles). */
  bundling?: BundlingOptions;
}

/**
 * The workflows (DESIGN §6): one function per WORKFLOW_TASKS key, built from functions/workflow/<entry>.ts, and one
 * state machine per STATE_MACHINE_FILES entry, each allowed to invoke exactly the functions its ASL names.
 */
export class WorkflowStack extends Stack {
  readonly functions: Record<WorkflowTaskKey, MerlinFunction>;
  readonly stateMachines: Record<WorkflowName, sfn.StateMachine>;

  constructor(scope: Construct, id: string, props: WorkflowStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const workflows = Object.entries(STATE_MACHINE_FILES) as [WorkflowName, string][];

    // Fixed names make the ARNs known without referencing the state machines, which reference the functions.
    const names = Object.fromEntries(workflows.map(([w]) => [w, `${settings.prefix}-${w}`])) as Record<
      WorkflowName,
      string
    >;
    const arns = Object.fromEntries(
      workflows.map(([w]) => [
        w,
        this.formatArn({
          service: 'states',
          resource: 'stateMachine',
          resourceName: names[w],
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ]),
    ) as Record<WorkflowName, string>;

    const functions = {} as Record<WorkflowTaskKey, MerlinFunction>;
    for (const [key, entry] of Object.entries(WORKFLOW_TASKS) as [WorkflowTaskKey, string][]) {
      const fn = new MerlinFunction(this, `${key}Function`, {
        entry: `functions/workflow/${entry}.ts`,
        description: `Merlin ${settings.stage} workflow task ${key}`,
        timeout: TASK_TIMEOUTS[key],
        bundling: props.bundling,
        logRetention: settings.logRetention,
        logRemovalPolicy: settings.removalPolicy,
      });
      bindTable(fn, props.table);
      // Tasks name the bucket but do not touch it (model servers read artifacts with their own identity).
      bindBucket(fn, props.bucket, 'none');
      // Tasks never start executions; the contract still asks for the ARNs (see nameStateMachines).
      nameStateMachines(fn, arns);
      bindEnvironments(fn, props.environmentsJson);
      if (DECRYPTS_SECRETS.includes(key)) bindSecretsKey(fn, props.secretsKey, 'decrypt');
      functions[key] = fn;
    }
    this.functions = functions;

    const used = new Set<WorkflowTaskKey>();
    const machines = {} as Record<WorkflowName, sfn.StateMachine>;
    for (const [workflow, file] of workflows) {
      const machine = new AslStateMachine(this, pascalCase(workflow), {
        stateMachineName: names[workflow],
        definitionFile: `statemachines/${file}`,
        functions,
        logRetention: settings.logRetention,
        logRemovalPolicy: settings.removalPolicy,
      });
      for (const key of machine.tasks) used.add(key);
      machines[workflow] = machine.stateMachine;
    }
    this.stateMachines = machines;

    const unused = (Object.keys(WORKFLOW_TASKS) as WorkflowTaskKey[]).filter((key) => !used.has(key));
    if (unused.length > 0) {
      Annotations.of(this).addWarningV2(
        'merlin:unused-task',
        `workflow task function(s) no state machine names: ${unused.join(', ')}`,
      );
    }
  }
}
