/**
 * The model server: `node --import tsx serving/main.ts`, configured by environment variables (see config.ts).
 *
 * Lifecycle: listen first (liveness answers), then fetch the artifact, load the model, run a warm-up inference on
 * zeros shaped like the inputs (variable dimensions = 1), and only then report ready. A startup failure is logged as
 * `model failed to load: <reason>` and ends the process with code 1 (a function model's keeps it up, never ready: see
 * failAlive). SIGTERM/SIGINT stop accepting connections, let in-flight requests finish (up to SHUTDOWN_GRACE_MS) and
 * exit 0. With an IPC channel, see ipc.ts.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fetchArtifact } from './artifact.js';
import { parseConfig, type ServerConfig } from './config.js';
import { hasParent, notifyParent, waitForParent } from './ipc.js';
import { createLogger, errorMessage, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import type { ServedModel } from './protocols/common.js';
import { loadRuntime } from './runtimes/index.js';
import type { Runtime } from './runtimes/runtime.js';
import { createModelServer, type ModelServer } from './server.js';
import { type Tensor, zeros } from './tensors.js';

// The AWS SDK (imported lazily for s3:// artifacts) warns about Node 20 on every start otherwise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A temporary cache directory this process created, removed on exit. */
let ownedCacheDir: string | undefined;

function exit(code: number): never {
  if (ownedCacheDir) rmSync(ownedCacheDir, { recursive: true, force: true });
  process.exit(code);
}

/**
 * A function model that cannot load (failed import, no `predict`, failing `load` or warm-up): the server stays up and
 * not ready, readiness answers 503 with the reason, and the parent hears at once (`alive: true`), so the platform
 * fails the deployment without waiting for its timeout. SIGTERM or a disconnected parent end the process as usual.
 */
async function failAlive(logger: Logger, model: ServedModel, reason: string, err: unknown): Promise<void> {
  const cause = err instanceof Error ? err.cause : undefined;
  logger.error(reason, cause instanceof Error && cause.stack ? { stack: cause.stack } : undefined);
  model.failure = reason;
  const runtime = model.runtime;
  model.runtime = undefined;
  await runtime?.close().catch(() => undefined);
  await notifyParent({ type: 'failed', reason, alive: true });
}

/** Logs the reason as the last line, tells the parent, exits 1. */
async function fail(logger: Logger, reason: string): Promise<never> {
  logger.error(reason);
  await Promise.race([notifyParent({ type: 'failed', reason }), new Promise((r) => setTimeout(r, 1000).unref())]);
  exit(1);
}

async function cacheDir(config: ServerConfig): Promise<string> {
  if (config.cacheDir) {
    await mkdir(config.cacheDir, { recursive: true });
    return config.cacheDir;
  }
  ownedCacheDir = await mkdtemp(path.join(os.tmpdir(), 'merlin-model-'));
  return ownedCacheDir;
}

async function warmUp(runtime: Runtime): Promise<void> {
  const inputs = new Map<string, Tensor>(runtime.inputs.map((m) => [m.name, zeros(m)]));
  try {
    await (runtime.warmUp ? runtime.warmUp() : runtime.infer(inputs));
  } catch (err) {
    throw new Error(`warm-up inference failed: ${errorMessage(err)}`);
  }
}

async function load(config: ServerConfig, model: ServedModel, logger: Logger): Promise<void> {
  const started = performance.now();
  const artifact = await fetchArtifact(config.artifact, config.modelFile, () => cacheDir(config));
  if (artifact.files > 0) {
    logger.info('artifact downloaded', {
      uri: config.artifact.uri,
      dir: artifact.dir,
      files: artifact.files,
      bytes: artifact.bytes,
      downloadMs: Math.round(performance.now() - started),
    });
  }
  const loadStarted = performance.now();
  const runtime = await loadRuntime(config.modelType, {
    modelPath: artifact.modelPath,
    artifactDir: artifact.dir,
    onnx: config.onnx,
    function: {
      modelName: config.modelName,
      version: config.modelVersion,
      logger,
      timeoutMs: config.serving.requestTimeoutMs,
    },
  });
  model.runtime = runtime;
  const loadMs = Math.round(performance.now() - loadStarted);
  logger.info('model loaded', {
    loadMs,
    platform: runtime.platform,
    inputs: runtime.inputs,
    outputs: runtime.outputs,
  });
  await notifyParent({ type: 'loaded', loadMs });
  if (process.env.SERVING_TEST_HOLD_WARMUP === '1' && hasParent()) await waitForParent('warmup');

  const warmupStarted = performance.now();
  await warmUp(runtime);
  model.ready = true;
  logger.info('ready', { warmupMs: Math.round(performance.now() - warmupStarted) });
  await notifyParent({ type: 'ready' });
}

function installShutdown(server: ModelServer, model: ServedModel, config: ServerConfig, logger: Logger): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    model.ready = false; // readiness probes fail while draining
    logger.info('shutting down', { signal, graceMs: config.shutdownGraceMs });
    await server.shutdown(config.shutdownGraceMs);
    logger.info('stopped');
    exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (hasParent()) {
    // The parent is gone (or let us go): no orphans.
    process.once('disconnect', () => {
      logger.info('parent disconnected; exiting');
      exit(0);
    });
    // The HTTP server keeps the process alive; the channel alone must not.
    process.channel?.unref();
  }
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    return fail(createLogger(), errorMessage(err));
  }
  const logger = createLogger({ model: config.modelName, version: config.modelVersion });
  process.on('uncaughtException', (err) => void fail(logger, `uncaught exception: ${errorMessage(err)}`));
  process.on('unhandledRejection', (err) => void fail(logger, `unhandled rejection: ${errorMessage(err)}`));

  const model: ServedModel = { name: config.modelName, version: config.modelVersion, runtime: undefined, ready: false };
  const metrics = new Metrics(model.name, model.version, () => model.ready);
  const server = createModelServer({ model, maxBodyBytes: config.maxBodyBytes, logger, metrics });
  installShutdown(server, model, config, logger);

  let port: number;
  try {
    port = await server.listen(config.port, config.host);
  } catch (err) {
    return fail(logger, `cannot listen on ${config.host}:${config.port}: ${errorMessage(err)}`);
  }
  logger.info('listening', { host: config.host, port, modelType: config.modelType, artifact: config.artifact.uri });
  await notifyParent({ type: 'listening', port });

  try {
    await load(config, model, logger);
  } catch (err) {
    const reason = `model failed to load: ${errorMessage(err)}`;
    if (config.modelType === 'function') return failAlive(logger, model, reason, err);
    return fail(logger, reason);
  }
}

// MODEL_TYPE=custom: the user's own server runs behind this one (custom.ts); it has no runtime here.
if (process.env.MODEL_TYPE?.trim() === 'custom') await (await import('./custom.js')).runCustomServer();
else await main();
