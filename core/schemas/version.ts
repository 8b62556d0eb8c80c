import * as z from 'zod';
import { LABEL, labels, modelName, projectName, revision, timestamp, versionNumber } from './common.js';

/** A relative file path inside an artifact: no leading slash, no "..", no empty segments. */
export const artifactPath = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be a relative path of letters, digits, ".", "_", "-" and "/"')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain "." or ".." segments');

const scalar = z.union([z.string().max(1024), z.number(), z.boolean()]);

/**
 * How a `custom` model runs: locally a command started in the artifact's directory (it must listen on $PORT and
 * speak V1 or V2), on EKS a container image — given, or built from a Dockerfile in the artifact. Which of them an
 * environment needs is checked at deploy. Merlin's custom_predictor.
 */
export const customPredictor = z.strictObject({
  command: z.array(z.string().min(1).max(4096)).min(1).max(64).optional(),
  image: z
    .string()
    .max(512)
    .regex(/^[a-z0-9]+([._/:@-][a-zA-Z0-9]+)*$/, 'must be a container image reference like registry/name:tag')
    .optional(),
  protocol: z.enum(['v1', 'v2']).default('v2'),
});
export type CustomPredictor = z.output<typeof customPredictor>;

export const createVersionBody = z.strictObject({
  labels: labels.optional(),
  params: z.record(z.string().max(250), scalar).optional(),
  metrics: z.record(z.string().max(250), z.number()).optional(),
  tags: z.record(z.string().max(250), z.string().max(5000)).optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  /** The runtime's model file, relative to the artifact root. Defaults by type (model.onnx for onnx). */
  modelFile: artifactPath.optional(),
  /** Only for models of type `custom`: what to run. */
  custom: customPredictor.optional(),
});
export type CreateVersionBody = z.infer<typeof createVersionBody>;

/** PATCH: each field given replaces the stored map; the artifact and model file of a version never change. */
export const patchVersionBody = z
  .strictObject({
    labels: createVersionBody.shape.labels,
    params: createVersionBody.shape.params,
    metrics: createVersionBody.shape.metrics,
    tags: createVersionBody.shape.tags,
    properties: createVersionBody.shape.properties,
    modelFile: z.never({ error: 'the model file of a version cannot change; create a new version' }).optional(),
  })
  .refine(
    (b) => Object.keys(b).length > 0,
    'name at least one field to change: labels, params, metrics, tags, properties',
  );
export type PatchVersionBody = z.infer<typeof patchVersionBody>;

/** `?label=team:fraud,stage:prod` (or the parameter repeated): versions carrying every one of these labels. */
export const versionListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(2048).optional(),
  label: z
    .string()
    .max(1024)
    .transform((text, ctx) => {
      const out: Record<string, string> = {};
      for (const pair of text.split(',')) {
        const i = pair.indexOf(':');
        const [k, v] = i < 0 ? [pair, ''] : [pair.slice(0, i), pair.slice(i + 1)];
        if (i < 0 || !LABEL.test(k) || !LABEL.test(v) || !k) {
          ctx.addIssue({ code: 'custom', message: `"${pair}" is not key:value with label syntax (e.g. team:fraud)` });
          return z.NEVER;
        }
        out[k] = v;
      }
      return out;
    })
    .optional(),
});
export type VersionListQuery = z.infer<typeof versionListQuery>;

export const manifestFile = z.object({
  path: z.string(),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ManifestFile = z.infer<typeof manifestFile>;

export const artifact = z.object({
  /** s3://bucket/prefix/ that holds the files. */
  uri: z.string(),
  status: z.enum(['pending', 'complete']),
  files: z.array(manifestFile),
  completedAt: timestamp.optional(),
});
export type Artifact = z.infer<typeof artifact>;

export const modelVersion = z.object({
  project: z.string(),
  model: z.string(),
  version: z.number().int().min(1),
  labels: z.record(z.string(), z.string()),
  params: z.record(z.string(), scalar),
  metrics: z.record(z.string(), z.number()),
  tags: z.record(z.string(), z.string()),
  properties: z.record(z.string(), z.unknown()),
  modelFile: z.string(),
  custom: customPredictor.optional(),
  artifact,
  createdAt: timestamp,
  updatedAt: timestamp,
  revision,
});
export type ModelVersion = z.infer<typeof modelVersion>;

export const versionPath = z.object({ project: projectName, model: modelName, version: versionNumber });

const sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a hex-encoded SHA-256 digest (64 hex digits)');

export const artifactUploadBody = z.strictObject({
  files: z
    .array(
      z.strictObject({
        path: artifactPath,
        size: z.number().int().min(0).optional(),
        contentType: z.string().max(255).optional(),
      }),
    )
    .min(1, 'name at least one file')
    .max(1000, 'at most 1000 files'),
});
export type ArtifactUploadBody = z.infer<typeof artifactUploadBody>;

export const artifactUploadResponse = z.object({
  uploads: z.array(
    z.object({
      path: z.string(),
      method: z.literal('PUT'),
      url: z.string(),
      headers: z.record(z.string(), z.string()),
    }),
  ),
  expiresAt: timestamp,
});

export const artifactCompleteBody = z.strictObject({
  files: z
    .array(z.strictObject({ path: artifactPath, size: z.number().int().min(0), sha256 }))
    .min(1, 'name at least one file')
    .max(1000, 'at most 1000 files'),
});
export type ArtifactCompleteBody = z.infer<typeof artifactCompleteBody>;

/** GET …/artifact: the manifest with a presigned GET URL per file. */
export const artifactView = artifact.extend({
  files: z.array(manifestFile.extend({ url: z.string() })),
});
