import * as z from 'zod';
import { description, labels, projectName, revision, timestamp } from './common.js';

export const createProjectBody = z.strictObject({
  name: projectName,
  description: description.optional(),
  labels: labels.optional(),
});
export type CreateProjectBody = z.infer<typeof createProjectBody>;

export const project = z.object({
  name: z.string(),
  description: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  createdAt: timestamp,
  updatedAt: timestamp,
  revision,
});
export type Project = z.infer<typeof project>;

export const projectPath = z.object({ project: projectName });

/** PATCH: the fields given replace the stored ones; `description: null` removes it. */
export const patchProjectBody = z
  .strictObject({ description: description.nullable().optional(), labels: labels.optional() })
  .refine((b) => Object.keys(b).length > 0, 'name at least one field to change: description, labels');
export type PatchProjectBody = z.infer<typeof patchProjectBody>;
