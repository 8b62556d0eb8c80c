import * as z from 'zod';
import { environmentName, modelName, projectName, revision, timestamp, versionNumber } from './common.js';
import { resolvedResources, resources } from './environment.js';
import { secretName } from './secret.js';

export const ENDPOINT_STATUSES = ['pending', 'running', 'serving', 'failed', 'terminated'] as const;
export const endpointStatus = z.enum(ENDPOINT_STATUSES);
export type EndpointStatus = z.infer<typeof endpointStatus>;
/** What is stored: `serving` is derived from the model endpoint's rule, never stored (DESIGN §1). */
export type StoredEndpointStatus = Exclude<EndpointStatus, 'serving'>;

export const PROTOCOLS = ['v1', 'v2'] as const;

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a valid environment variable name');

/** How the model server serves: adaptive micro-batching (opt-in) and a per-request time limit. */
export const servingOptions = z.strictObject({
  batching: z
    .strictObject({
      maxBatchSize: z.number().int().min(2).max(1024),
      maxLatencyMs: z.number().int().min(0).max(1000),
    })
    .optional(),
  requestTimeoutMs: z.number().int().min(10).max(300_000).optional(),
});
export type ServingOptions = z.infer<typeof servingOptions>;

export const deployBody = z.strictObject({
  environment: environmentName.optional(),
  resources: resources.optional(),
  env: z
    .record(envVarName, z.string().max(32_768))
    .refine((r) => Object.keys(r).length <= 100, 'at most 100 variables')
    .optional(),
  /** Protocol the endpoint advertises first; the model server always speaks both. */
  protocol: z.enum(PROTOCOLS).optional(),
  serving: servingOptions.optional(),
  /** Project secrets the model server gets as environment variables: `{ENV_VAR: secretName}`. */
  secrets: z
    .record(envVarName, secretName)
    .refine((r) => Object.keys(r).length <= 50, 'at most 50 secrets')
    .optional(),
});
export type DeployBody = z.infer<typeof deployBody>;

/** PATCH …/endpoints/{env}: the settings to change; the others stay as the endpoint has them. */
export const redeployBody = deployBody.omit({ environment: true }).extend({
  environment: z
    .never({ error: 'the environment of an endpoint cannot change; deploy into the other one with POST …/endpoints' })
    .optional(),
});
export type RedeployBody = z.infer<typeof redeployBody>;

export const revisionRef = z.object({ number: z.number().int().min(1), name: z.string() });
export type RevisionRef = z.infer<typeof revisionRef>;

export const versionEndpoint = z.object({
  project: z.string(),
  model: z.string(),
  version: z.number().int(),
  environment: z.string(),
  status: endpointStatus,
  url: z.string(),
  /** The revision that serves (null until a deploy succeeded, or after undeploy). */
  activeRevision: revisionRef.nullable(),
  /** Revision numbers handed out so far for this endpoint; the next deploy uses revisionCounter + 1. */
  revisionCounter: z.number().int().min(0),
  /** Status before the in-flight deployment, restored if a redeploy fails. */
  previousStatus: endpointStatus.nullable(),
  /** Latest deployment (in flight or finished). */
  deploymentId: z.string(),
  /** Why the endpoint is failed, when it is. */
  message: z.string().optional(),
  resources: resolvedResources,
  env: z.record(z.string(), z.string()),
  /** Secret names by environment variable (the mapping only, never the values). */
  secrets: z.record(z.string(), z.string()).optional(),
  serving: servingOptions.optional(),
  protocol: z.enum(PROTOCOLS),
  createdAt: timestamp,
  updatedAt: timestamp,
  revision,
});
export type VersionEndpoint = z.infer<typeof versionEndpoint>;

export const endpointPath = z.object({
  project: projectName,
  model: modelName,
  version: versionNumber,
  environment: environmentName,
});

export const destination = z.strictObject({
  version: z.number().int().min(1, 'version must be a positive integer'),
  weight: z.number().int().min(0).max(100),
});
export const mirror = z.strictObject({
  version: z.number().int().min(1),
  percent: z.number().min(0).max(100),
});
export const routeRule = z.strictObject({
  destinations: z.array(destination).min(1, 'name at least one destination').max(10),
  mirror: mirror.optional(),
});
export type RouteRule = z.infer<typeof routeRule>;

export const putModelEndpointBody = z.strictObject({ rule: routeRule });
export type PutModelEndpointBody = z.infer<typeof putModelEndpointBody>;

export const MODEL_ENDPOINT_STATUSES = ['pending', 'serving', 'failed', 'terminated'] as const;

export const modelEndpoint = z.object({
  project: z.string(),
  model: z.string(),
  environment: z.string(),
  url: z.string(),
  status: z.enum(MODEL_ENDPOINT_STATUSES),
  /** The rule the router carries out now (null until the first route was applied). */
  rule: routeRule.nullable(),
  /** Latest routing deployment. */
  deploymentId: z.string(),
  message: z.string().optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
  revision,
});
export type ModelEndpoint = z.infer<typeof modelEndpoint>;

export const modelEndpointPath = z.object({ project: projectName, model: modelName, environment: environmentName });

/** `?tail=100&since=2026-11-26T10:00:00Z` or `since=15m` (s, m, h, d ago). */
export const logsQuery = z.strictObject({
  tail: z.coerce.number().int().min(1).max(10_000).default(100),
  since: z
    .string()
    .transform((text, ctx) => {
      const rel = /^([0-9]{1,9})(s|m|h|d)$/.exec(text);
      if (rel) {
        const ms = Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'];
        return (now: Date) => now.getTime() - ms;
      }
      const at = Date.parse(text);
      if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}T/.test(text)) {
        ctx.addIssue({ code: 'custom', message: 'must be a time like 2026-11-26T10:00:00Z or a duration like 15m' });
        return z.NEVER;
      }
      return () => at;
    })
    .optional(),
  revision: z.coerce.number().int().min(1).optional(),
});
export type LogsQuery = z.output<typeof logsQuery>;

export const endpointLogs = z.object({
  project: z.string(),
  model: z.string(),
  version: z.number().int(),
  environment: z.string(),
  revision: z.string(),
  lines: z.array(z.string()),
});
