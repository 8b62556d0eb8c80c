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
export type FunctionEnv = z.infer<typeof schema>;

export const ENV_NAMES = Object.keys(schema.shape) as (keyof FunctionEnv)[];

export const STATE_MACHINE_ENV: Record<WorkflowName, keyof FunctionEnv> = {
  'deploy-version': 'DEPLOY_VERSION_STATE_MACHINE_ARN',
  'undeploy-version': 'UNDEPLOY_VERSION_STATE_MACHINE_ARN',
  'update-route': 'UPDATE_ROUTE_STATE_MACHINE_ARN',
};

let cached: FunctionEnv | undefined;

export const readEnv = (env: NodeJS.ProcessEnv = process.env): FunctionEnv => {
  if (cached && env === process.env) return cached;
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new Error(`function environment is incomplete or invalid: ${missing}`);
  }
  if (env === process.env) cached = parsed.data;
  return parsed.data;
};
