import * as z from 'zod';
import { description, labels, modelName, projectName, revision, timestamp } from './common.js';

/** DESIGN §1 model types. Further types (pyfunc, KServe runtimes) slot in here. */
export const MODEL_TYPES = ['onnx', 'xgboost', 'function', 'custom'] as const;
export const modelType = z.enum(MODEL_TYPES, { error: `must be one of ${MODEL_TYPES.join(', ')}` });
export type ModelType = z.infer<typeof modelType>;

export const createModelBody = z.strictObject({
  name: modelName,
  type: modelType,
  description: description.optional(),
  labels: labels.optional(),
});
export type CreateModelBody = z.infer<typeof createModelBody>;

export const model = z.object({
  project: z.string(),
  name: z.string(),
  type: modelType,
  description: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  /** Highest version number handed out so far (versions are never renumbered or reused). */
  latestVersion: z.number().int().min(0),
  createdAt: timestamp,
  updatedAt: timestamp,
  revision,
});
export type Model = z.infer<typeof model>;

export const modelPath = z.object({ project: projectName, model: modelName });

/** PATCH: description and labels; a model's name and type never change. */
export const patchModelBody = z
  .strictObject({
    description: description.nullable().optional(),
    labels: labels.optional(),
    type: z.never({ error: 'the type of a model cannot change; create a new model for another type' }).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'name at least one field to change: description, labels');
export type PatchModelBody = z.infer<typeof patchModelBody>;
