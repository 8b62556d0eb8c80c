/**
 * The embedded local platform: the same handlers, state machines, use cases and model server as on AWS, with
 * dynalite, s3rver, aws-local-stepfunctions and child processes standing in for DynamoDB, S3, Step Functions and EKS.
 */
import '../adapters/local/promise-polyfill.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { buildModelServerCommand } from '../adapters/local/model-server-bundle.js';
import { ProcessCluster } from '../adapters/local/process-cluster.js';
import { type LocalTask, LocalWorkflowRunner } from '../adapters/local/workflow-runner.js';
import { DEFAULT_ENVIRONMENTS, Environments } from '../core/environments.js';
import { WORKFLOWS, type WorkflowName } from '../core/ports.js';
import type { EnvironmentConfig } from '../core/schemas/environment.js';
import { getDeps, provideLocal } from '../functions/shared/container.js';
import { STATE_MACHINE_ENV } from '../functions/shared/env.js';
import { SERVICE_TASKS, STATE_MACHINE_FILES, WORKFLOW_TASKS } from '../functions/workflow/tasks.js';
import { createRouter } from '../serving/router.js';
import { createApiGateway, loadRoutes } from './api-gateway.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from './emulators.js';
import { type RecoveryReport, recoverEnvironment } from './recovery.js';
import { markCrashedRevision } from './watch.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TABLE_NAME = 'merlin';
export const ARTIFACT_BUCKET = 'merlin-artifacts';

export interface PlatformOptions {
  port: number;
  host?: string;
  dataDir: string;
  /** merlin.config.json: `{"environments": [...]}`; absent ⇒ one `local` environment. */
  configPath?: string;
  /** Retry back-off of the state machines in ms (default: the ASL's own intervals). */
  retryIntervalMs?: number;
  log?: (line: string) => void;
}

export interface Platform {
  url: string;
  apiUrl: string;
  /** Serving base URL per local environment. */
  servingUrls: Record<string, string>;
  runner: LocalWorkflowRunner;
  clusters: Map<string, ProcessCluster>;
  recovery: Record<string, RecoveryReport>;
  stop(): Promise<void>;
}

function readConfig(path: string | undefined): EnvironmentConfig[] {
  if (!path || !existsSync(path)) return DEFAULT_ENVIRONMENTS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  const envs = (parsed as { environments?: unknown }).environments;
  if (!Array.isArray(envs)) throw new Error(`${path} must be {"environments": [...]}`);
  return envs as EnvironmentConfig[];
}

/**
 * Imports a handler module by its table entry. A computed file URL (not a template literal) so that tsx, vitest and
 * Node resolve the same TypeScript source file.
 */
export const importSource = (...segments: string[]): Promise<unknown> =>
  import(pathToFileURL(`${join(ROOT, ...segments)}.ts`).href);

const lambdaContext = (name: string): Context =>
  ({
    functionName: name,
    awsRequestId: name,
    getRemainingTimeInMillis: () => 60_000,
    callbackWaitsForEmptyEventLoop: false,
  }) as Context;

async function loadWorkflowTasks(): Promise<Record<string, LocalTask>> {
  const entries = await Promise.all(
    Object.entries(WORKFLOW_TASKS).map(async ([key, entry]) => {
      const mod = (await importSource('functions', 'workflow', entry)) as {
        handler: (event: unknown, ctx: Context) => Promise<unknown>;
      };
      const task: LocalTask = (input) => mod.handler(input, lambdaContext(`merlin-local-${key}`));
      return [key, task] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * The service-integration Task states locally (functions/workflow/tasks.ts SERVICE_TASKS): each placeholder gets a
 * `merlin-local-…` name and each state a stand-in that fails clearly. None runs in practice: `Build Image` is only
 * reached when Prepare finds a revision that needs an image built, which happens only in EKS environments.
 */
export function localServiceTasks(): {
  substitutions: Record<string, string>;
  stateHandlers: Record<string, LocalTask>;
} {
  const substitutions: Record<string, string> = {};
  const stateHandlers: Record<string, LocalTask> = {};
  for (const [state, task] of Object.entries(SERVICE_TASKS)) {
    for (const placeholder of task.placeholders) {
      const kebab = placeholder.replace(/(Name|Arn)$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2');
      substitutions[placeholder] = `merlin-local-${kebab.toLowerCase()}`;
    }
    stateHandlers[state] = async () => {
      const error = new Error(`${state} (${task.resource}) runs only on AWS; the local platform has no such service`);
      error.name = 'ServiceUnavailableLocally';
      throw error;
    };
  }
  return { substitutions, stateHandlers };
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  return (server.address() as AddressInfo).port;
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  const config = readConfig(options.configPath);
  const emulators = await startEmulators(options.dataDir, { table: TABLE_NAME, bucket: ARTIFACT_BUCKET });

  const server = createServer();
  let port: number;
  try {
    port = await listen(server, options.port, host);
  } catch (e) {
    await emulators.stop();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new Error(`port ${options.port} is in use; pass --port to choose another`);
    throw e;
  }
  const url = `http://${host}:${port}`;

  // Each local environment gets its own serving prefix; the first (preferring the default) the plain /serving.
  const locals = config.filter((e) => (e.cluster?.kind ?? 'local') === 'local');
  locals.sort((a, b) => Number(!!b.isDefault) - Number(!!a.isDefault));
  const prefixes = new Map(locals.map((e, i) => [e.name, i === 0 ? '/serving' : `/envs/${e.name}/serving`]));
  const environments = new Environments(config, (name) => `${url}${prefixes.get(name) ?? '/serving'}`);

  Object.assign(process.env, {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
    AWS_ENDPOINT_URL_S3: emulators.s3Endpoint,
    TABLE_NAME,
    ARTIFACT_BUCKET,
    MERLIN_ENVIRONMENTS: JSON.stringify(environments.all),
    // Secret values are encrypted with a key kept beside the data they protect (created on first use).
    MERLIN_SECRETS_KEY_FILE: join(options.dataDir, 'secrets.key'),
  });
  // A KMS key of the caller's AWS account cannot be reached with the emulators' credentials: always the key file.
  delete process.env.SECRETS_KEY_ID;
  // Nor an ECR repository: the local platform builds no images (functions/shared/container.ts).
  delete process.env.IMAGE_REPOSITORY_URI;

  // Model servers download artifacts under the data dir; leftovers of a killed platform are cleared here.
  const cacheRoot = join(options.dataDir, 'model-cache');
  rmSync(cacheRoot, { recursive: true, force: true });
  const command = await buildModelServerCommand();
  const clusters = new Map<string, ProcessCluster>();
  for (const env of locals) {
    clusters.set(
      env.name,
      new ProcessCluster({
        command,
        cacheRoot: join(cacheRoot, env.name),
        baseEnv: {
          AWS_REGION: LOCAL_REGION,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          AWS_ENDPOINT_URL_S3: emulators.s3Endpoint,
        },
        onEvent: (e) => {
          if (e.type === 'ready') log(`revision ${e.revision} ready on port ${e.port}`);
          if (e.type === 'failed') {
            log(`revision ${e.revision} failed: ${e.reason}`);
            markCrashedRevision(getDeps(), env.name, e.revision, e.reason).catch((err) =>
              log(`could not record the failure of ${e.revision}: ${(err as Error).message}`),
            );
          }
        },
      }),
    );
  }

  const definitions = Object.fromEntries(
    WORKFLOWS.map((w) => [w, readFileSync(join(ROOT, 'statemachines', STATE_MACHINE_FILES[w]), 'utf8')]),
  ) as Record<WorkflowName, string>;
  const runner = new LocalWorkflowRunner({
    definitions,
    tasks: await loadWorkflowTasks(),
    ...localServiceTasks(),
    ...(options.retryIntervalMs !== undefined && { retryIntervalMs: options.retryIntervalMs }),
  });
  for (const [workflow, name] of Object.entries(STATE_MACHINE_ENV)) {
    process.env[name] = runner
      .executionArn(workflow as WorkflowName, 'x')
      .replace(/:execution:(.*):x$/, ':stateMachine:$1');
  }
  provideLocal({
    workflows: runner,
    localCluster: (name) => {
      const c = clusters.get(name);
      if (!c) throw new Error(`no local cluster for environment ${name}`);
      return c;
    },
  });

  const api = createApiGateway(await loadRoutes((module) => importSource('functions', 'api', module)));
  const routers = [...clusters].map(([name, cluster]) => ({
    prefix: prefixes.get(name)!,
    route: createRouter(cluster),
  }));
  server.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    for (const r of routers) {
      if (path === r.prefix || path.startsWith(`${r.prefix}/`)) return r.route(req, res, path.slice(r.prefix.length));
    }
    api(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'INTERNAL', message: String((e as Error).message) } }));
    });
  });

  const recovery: Record<string, RecoveryReport> = {};
  for (const [name, cluster] of clusters) {
    recovery[name] = await recoverEnvironment(getDeps(), name, cluster);
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      server.closeAllConnections?.();
      await new Promise<void>((ok) => server.close(() => ok()));
      await runner.abortAll();
      await Promise.all([...clusters.values()].map((c) => c.shutdown()));
      await emulators.stop();
    })();
    return stopping;
  };

  return {
    url,
    apiUrl: `${url}/v1`,
    servingUrls: Object.fromEntries([...prefixes].map(([name, prefix]) => [name, `${url}${prefix}`])),
    runner,
    clusters,
    recovery,
    stop,
  };
}
