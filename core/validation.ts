import type { z } from 'zod';
import { ValidationError } from './errors.js';

export interface Problem {
  path: string;
  message: string;
}

/** zod issues as one sentence a caller can act on, plus a structured list. */
export function problemsOf(error: z.ZodError, where: string): Problem[] {
  return error.issues.flatMap((issue): Problem[] => {
    const path = [where, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ path: [path, k].join('.'), message: 'is not a known field' }));
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) return [{ path, message: 'is required' }];
    return [{ path, message: issue.message }];
  });
}

/** Parses `value` or throws a ValidationError naming every problem (e.g. `body.name: must be ...`). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  // reportInput: issues carry the offending value, so a missing field can be told from a wrong-typed one.
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const problems = problemsOf(result.error, where);
  throw new ValidationError(problems.map((p) => `${p.path}: ${p.message}`).join('; '), { problems });
}
