/**
 * The one factory behind every workflow task: parse the state's input with zod, run the core step, return a small
 * JSON result. Errors keep their `name` (WorkflowStepError, DependencyError…): the ASL's Retry/Catch match on it.
 * Powertools as for API handlers (functions/shared/observability.ts), the deployment id as correlation id. A task
 * where deployments end (`endsDeployment`: Promote, Finalize, Record Failure) counts how the deployment ended when its
 * step is the one that finished it, from the Deployment record itself: Record Failure may also find the switch done
 * and finish it as succeeded, and a retried task that finds it finished already counts nothing.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import type { Deps } from '../../core/ports.js';
import { parseOrThrow } from '../../core/validation.js';
import { getDeps } from './container.js';
import { type BusinessMetric, metrics, observability } from './observability.js';

export interface WorkflowHandlerOptions {
  /** Deployments end in this task: count DeploymentSucceeded or DeploymentFailed by the record's final status. */
  endsDeployment?: true;
}

const OUTCOMES: Partial<Record<string, BusinessMetric>> = {
  succeeded: 'DeploymentSucceeded',
  failed: 'DeploymentFailed',
};

const deploymentIdOf = (event: unknown): string | undefined => {
  const id = (event as { deploymentId?: unknown } | null)?.deploymentId;
  return typeof id === 'string' ? id : undefined;
};

export function workflowHandler<S extends z.ZodType, R>(
  input: S,
  step: (deps: Deps, input: z.output<S>) => Promise<R>,
  options: WorkflowHandlerOptions = {},
) {
  return middy<unknown, R | Record<string, never>, Error, Context>()
    .use(observability<unknown>(deploymentIdOf))
    .handler(async (event) => {
      const parsed = parseOrThrow(input, event, 'input');
      const deps = getDeps();
      const id = options.endsDeployment ? deploymentIdOf(parsed) : undefined;
      const statusOf = async (deploymentId: string) => (await deps.deployments.get({ id: deploymentId }))?.status ?? '';
      const before = id && (await statusOf(id));
      const result = await step(deps, parsed);
      if (id && !OUTCOMES[before || '']) {
        const outcome = OUTCOMES[await statusOf(id)];
        if (outcome) metrics().count(outcome);
      }
      return result ?? {};
    });
}
