import type { WorkflowName, WorkflowPort } from '../../core/ports.js';

export interface WorkflowStart {
  workflow: WorkflowName;
  name: string;
  input: { deploymentId: string };
}

/**
 * Records executions instead of running them. Like Step Functions, executions are named, so starting the same name
 * with the same input twice is a no-op, and with a different input an error. `failWith` makes starts fail.
 */
export class RecordingWorkflows implements WorkflowPort {
  /** Executions that started, in order. */
  readonly started: WorkflowStart[] = [];
  /** Every call of `start`, including the ones that failed. */
  readonly attempts: WorkflowStart[] = [];
  private failure: { error: Error; remaining: number } | undefined;

  constructor(
    readonly region = 'eu-west-1',
    readonly account = '123456789012',
  ) {}

  executionArn(workflow: WorkflowName, name: string): string {
    return `arn:aws:states:${this.region}:${this.account}:execution:merlin-test-${workflow}:${name}`;
  }

  async start(workflow: WorkflowName, name: string, input: { deploymentId: string }): Promise<void> {
    const call = { workflow, name, input: { ...input } };
    this.attempts.push(call);
    if (this.failure && this.failure.remaining > 0) {
      this.failure.remaining -= 1;
      throw this.failure.error;
    }
    const same = this.started.find((s) => s.workflow === workflow && s.name === name);
    if (same) {
      if (JSON.stringify(same.input) === JSON.stringify(call.input)) return;
      const error = new Error(`execution ${name} already exists with another input`);
      error.name = 'ExecutionAlreadyExists';
      throw error;
    }
    this.started.push(call);
  }

  /** The next `times` starts throw `error` (default: every start from now on). */
  failWith(error: Error = new Error('Step Functions is unavailable'), times = Number.POSITIVE_INFINITY): this {
    this.failure = { error, remaining: times };
    return this;
  }

  /** Starts succeed again. */
  recover(): this {
    this.failure = undefined;
    return this;
  }

  /** The last started execution. */
  last(): WorkflowStart | undefined {
    return this.started[this.started.length - 1];
  }
}
