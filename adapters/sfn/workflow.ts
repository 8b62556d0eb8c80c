import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DependencyError } from '../../core/errors.js';
import type { WorkflowName, WorkflowPort } from '../../core/ports.js';

/** Step Functions: one standard workflow per WorkflowName, executions named by deployment id. */
export class StepFunctionsWorkflows implements WorkflowPort {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArns: Record<WorkflowName, string>,
  ) {}

  executionArn(workflow: WorkflowName, name: string): string {
    return `${this.stateMachineArns[workflow].replace(':stateMachine:', ':execution:')}:${name}`;
  }

  async start(workflow: WorkflowName, name: string, input: { deploymentId: string }): Promise<void> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArns[workflow],
          name,
          input: JSON.stringify(input),
        }),
      );
    } catch (e) {
      // Same name and same input: Step Functions answers with the running execution; a clash with another input
      // cannot happen because names are fresh ULIDs.
      if (e instanceof ExecutionAlreadyExists) return;
      const err = e as { name?: string; message?: string };
      throw new DependencyError(`Step Functions StartExecution failed: ${err.name}: ${err.message}`);
    }
  }
}

export const sfnClient = (): SFNClient => new SFNClient({});
