// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ASL placeholders are literal ${...} strings
/**
 * The Build Image branch of statemachines/deploy-version.asl.json, run by aws-local-stepfunctions through the local
 * runner with stand-in tasks: the `Needs Image?` Choice on Prepare's `needsImage`, the CodeBuild parameters the
 * `Build Image` state sends (project name substituted, ARTIFACT_URI and IMAGE_TAG from `$.prepared`), its Retry on
 * CodeBuild throttling and its Catch into Record Failure. The real handlers' bookkeeping is in
 * test/unit/core/use-cases/images.test.ts; the platform's own wiring (the branch never runs locally) at the end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LocalTask, LocalWorkflowRunner } from '../../adapters/local/workflow-runner.js';
import { WORKFLOWS, type WorkflowName } from '../../core/ports.js';
import { SERVICE_TASKS, STATE_MACHINE_FILES, WORKFLOW_TASKS } from '../../functions/workflow/tasks.js';
import { localServiceTasks } from '../../local/platform.js';

const ROOT = join(import.meta.dirname, '../..');
const definitions = Object.fromEntries(
  WORKFLOWS.map((w) => [w, readFileSync(join(ROOT, 'statemachines', STATE_MACHINE_FILES[w]), 'utf8')]),
) as Record<WorkflowName, string>;

const PROJECT = 'merlin-test-image-build';
const PREPARED_BUILD = {
  deadline: '2025-01-01T00:05:00.000Z',
  pollSeconds: 1,
  timeoutSeconds: 300,
  needsImage: true,
  imageTag: '0123456789abcdef0123456789abcdef',
  artifactUri: 's3://merlin-artifacts/artifacts/p/m/1/',
};

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

/** Every task a no-op that records its input; Prepare answers `prepared`, Build Image runs `build`. */
function harness(prepared: object, build: LocalTask) {
  const calls: { state: string; input: unknown }[] = [];
  const record =
    (state: string, answer: (input: unknown) => unknown = () => ({})): LocalTask =>
    async (input) => {
      calls.push({ state, input });
      return answer(input);
    };
  const tasks: Record<string, LocalTask> = Object.fromEntries(
    Object.keys(WORKFLOW_TASKS).map((key) => [key, record(key)]),
  );
  tasks.PrepareDeployment = record('PrepareDeployment', () => prepared);
  tasks.CheckRevision = record('CheckRevision', () => ({ ready: true }));
  const runner = new LocalWorkflowRunner({
    definitions,
    tasks,
    substitutions: { ImageBuildProjectName: PROJECT },
    stateHandlers: {
      'Build Image': async (input) => {
        calls.push({ state: 'Build Image', input });
        return build(input);
      },
    },
    retryIntervalMs: 0,
  });
  const run = async () => {
    await runner.start('deploy-version', 'd1', { deploymentId: 'd1' });
    await runner.idle();
    const execution = runner.describe(runner.executionArn('deploy-version', 'd1'))!;
    const entered = execution.events.filter((e) => e.type === 'StateEntered').map((e) => e.state);
    return { execution, entered, called: calls.map((c) => c.state), calls };
  };
  return { run };
}

describe('deploy-version › Build Image on the local runner', () => {
  it('should build when Prepare says so, sending the project and the build’s variables, then apply', async () => {
    const { run } = harness(PREPARED_BUILD, async () => ({ Build: { BuildStatus: 'SUCCEEDED' } }));

    const { execution, entered, called, calls } = await run();

    expect(execution.status).toBe('SUCCEEDED');
    expect(entered.slice(0, 4)).toEqual(['Prepare', 'Needs Image?', 'Build Image', 'Apply Revision']);
    expect(called).toEqual(['PrepareDeployment', 'Build Image', 'ApplyRevision', 'CheckRevision', 'PromoteRevision']);
    expect(calls[1]?.input).toEqual({
      ProjectName: PROJECT,
      EnvironmentVariablesOverride: [
        { Name: 'ARTIFACT_URI', Type: 'PLAINTEXT', Value: PREPARED_BUILD.artifactUri },
        { Name: 'IMAGE_TAG', Type: 'PLAINTEXT', Value: PREPARED_BUILD.imageTag },
      ],
    });
    // ResultPath null: the build's (large) result stays out of the state; Apply gets the deployment id as before
    expect(calls[2]?.input).toEqual({ deploymentId: 'd1' });
    expect(calls[3]?.input).toEqual({ deploymentId: 'd1', deadline: PREPARED_BUILD.deadline });
  });

  it('should go straight to Apply Revision when no image is needed', async () => {
    const { run } = harness({ ...PREPARED_BUILD, needsImage: false }, async () => {
      throw new Error('must not build');
    });

    const { execution, entered, called } = await run();

    expect(execution.status).toBe('SUCCEEDED');
    expect(entered.slice(0, 3)).toEqual(['Prepare', 'Needs Image?', 'Apply Revision']);
    expect(called).not.toContain('Build Image');
  });

  it('should retry the build on CodeBuild throttling and go on when it then succeeds', async () => {
    let attempts = 0;
    const { run } = harness(PREPARED_BUILD, async () => {
      attempts += 1;
      if (attempts < 3) throw named('CodeBuild.AccountLimitExceededException', 'too many concurrent builds');
      return {};
    });

    const { execution, called } = await run();

    expect(execution.status).toBe('SUCCEEDED');
    expect(attempts).toBe(3);
    expect(called.filter((c) => c === 'ApplyRevision')).toHaveLength(1);
  });

  it('should catch a failed build into Record Failure with its Error and Cause, and never apply', async () => {
    const cause = JSON.stringify({ Build: { BuildStatus: 'FAILED' } });
    const { run } = harness(PREPARED_BUILD, async () => {
      throw named('States.TaskFailed', cause);
    });

    const { execution, entered, called, calls } = await run();

    expect(execution.status).toBe('FAILED');
    expect(entered).toEqual(['Prepare', 'Needs Image?', 'Build Image', 'Record Failure', 'Deployment Failed']);
    expect(called).not.toContain('ApplyRevision');
    expect(calls.find((c) => c.state === 'RecordFailure')?.input).toEqual({
      deploymentId: 'd1',
      error: { Error: 'States.TaskFailed', Cause: cause },
    });
  });
});

describe('deploy-version › Build Image in the local platform', () => {
  it('should substitute a local project name and stand in with a clear failure for every service task', async () => {
    const { substitutions, stateHandlers } = localServiceTasks();

    expect(substitutions).toEqual({ ImageBuildProjectName: 'merlin-local-image-build-project' });
    expect(Object.keys(stateHandlers)).toEqual(Object.keys(SERVICE_TASKS));
    await expect(stateHandlers['Build Image']?.({})).rejects.toMatchObject({
      name: 'ServiceUnavailableLocally',
      message: expect.stringContaining('codebuild:startBuild.sync) runs only on AWS'),
    });
  });

  it('should refuse a definition whose placeholder has neither a task nor a substitution', () => {
    expect(
      () =>
        new LocalWorkflowRunner({
          definitions,
          tasks: Object.fromEntries(Object.keys(WORKFLOW_TASKS).map((k) => [k, async () => ({})])),
        }),
    ).toThrow('deploy-version: placeholder ${ImageBuildProjectName} names no local task handler or substitution');
  });
});
