/**
 * Runs a deployment's workflow steps in the order its state machine does, in-process: Task after Task, the
 * readiness loop with the clock advanced by the poll interval, and any error into Record Failure with the Catch's
 * `{Error, Cause}` shaped as Lambda reports it. This stands in for Step Functions in unit tests only;
 * test/statemachines runs the real ASL.
 */
import type { Deps } from '../../core/ports.js';
import { getDeployment } from '../../core/use-cases/deployments.js';
import {
  applyRevision,
  applyRoute,
  checkRevision,
  finalizeRoute,
  finalizeUndeploy,
  prepareDeployment,
  prepareRoute,
  prepareUndeploy,
  promoteRevision,
  recordFailure,
  removeRevision,
} from '../../core/use-cases/workflows.js';
import type { FixedClock } from './clock.js';
import type { MemoryImageRegistry } from './images.js';

export interface WorkflowOutcome {
  status: 'succeeded' | 'failed';
  /** The Catch's error when the run failed. */
  error?: { Error: string; Cause: string };
  /** Readiness checks made (deploy only). */
  checks: number;
}

type DriverDeps = Deps & { clock: FixedClock; images: MemoryImageRegistry };

/** What the Build Image state (CodeBuild) gets from Prepare. */
export interface ImageBuildRequest {
  artifactUri: string;
  imageTag: string;
}

/** Lambda's Cause for a thrown error: JSON with errorType and errorMessage. */
export const lambdaCause = (e: Error): { Error: string; Cause: string } => ({
  Error: e.name,
  Cause: JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] }),
});

/** A service integration's failure as Step Functions reports it: Error and Cause as given, not in Lambda's shape. */
export class ServiceTaskFailure extends Error {
  constructor(readonly states: { Error: string; Cause: string }) {
    super(states.Error);
    this.name = states.Error;
  }
}

/**
 * `buildImage` stands in for the Build Image state when Prepare asks for a build: by default it pushes the tag to
 * the fake registry (a successful build); a test throws a ServiceTaskFailure to take the Catch as CodeBuild would.
 */
export async function runWorkflow(
  deps: DriverDeps,
  deploymentId: string,
  options: { maxChecks?: number; buildImage?: (request: ImageBuildRequest) => Promise<void> } = {},
): Promise<WorkflowOutcome> {
  const input = { deploymentId };
  const d = await getDeployment(deps, deploymentId);
  let checks = 0;
  try {
    if (d.kind === 'deploy') {
      const prepared = await prepareDeployment(deps, input);
      if (prepared.needsImage) {
        const request = { artifactUri: prepared.artifactUri ?? '', imageTag: prepared.imageTag ?? '' };
        await (options.buildImage ?? (async (r) => deps.images.push(r.imageTag)))(request);
      }
      await applyRevision(deps, input);
      for (;;) {
        checks += 1;
        const { ready } = await checkRevision(deps, { deploymentId, deadline: prepared.deadline });
        if (ready) break;
        if (checks >= (options.maxChecks ?? 1000)) throw new Error(`still not ready after ${checks} checks`);
        deps.clock.advanceSeconds(prepared.pollSeconds);
      }
      await promoteRevision(deps, input);
    } else if (d.kind === 'undeploy') {
      await prepareUndeploy(deps, input);
      await removeRevision(deps, input);
      await finalizeUndeploy(deps, input);
    } else {
      await prepareRoute(deps, input);
      await applyRoute(deps, input);
      await finalizeRoute(deps, input);
    }
    return { status: 'succeeded', checks };
  } catch (e) {
    const error = e instanceof ServiceTaskFailure ? e.states : lambdaCause(e as Error);
    await recordFailure(deps, { deploymentId, error });
    return { status: 'failed', error, checks };
  }
}
