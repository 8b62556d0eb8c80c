import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as z from 'zod';
import { DEFAULT_ENVIRONMENTS, Environments } from '../core/environments.js';
import type { Environment } from '../core/schemas/environment.js';

/** The repository root: NodejsFunction's projectRoot, and where the ASL files and merlin.config.json live. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const CONFIG_FILE = 'merlin.config.json';

/** `{"environments": [...], "modelServerImage"?, "imageBuildArchitecture"?}`: merlin.config.json (DESIGN §7). */
export interface MerlinConfig {
  environments: unknown;
  /** The model-server image EKS environments run unless their cluster names one (MODEL_SERVER_IMAGE); docs/eks.md. */
  modelServerImage?: unknown;
  /** CPU architecture of the images built from artifacts: that of the EKS nodes (default x86_64). */
  imageBuildArchitecture?: unknown;
}

export const IMAGE_BUILD_ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type ImageBuildArchitecture = (typeof IMAGE_BUILD_ARCHITECTURES)[number];

/** What the stage config says about images, validated (`servingConfig`). */
export interface ServingConfig {
  modelServerImage?: string;
  imageBuildArchitecture: ImageBuildArchitecture;
}

const servingSchema = z.strictObject({
  modelServerImage: z
    .string()
    .max(512)
    .regex(/^[a-z0-9]+([._/:@-][a-zA-Z0-9]+)*$/, 'must be a container image reference like registry/name:tag')
    .optional(),
  imageBuildArchitecture: z.enum(IMAGE_BUILD_ARCHITECTURES).default('x86_64'),
});

/**
 * The image settings of the stage: merlin.config.json's, with `-c modelServerImage=…` on the command line taking
 * precedence (a pipeline that has just pushed the model-server image passes its tag that way).
 */
export const servingConfig = (
  config: MerlinConfig,
  context: { modelServerImage?: unknown } = {},
  source = CONFIG_FILE,
): ServingConfig => {
  const parsed = servingSchema.safeParse({
    modelServerImage: context.modelServerImage ?? config.modelServerImage,
    imageBuildArchitecture: config.imageBuildArchitecture,
  });
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`${source}: ${msg}`);
  }
  return parsed.data;
};

/** The EKS clusters the environments name, once each (the workflow may reach exactly these). */
export const eksClusters = (environmentsJson: string): { eksClusterName: string; region: string }[] => {
  const seen = new Map<string, { eksClusterName: string; region: string }>();
  for (const env of JSON.parse(environmentsJson) as Environment[]) {
    if (env.cluster.kind !== 'eks') continue;
    const { eksClusterName, region } = env.cluster;
    seen.set(`${region}/${eksClusterName}`, { eksClusterName, region });
  }
  return [...seen.values()];
};

/** A mistake in the stage or the environments config: the CLI entry prints just the message. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const STAGE = /^[a-z][a-z0-9-]{0,19}$/;

/** What differs between stages. Everything stateful is kept outside `dev`. */
export interface StageSettings {
  stage: string;
  /** `Merlin-<stage>`: prefix of stack and physical names. */
  prefix: string;
  /** RETAIN for data (table, bucket) and logs outside dev; DESTROY in dev. */
  removalPolicy: RemovalPolicy;
  logRetention: RetentionDays;
}

export const stageSettings = (stage: unknown): StageSettings => {
  if (typeof stage !== 'string' || !STAGE.test(stage)) {
    throw new ConfigError(
      `invalid stage ${JSON.stringify(stage)}: use 1-20 lowercase letters, digits and hyphens, starting with a letter (cdk synth -c stage=dev)`,
    );
  }
  const dev = stage === 'dev';
  return {
    stage,
    prefix: `Merlin-${stage}`,
    removalPolicy: dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    logRetention: dev ? RetentionDays.ONE_WEEK : RetentionDays.ONE_MONTH,
  };
};

/**
 * The `context` of cdk.json (the feature flags `cdk init` recommends for this aws-cdk-lib). The CLI passes it to the
 * app itself; apps built in-process (tests) take it from here, so both synthesize the same templates.
 */
export const cdkJsonContext = (root: string = REPO_ROOT): Record<string, unknown> => {
  const cdkJson = JSON.parse(readFileSync(path.join(root, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
};

/** merlin.config.json at the repository root if present, else the built-in single `local` environment. */
export const readMerlinConfig = (root: string = REPO_ROOT): MerlinConfig => {
  const file = path.join(root, CONFIG_FILE);
  if (!existsSync(file)) return { environments: DEFAULT_ENVIRONMENTS };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${CONFIG_FILE}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || !('environments' in parsed)) {
    throw new ConfigError(`${CONFIG_FILE}: expected an object {"environments": [...]}`);
  }
  const { environments, modelServerImage, imageBuildArchitecture } = parsed as MerlinConfig;
  return { environments, modelServerImage, imageBuildArchitecture };
};

/**
 * The data plane has no AWS address yet for an environment that declares no `servingUrl` (e.g. the default
 * `local` one); `.invalid` (RFC 2606) makes the placeholder unmistakable in API responses.
 */
export const placeholderServingUrl = (name: string): string => `https://${name}.serving.invalid`;

/**
 * Lambda allows 4 KB for all environment variables of a function together; the other variables take about 500 bytes.
 */
const MAX_ENVIRONMENTS_JSON = 3072;

/**
 * Validates the environments exactly as the functions will (core/environments.ts) and renders the value of
 * `MERLIN_ENVIRONMENTS`: the validated configs with defaults and servingUrl filled in, so every function sees what
 * synth checked. Throws a message naming the config file and the offending field.
 */
export const environmentsJson = (config: MerlinConfig, source = CONFIG_FILE): string => {
  let environments: Environments;
  try {
    environments = new Environments(config.environments, placeholderServingUrl);
  } catch (err) {
    throw new ConfigError(`${source}: ${(err as Error).message}`);
  }
  const json = JSON.stringify(environments.all);
  if (json.length > MAX_ENVIRONMENTS_JSON) {
    throw new ConfigError(
      `${source}: the environments take ${json.length} bytes as MERLIN_ENVIRONMENTS; functions allow at most ` +
        `${MAX_ENVIRONMENTS_JSON} (Lambda's 4 KB limit for all variables). Declare fewer environments or fewer overrides.`,
    );
  }
  return json;
};
