import './promise-polyfill.js';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { DependencyError } from '../../core/errors.js';
import type { WorkflowName, WorkflowPort } from '../../core/ports.js';

/** A Task state's local stand-in for its Lambda: same input in, same output or error out. */
export type LocalTask = (input: unknown) => Promise<unknown>;

export interface ExecutionRecord {
  executionArn: string;
  workflow: WorkflowName;
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  input: unknown;
  output?: unknown;
  error?: string;
  startDate: string;
  stopDate?: string;
  /** State transitions as the Step Functions console shows them: type, state name, time. */
  events: { type: string; state?: string; timestamp: string }[];
}

export interface LocalWorkflowRunnerOptions {
  /** ASL text per workflow, `${<Key>FunctionArn}` placeholders left in. */
  definitions: Record<WorkflowName, string>;
  /** Task key (placeholder without `FunctionArn`) → the handler that key names on AWS. */
  tasks: Record<string, LocalTask>;
  /** Values of the other placeholders (service integration parameters, e.g. `ImageBuildProjectName`). */
  substitutions?: Record<string, string>;
  /**
   * Stand-ins for Task states that call an AWS service rather than a task function (e.g. `Build Image`,
   * codebuild:startBuild.sync), by state name: the runner never calls AWS.
   */
  stateHandlers?: Record<string, LocalTask>;
  /** Retry back-off in ms instead of the ASL's IntervalSeconds (tests use 0). */
  retryIntervalMs?: number;
  /** Executions kept for inspection. */
  history?: number;
  region?: string;
  accountId?: string;
}

const PLACEHOLDER = /\$\{([A-Za-z0-9]+)\}/g;

/**
 * Runs the platform's state machines in-process with aws-local-stepfunctions: the same ASL files Step Functions
 * runs, each Task state bound to the same handler its Lambda runs. Executions are named by deployment id and
 * starting an existing name again is a no-op, as with StartExecution.
 */
export class LocalWorkflowRunner implements WorkflowPort {
  private readonly machines = new Map<WorkflowName, { machine: StateMachine; bindings: Record<string, LocalTask> }>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, { abort: () => void; done: Promise<void> }>();
  private readonly region: string;
  private readonly account: string;

  constructor(private readonly options: LocalWorkflowRunnerOptions) {
    this.region = options.region ?? 'us-east-1';
    this.account = options.accountId ?? '000000000000';
    for (const [workflow, text] of Object.entries(options.definitions) as [WorkflowName, string][]) {
      this.machines.set(workflow, this.compile(workflow, text));
    }
  }

  /**
   * Substitutes every placeholder (a local Lambda ARN for `${<Key>FunctionArn}`, `substitutions` for the others) and
   * binds each Task state to its handler, or to its `stateHandlers` stand-in when it calls a service.
   */
  private compile(workflow: WorkflowName, text: string) {
    const resolved = text.replace(PLACEHOLDER, (_m, key: string) => {
      const value = this.options.substitutions?.[key];
      if (value !== undefined) return value;
      const task = /^(.+)FunctionArn$/.exec(key)?.[1];
      if (!task || !this.options.tasks[task]) {
        throw new Error(`${workflow}: placeholder \${${key}} names no local task handler or substitution`);
      }
      return `arn:aws:lambda:${this.region}:${this.account}:function:merlin-local-${task}`;
    });
    const definition = JSON.parse(resolved) as StateMachineDefinition & {
      States: Record<string, { Type: string; Resource?: string }>;
    };
    const bindings: Record<string, LocalTask> = {};
    for (const [state, def] of Object.entries(definition.States)) {
      if (def.Type !== 'Task') continue;
      const task = /:function:merlin-local-(.+)$/.exec(def.Resource ?? '')?.[1];
      const handler = task ? this.options.tasks[task] : this.options.stateHandlers?.[state];
      if (!handler) throw new Error(`${workflow}: Task state "${state}" has no local handler (${def.Resource})`);
      bindings[state] = handler;
    }
    const machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
    return { machine, bindings };
  }

  executionArn(workflow: WorkflowName, name: string): string {
    return `arn:aws:states:${this.region}:${this.account}:execution:merlin-local-${workflow}:${name}`;
  }

  async start(workflow: WorkflowName, name: string, input: { deploymentId: string }): Promise<void> {
    const compiled = this.machines.get(workflow);
    if (!compiled) throw new DependencyError(`no local state machine for workflow ${workflow}`);
    const arn = this.executionArn(workflow, name);
    if (this.executions.has(arn)) return;
    const record: ExecutionRecord = {
      executionArn: arn,
      workflow,
      name,
      status: 'RUNNING',
      input,
      startDate: new Date().toISOString(),
      events: [],
    };
    this.executions.set(arn, record);
    this.trimHistory();
    const retry = this.options.retryIntervalMs;
    const retryIntervalOverrides =
      retry === undefined ? undefined : Object.fromEntries(Object.keys(compiled.bindings).map((s) => [s, retry]));
    const execution = compiled.machine.run(input, {
      overrides: {
        taskResourceLocalHandlers: compiled.bindings as never,
        ...(retryIntervalOverrides && { retryIntervalOverrides }),
      },
      context: { Execution: { Id: arn, Name: name, StartTime: record.startDate, Input: input as never } } as never,
      noThrowOnAbort: true,
    });
    const events = (async () => {
      for await (const e of execution.eventLogs) {
        const ev = e as { type: string; timestamp: number; state?: { name?: string } };
        record.events.push({
          type: ev.type,
          ...(ev.state?.name && { state: ev.state.name }),
          timestamp: new Date(ev.timestamp).toISOString(),
        });
      }
    })().catch(() => undefined);
    const done = execution.result
      .then((output) => {
        record.status = output === null ? 'ABORTED' : 'SUCCEEDED';
        record.output = output;
      })
      .catch((e: Error & { cause?: unknown }) => {
        record.status = 'FAILED';
        record.error = e.message;
      })
      .finally(async () => {
        record.stopDate = new Date().toISOString();
        await events;
        this.running.delete(arn);
      });
    this.running.set(arn, { abort: execution.abort, done });
  }

  describe(executionArn: string): ExecutionRecord | undefined {
    return this.executions.get(executionArn);
  }

  list(): ExecutionRecord[] {
    return [...this.executions.values()];
  }

  /** Resolves when no execution is running (tests; orderly shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Aborts every running execution (platform shutdown) and waits for them to stop. */
  async abortAll(): Promise<void> {
    for (const r of this.running.values()) r.abort();
    await this.idle();
  }

  private trimHistory(): void {
    const max = this.options.history ?? 1000;
    for (const [arn, rec] of this.executions) {
      if (this.executions.size <= max) break;
      if (rec.status !== 'RUNNING') this.executions.delete(arn);
    }
  }
}
