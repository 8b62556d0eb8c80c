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
