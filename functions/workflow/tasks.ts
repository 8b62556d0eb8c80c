/**
 * Workflow task table: each Task state in statemachines/*.asl.json names its Lambda as `${<Key>FunctionArn}`.
 * `infra/` builds one function per key from `functions/workflow/<entry>.ts` and substitutes its ARN; the local
 * runner binds the Task state to the same module's `handler`. Nothing else decides which code a Task runs.
 */
export const WORKFLOW_TASKS = {
  PrepareDeployment: 'prepare-deployment',
  ApplyRevision: 'apply-revision',
  CheckRevision: 'check-revision',
  PromoteRevision: 'promote-revision',
  RecordFailure: 'record-failure',
  PrepareUndeploy: 'prepare-undeploy',
  RemoveRevision: 'remove-revision',
  FinalizeUndeploy: 'finalize-undeploy',
  PrepareRoute: 'prepare-route',
  ApplyRoute: 'apply-route',
  FinalizeRoute: 'finalize-route',
} as const;
export type WorkflowTaskKey = keyof typeof WORKFLOW_TASKS;

/** State machine file per workflow (core/ports.ts WorkflowName). */
export const STATE_MACHINE_FILES = {
  'deploy-version': 'deploy-version.asl.json',
  'undeploy-version': 'undeploy-version.asl.json',
  'update-route': 'update-route.asl.json',
} as const;

/** `${PrepareDeploymentFunctionArn}` → `PrepareDeployment`. */
export const taskKeyOfPlaceholder = (placeholder: string): WorkflowTaskKey | undefined => {
  const m = /^\$\{([A-Za-z]+)FunctionArn\}$/.exec(placeholder);
  const key = m?.[1];
  return key && key in WORKFLOW_TASKS ? (key as WorkflowTaskKey) : undefined;
};
