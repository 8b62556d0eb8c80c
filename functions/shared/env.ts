import * as z from 'zod';
import type { WorkflowName } from '../../core/ports.js';

/**
 * The environment contract of every function (parsed once, fail fast). `infra/` sets exactly these variables;
 * the local platform sets the same ones before it loads a handler.
 */
const schema = z.object({
  TABLE_NAME: z.string().min(3),
  ARTIFACT_BUCKET: z.string().min(3),
  DEPLOY_VERSION_STATE_MACHINE_ARN: z.string().min(1),
  UNDEPLOY_VERSION_STATE_MACHINE_ARN: z.string().min(1),
  UPDATE_ROUTE_STATE_MACHINE_ARN: z.string().min(1),
  /** JSON array of environment configs (DESIGN §7; same shape as merlin.config.json `environments`). */
  MERLIN_ENVIRONMENTS: z.string().min(2),
  AWS_REGION: z.string().default('us-east-1'),
});
/** Variables only some functions get (infra binds them where the feature is used); not part of ENV_NAMES. */
const optional = z.object({
  /** KMS key (id or ARN) secret values are encrypted under; unset ⇒ the local key-file cipher. */
  SECRETS_KEY_ID: z.string().min(1).optional(),
  /** The local key-file cipher's key (the local platform sets `<dataDir>/secrets.key`). */
  MERLIN_SECRETS_KEY_FILE: z.string().min(1).optional(),
  /** ECR repository (URI) of images built from artifacts; set for the deploy tasks that check and use them. */
  IMAGE_REPOSITORY_URI: z.string().min(1).optional(),
  /** The model-server container image EKS environments run unless their cluster config names one. */
  MODEL_SERVER_IMAGE: z.string().min(1).optional(),
  /** The CDK stage (`dev`, `prod`, …): the `stage` dimension of business metrics (functions/shared/observability.ts). */
  MERLIN_STAGE: z.string().min(1).optional(),
});
export type FunctionEnv = z.infer<typeof schema> & z.infer<typeof optional>;

/** The variables every function must get. */
export const ENV_NAMES = Object.keys(schema.shape) as (keyof FunctionEnv)[];

export const STATE_MACHINE_ENV: Record<WorkflowName, keyof FunctionEnv> = {
  'deploy-version': 'DEPLOY_VERSION_STATE_MACHINE_ARN',
  'undeploy-version': 'UNDEPLOY_VERSION_STATE_MACHINE_ARN',
  'update-route': 'UPDATE_ROUTE_STATE_MACHINE_ARN',
};

let cached: FunctionEnv | undefined;

export const readEnv = (env: NodeJS.ProcessEnv = process.env): FunctionEnv => {
  if (cached && env === process.env) return cached;
  const parsed = schema.extend(optional.shape).safeParse(env);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new Error(`function environment is incomplete or invalid: ${missing}`);
  }
  if (env === process.env) cached = parsed.data;
  return parsed.data;
};
