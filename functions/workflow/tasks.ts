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

/**
 * Task states that call an AWS service integration instead of a task function, by state name. On AWS, infra fills
 * in each `${<placeholder>}` and grants the state machine what the integration needs; the local runner substitutes
 * a local value and binds the state by name to a stand-in (the local platform's never runs: see local/platform.ts).
 */
export const SERVICE_TASKS = {
  'Build Image': {
    resource: 'arn:aws:states:::codebuild:startBuild.sync',
    /** The image-build CodeBuild project (infra ServingStack). */
    placeholders: ['ImageBuildProjectName'],
  },
} as const satisfies Record<string, { resource: string; placeholders: readonly string[] }>;
export type ServiceTaskState = keyof typeof SERVICE_TASKS;

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
