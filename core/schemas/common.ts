import * as z from 'zod';

/** DESIGN §1 name rules. Messages say what to fix. */
export const PROJECT_NAME = /^[a-z][a-z0-9-]{1,48}[a-z0-9]$/;
export const MODEL_NAME = /^[a-z][a-z0-9-]{1,23}[a-z0-9]$/;
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,48}[a-z0-9]$/;
/** Merlin's label rule (Kubernetes label syntax), each key and value shorter than 64 characters. */
export const LABEL = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const projectName = z
  .string()
  .regex(
    PROJECT_NAME,
    'must be 3-50 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen',
  );
export const modelName = z
  .string()
  .regex(
    MODEL_NAME,
    'must be 3-25 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen',
  );
export const environmentName = z
  .string()
  .regex(ENVIRONMENT_NAME, 'must be 2-50 characters of lowercase letters, digits and hyphens, starting with a letter');

/** A version number in a path: a positive integer written in decimal (no sign, exponent, hex or padding). */
export const versionNumber = z
  .union([z.number(), z.string()], { error: 'must be a positive integer' })
  .transform((v, ctx) => {
    const n = typeof v === 'number' ? v : /^[1-9][0-9]{0,9}$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive integer' });
      return z.NEVER;
    }
    return n;
  });

export const labels = z
  .record(
    z
      .string()
      .max(63, 'label keys must be shorter than 64 characters')
      .regex(LABEL, `label keys must match ${LABEL.source}`),
    z
      .string()
      .max(63, 'label values must be shorter than 64 characters')
      .regex(LABEL, `label values must match ${LABEL.source}`),
  )
  .refine((r) => Object.keys(r).length <= 64, 'at most 64 labels');

export const description = z.string().max(1024, 'at most 1024 characters');
export const timestamp = z.iso.datetime();

/** Optimistic-lock counter carried by every mutable entity (also sent as the ETag). */
export const revision = z.number().int().min(1);

export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(2048).optional(),
  search: z.string().min(1).max(100).optional(),
});
export type ListQuery = z.infer<typeof listQuery>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const healthResponse = z.object({ status: z.literal('ok') });

/** The error body of every non-2xx answer (DESIGN §4). */
export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  requestId: z.string().nullable(),
});
