import * as z from 'zod';
import { environmentName } from './common.js';

/** Kubernetes quantities as strings: cpu "500m" / "2", memory "512Mi" / "1Gi". Parsed in core/quantity.ts. */
export const cpuQuantity = z
  .string()
  .regex(/^([0-9]+m|[0-9]+(\.[0-9]+)?)$/, 'must be a CPU quantity like "500m" or "2"');
export const memoryQuantity = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$/, 'must be a memory quantity like "512Mi" or "2Gi"');

export const resources = z.strictObject({
  cpu: cpuQuantity.optional(),
  memory: memoryQuantity.optional(),
  minReplicas: z.number().int().min(0).max(100).optional(),
  maxReplicas: z.number().int().min(1).max(100).optional(),
});
export type Resources = z.infer<typeof resources>;

export const resolvedResources = z.object({
  cpu: cpuQuantity,
  memory: memoryQuantity,
  minReplicas: z.number().int(),
  maxReplicas: z.number().int(),
});
export type ResolvedResources = z.infer<typeof resolvedResources>;

/** A Kubernetes object name (DNS-1123 label). */
const k8sName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes name (lowercase letters, digits, "-")');

export const clusterConfig = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local') }),
  z.strictObject({
    kind: z.literal('eks'),
    eksClusterName: z.string().min(1),
    region: z.string().min(1),
    /** Prepended to the project name to make its Kubernetes namespace (default: none, namespace = project). */
    namespacePrefix: z
      .string()
      .regex(/^[a-z0-9-]{0,12}$/, 'must be at most 12 lowercase letters, digits and "-"')
      .optional(),
    /** The Gateway API Gateway the HTTPRoutes attach to (required to route; its listener must admit the namespaces). */
    gateway: z.strictObject({ name: k8sName, namespace: k8sName, sectionName: k8sName.optional() }).optional(),
    /** Host the HTTPRoutes match; default: the host of `servingUrl`. */
    servingHost: z
      .string()
      .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a DNS host name')
      .max(253)
      .optional(),
    /** Service account the model servers run as (IRSA: its IAM role reads the artifact bucket). */
    serviceAccountName: k8sName.optional(),
    /** Model-server image; default: the MODEL_SERVER_IMAGE the workflow functions get. */
    modelServerImage: z.string().min(1).max(512).optional(),
  }),
]);
export type ClusterConfig = z.infer<typeof clusterConfig>;

/** One environment as declared in merlin.config.json (DESIGN §7); defaults filled in. */
export const environmentConfig = z.strictObject({
  name: environmentName,
  isDefault: z.boolean().default(false),
  cluster: clusterConfig.default({ kind: 'local' }),
  /** Base URL of the data plane. Locally filled in by the platform from its listening address. */
  servingUrl: z.url().optional(),
  defaults: z
    .strictObject({
      cpu: cpuQuantity.default('500m'),
      memory: memoryQuantity.default('512Mi'),
      minReplicas: z.number().int().min(0).default(1),
      maxReplicas: z.number().int().min(1).default(1),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxCpu: cpuQuantity.default('4'),
      maxMemory: memoryQuantity.default('8Gi'),
      maxReplicas: z.number().int().min(1).default(10),
    })
    .prefault({}),
  maxActiveVersionsPerModel: z.number().int().min(1).default(2),
  deploymentTimeoutSeconds: z.number().int().min(1).max(3600).default(300),
});
export type EnvironmentConfig = z.input<typeof environmentConfig>;
export type Environment = z.output<typeof environmentConfig> & { servingUrl: string };

export const environmentsConfig = z
  .array(environmentConfig)
  .min(1, 'declare at least one environment')
  .superRefine((envs, ctx) => {
    const names = new Set<string>();
    for (const e of envs) {
      if (names.has(e.name)) ctx.addIssue({ code: 'custom', message: `environment "${e.name}" is declared twice` });
      names.add(e.name);
    }
    const defaults = envs.filter((e) => e.isDefault).length;
    if (defaults > 1) ctx.addIssue({ code: 'custom', message: 'exactly one environment may be the default' });
  });

/** The environment as the API shows it. */
export const environmentView = z.object({
  name: z.string(),
  isDefault: z.boolean(),
  cluster: clusterConfig,
  servingUrl: z.string(),
  defaults: resolvedResources,
  limits: z.object({ maxCpu: z.string(), maxMemory: z.string(), maxReplicas: z.number() }),
  maxActiveVersionsPerModel: z.number(),
  deploymentTimeoutSeconds: z.number(),
});
export type EnvironmentView = z.infer<typeof environmentView>;
