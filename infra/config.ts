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

/**
 * `{"environments": [...], "modelServerImage"?, "imageBuildArchitecture"?, "stages"?}`: merlin.config.json
 * (DESIGN §7).
 */
export interface MerlinConfig {
  environments: unknown;
  /** Per-stage settings of the CDK app (stageSettings): `{ "prod": { "authorizer": {...}, ... } }`. */
  stages?: unknown;
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

/** Log retentions CloudWatch Logs accepts (RetentionDays), in days. */
const RETENTIONS = new Set<number>(Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'));

/**
 * Who may call the API. `iam`: SigV4-signed requests of principals whose IAM policy allows `execute-api:Invoke`
 * (the SDK's `sigv4()`). `jwt`: a bearer token from an OIDC issuer (Cognito, Auth0, Okta, …) whose `aud` is one of
 * `audience` (the SDK's `bearer(token)`). There is no anonymous option: only `/healthz` answers without credentials.
 */
const authorizerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('iam') }),
  z.strictObject({
    type: z.literal('jwt'),
    issuer: z.url({ protocol: /^https$/, error: 'must be the https URL of the OIDC issuer' }),
    audience: z.array(z.string().min(1)).min(1),
    /** OAuth scopes every route requires (none by default). */
    scopes: z.array(z.string().min(1)).optional(),
  }),
]);
export type AuthorizerConfig = z.infer<typeof authorizerSchema>;

/** One stage's settings in merlin.config.json `stages` or the `stages` context; every field optional. */
const stageOverridesSchema = z.strictObject({
  /** `retain` keeps the table, bucket, keys, repository and logs when a stack is deleted; `destroy` removes them. */
  removalPolicy: z.enum(['retain', 'destroy']).optional(),
  /** DynamoDB deletion protection on the table. */
  deletionProtection: z.boolean().optional(),
  /** Retention of every log group (functions, state machines, API access logs, builds), in days. */
  logRetentionDays: z
    .number()
    .refine((d) => RETENTIONS.has(d), { error: `must be one of ${[...RETENTIONS].join(', ')}` })
    .optional(),
  authorizer: authorizerSchema.optional(),
  /** API Gateway stage throttling for every route: steady requests per second and the burst above it. */
  throttle: z
    .strictObject({ rateLimit: z.number().positive().max(10_000), burstLimit: z.int().min(1).max(5000) })
    .optional(),
  /**
   * Build serving/Dockerfile as a CDK image asset (pushed to the CDK assets repository at deploy, which then needs
   * Docker) and run it in every EKS environment that names no image, unless `modelServerImage` names one.
   */
  modelServerImageAsset: z.boolean().optional(),
  /** Who is emailed when an alarm fires (the stage's alarm topic; subscribe anything else to its ARN output). */
  alarmEmails: z.array(z.email()).max(10).optional(),
});
export type StageOverrides = z.infer<typeof stageOverridesSchema>;
const stagesSchema = z.record(
  z.string().regex(STAGE, 'a stage name: 1-20 lowercase letters, digits and hyphens'),
  stageOverridesSchema,
);

/** `dev` is disposable; every other stage (prod and user-defined ones) is kept and protected unless configured. */
const DEV_DEFAULTS: Required<Omit<StageOverrides, 'authorizer'>> & { authorizer: AuthorizerConfig } = {
  removalPolicy: 'destroy',
  deletionProtection: false,
  logRetentionDays: RetentionDays.ONE_WEEK,
  authorizer: { type: 'iam' },
  throttle: { rateLimit: 50, burstLimit: 100 },
  modelServerImageAsset: false,
  alarmEmails: [],
};
const KEPT_DEFAULTS: typeof DEV_DEFAULTS = {
  removalPolicy: 'retain',
  deletionProtection: true,
  logRetentionDays: RetentionDays.THREE_MONTHS,
  authorizer: { type: 'iam' },
  throttle: { rateLimit: 200, burstLimit: 400 },
  modelServerImageAsset: false,
  alarmEmails: [],
};

/** What differs between stages (DESIGN §7): defaults by stage, then merlin.config.json `stages`, then cdk context. */
export interface StageSettings {
  stage: string;
  /** `Merlin-<stage>`: prefix of stack and physical names. */
  prefix: string;
  /** RETAIN for data (table, bucket, keys, repository) and logs outside dev; DESTROY in dev. */
  removalPolicy: RemovalPolicy;
  /** DynamoDB deletion protection (on outside dev). */
  deletionProtection: boolean;
  logRetention: RetentionDays;
  authorizer: AuthorizerConfig;
  throttle: { rateLimit: number; burstLimit: number };
  /** ServingStack builds the model-server image from serving/Dockerfile (a CDK image asset). */
  modelServerImageAsset: boolean;
  /** Email subscriptions of the stage's alarm topic. */
  alarmEmails: string[];
}

/** Where stage settings may come from besides the built-in defaults. */
export interface StageSources {
  /** merlin.config.json `stages`: `{ "<stage>": { ...overrides } }`. */
  file?: unknown;
  /** The `stages` context (cdk.json or `-c stages='{"prod":{...}}'`), same shape, taking precedence. */
  context?: unknown;
  /** For messages: where `file` came from. */
  fileName?: string;
}

const parseStages = (value: unknown, where: string): z.infer<typeof stagesSchema> => {
  if (value === undefined) return {};
  let raw = value;
  if (typeof value === 'string') {
    try {
      raw = JSON.parse(value);
    } catch (err) {
      throw new ConfigError(`${where}: not valid JSON: ${(err as Error).message}`);
    }
  }
  const parsed = stagesSchema.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`${where}: ${msg}`);
  }
  return parsed.data;
};

export const stageSettings = (stage: unknown, sources: StageSources = {}): StageSettings => {
  if (typeof stage !== 'string' || !STAGE.test(stage)) {
    throw new ConfigError(
      `invalid stage ${JSON.stringify(stage)}: use 1-20 lowercase letters, digits and hyphens, starting with a letter (cdk synth -c stage=dev)`,
    );
  }
  const file = parseStages(sources.file, `${sources.fileName ?? CONFIG_FILE} stages`);
  const context = parseStages(sources.context, 'the "stages" context');
  const s = { ...(stage === 'dev' ? DEV_DEFAULTS : KEPT_DEFAULTS), ...file[stage], ...context[stage] };
  return {
    stage,
    prefix: `Merlin-${stage}`,
    removalPolicy: s.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    deletionProtection: s.deletionProtection,
    logRetention: s.logRetentionDays as RetentionDays,
    authorizer: s.authorizer,
    throttle: s.throttle,
    modelServerImageAsset: s.modelServerImageAsset,
    alarmEmails: s.alarmEmails,
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
  const { environments, modelServerImage, imageBuildArchitecture, stages } = parsed as MerlinConfig;
  return { environments, modelServerImage, imageBuildArchitecture, ...(stages !== undefined && { stages }) };
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
