import * as z from 'zod';
import { revision, timestamp } from './common.js';
import { PROTOCOLS, routeRule, servingOptions } from './endpoint.js';
import { resolvedResources } from './environment.js';

export const DEPLOYMENT_KINDS = ['deploy', 'undeploy', 'route'] as const;
export type DeploymentKind = (typeof DEPLOYMENT_KINDS)[number];

/** User-facing steps of each workflow, in order. Task state names in statemachines/*.asl.json match these. */
export const DEPLOYMENT_STEPS = {
  deploy: ['Prepare', 'Build Image', 'Apply Revision', 'Wait Until Ready', 'Promote'],
  undeploy: ['Prepare', 'Remove Revision', 'Finalize'],
  route: ['Prepare', 'Apply Route', 'Finalize'],
} as const satisfies Record<DeploymentKind, readonly string[]>;

export const stepStatus = z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']);
export const deploymentStep = z.object({
  name: z.string(),
  status: stepStatus,
  startedAt: timestamp.optional(),
  endedAt: timestamp.optional(),
  /** Attempts (e.g. readiness checks) made in this step. */
  attempts: z.number().int().min(0),
  error: z.string().optional(),
});
export type DeploymentStep = z.infer<typeof deploymentStep>;

export const deploymentStatus = z.enum(['pending', 'running', 'succeeded', 'failed']);
export type DeploymentStatus = z.infer<typeof deploymentStatus>;

export const deployment = z.object({
  id: z.string(),
  kind: z.enum(DEPLOYMENT_KINDS),
  project: z.string(),
  model: z.string(),
  version: z.number().int().optional(),
  environment: z.string(),
  status: deploymentStatus,
  /** The revision this deployment creates (deploy) or removes (undeploy). */
  targetRevision: z.object({ number: z.number().int(), name: z.string() }).optional(),
  /** The revision serving when a redeploy started; removed once the new one is promoted. */
  previousRevision: z.object({ number: z.number().int(), name: z.string() }).optional(),
  /** What was asked for: the resolved deploy settings, or the routing rule. */
  request: z.object({
    resources: resolvedResources.optional(),
    env: z.record(z.string(), z.string()).optional(),
    /** Secret names by environment variable; the values are resolved by the Apply Revision step, never stored. */
    secrets: z.record(z.string(), z.string()).optional(),
    protocol: z.enum(PROTOCOLS).optional(),
    serving: servingOptions.optional(),
    rule: routeRule.optional(),
    /** A route deployment that takes the model endpoint down (DELETE) instead of applying a rule. */
    removeRoute: z.literal(true).optional(),
  }),
  steps: z.array(deploymentStep),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  execution: z.object({ workflow: z.string(), name: z.string(), arn: z.string() }),
  createdAt: timestamp,
  updatedAt: timestamp,
  startedAt: timestamp.optional(),
  endedAt: timestamp.optional(),
  revision,
});
export type Deployment = z.infer<typeof deployment>;

export const deploymentPath = z.object({
  id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a deployment id (a 26-character ULID)'),
});
