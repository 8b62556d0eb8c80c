/**
 * The one factory behind every workflow task: parse the state's input with zod, run the core step, return a small
 * JSON result. Errors keep their `name` (WorkflowStepError, DependencyError…): the ASL's Retry/Catch match on it.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import type { Deps } from '../../core/ports.js';
import { parseOrThrow } from '../../core/validation.js';
import { getDeps } from './container.js';

export function workflowHandler<S extends z.ZodType, R>(
  input: S,
  step: (deps: Deps, input: z.output<S>) => Promise<R>,
) {
  return middy<unknown, R | Record<string, never>, Error, Context>().handler(async (event) => {
    const parsed = parseOrThrow(input, event, 'input');
    const result = await step(getDeps(), parsed);
    return result ?? {};
  });
}
