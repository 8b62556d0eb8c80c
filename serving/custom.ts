/**
 * MODEL_TYPE=custom: the user's own server (a command locally; on EKS its image runs instead) serves the model, and
 * this program stays the one thing the platform runs, so IPC, logs, health checks, cache directories and the
 * no-orphan rules work as for every other type.
 *
 * Lifecycle: listen (liveness answers) → fetch the artifact as usual → start CUSTOM_COMMAND in the artifact directory
 * with PORT=<a free loopback port> (custom-config.ts `commandEnvironment`) → wait until its health check answers 200
 * (V2: `GET /v2/health/ready`; V1: `GET /v1/models/{MODEL_NAME}`) → ready. From then on every request is passed to it
 * (custom-proxy.ts). Its output lines become log lines `{"msg": <line>, "source": "custom", "stream": "stdout"|"stderr"}`.
 *
 * Failures: a command that cannot start, exits before it is ready or is not ready within CUSTOM_START_TIMEOUT_MS
 * ends this server like any load failure (`model failed to load: <reason>`, IPC `failed`, exit 1). A command that
 * exits after it was ready is logged (`custom command exited unexpectedly …`) and this server exits 1.
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish (SHUTDOWN_GRACE_MS), then stop the command (SIGTERM,
 * SIGKILL after CUSTOM_STOP_GRACE_MS) and exit 0. IPC disconnect: stop the command at once and exit 0.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fetchArtifact } from './artifact.js';
import type { ArtifactLocation } from './config.js';
import { type CustomServerConfig, commandEnvironment, healthPath, parseCustomConfig } from './custom-config.js';
import {
  type CommandProcess,
  describeExit,
  freePort,
  type ProbeResult,
  probe,
  StartError,
  startCommand,
} from './custom-process.js';
import { type CustomProxy, createCustomProxy, type Upstream } from './custom-proxy.js';
import { hasParent, notifyParent } from './ipc.js';
import { createLogger, errorMessage, type Logger } from './log.js';
import { ModelLoadError } from './runtimes/runtime.js';

/** Where the command listens; it is reached on loopback only. */
const COMMAND_HOST = '127.0.0.1';
/** Between health checks while the command starts. */
const START_PROBE_INTERVAL_MS = 50;
/** One health check may take this long. */
const PROBE_TIMEOUT_MS = 2_000;

/** A temporary cache directory this process created, removed on exit. */
let ownedCacheDir: string | undefined;
/** The running command, killed (SIGKILL to its group) if this process exits while it runs. */
let running: CommandProcess | undefined;

function exit(code: number): never {
  running?.killNow();
  if (ownedCacheDir) rmSync(ownedCacheDir, { recursive: true, force: true });
  process.exit(code);
}

/** Logs the reason as the last line, tells the parent, stops the command, exits 1. */
async function fail(logger: Logger, reason: string, stopGraceMs = 0): Promise<never> {
  const command = running;
  if (command !== undefined && !command.hasExited()) await command.stop(stopGraceMs);
  logger.error(reason);
  await Promise.race([notifyParent({ type: 'failed', reason }), new Promise((r) => setTimeout(r, 1000).unref())]);
  exit(1);
}

async function cacheDir(config: CustomServerConfig): Promise<string> {
  if (config.cacheDir) {
    await mkdir(config.cacheDir, { recursive: true });
    return config.cacheDir;
  }
  ownedCacheDir = await mkdtemp(path.join(os.tmpdir(), 'merlin-model-'));
  return ownedCacheDir;
}

/**
 * A file the artifact holds, for fetchArtifact (which checks that its model file is there): the version's model file
 * when it names one, otherwise the first object under the S3 prefix (a custom model has no model file of its own).
 */
async function someArtifactFile(location: Extract<ArtifactLocation, { kind: 's3' }>): Promise<string> {
  const { S3Client, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const endpoint = process.env.AWS_ENDPOINT_URL_S3;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint ? 'us-east-1' : undefined);
  const client = new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(region ? { region } : {}),
  });
  try {
    const page = await client.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix }));
    for (const obj of page.Contents ?? []) {
      if (!obj.Key || obj.Key.endsWith('/')) continue;
      const rel = path.posix.normalize(obj.Key.slice(location.prefix.length));
      if (rel !== '..' && !rel.startsWith('../') && !path.posix.isAbsolute(rel)) return rel;
    }
  } catch (err) {
    const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : '';
    throw new ModelLoadError(`cannot download artifact from ${location.uri}: ${name}${errorMessage(err)}`);
  } finally {
    client.destroy();
  }
  throw new ModelLoadError(`the artifact ${location.uri} holds no files`);
}

/** Makes the artifact available locally; resolves with its directory. */
async function fetchCustomArtifact(config: CustomServerConfig, logger: Logger): Promise<string> {
  const location = config.artifact;
  if (location.kind === 'file' && config.modelFile === undefined) {
    const info = await stat(location.dir).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new ModelLoadError(`artifact directory ${location.dir} not found (${location.uri})`);
    }
    return location.dir;
  }
  const started = performance.now();
  const file = config.modelFile ?? (location.kind === 's3' ? await someArtifactFile(location) : '');
  const artifact = await fetchArtifact(location, file, () => cacheDir(config));
  if (artifact.files > 0) {
    logger.info('artifact downloaded', {
      uri: location.uri,
      dir: artifact.dir,
      files: artifact.files,
      bytes: artifact.bytes,
      downloadMs: Math.round(performance.now() - started),
    });
  }
  return artifact.dir;
}

/** Health checks until one answers 200; throws (ModelLoadError) when the command exits first or time runs out. */
async function waitUntilReady(
  command: CommandProcess,
  check: () => Promise<ProbeResult>,
  config: CustomServerConfig,
  what: string,
): Promise<void> {
  const deadline = performance.now() + config.startTimeoutMs;
  let last: ProbeResult | undefined;
  const exitedEarly = async () => {
    const status = await command.exited; // the output is read by then
    const line = command.lastLine();
    return new ModelLoadError(
      `custom command exited ${describeExit(status)} before it was ready${line === undefined ? '' : `: ${line}`}`,
    );
  };
  for (;;) {
    if (command.hasExited()) throw await exitedEarly();
    last = await check();
    if (last.ok) return;
    if (command.hasExited()) throw await exitedEarly();
    const left = deadline - performance.now();
    if (left <= 0) break;
    await Promise.race([new Promise((r) => setTimeout(r, Math.min(START_PROBE_INTERVAL_MS, left))), command.exited]);
  }
  const line = command.lastLine();
  throw new ModelLoadError(
    `custom command was not ready within ${config.startTimeoutMs} ms (${what}: ${last?.detail ?? 'not checked'})` +
      (line === undefined ? '' : `; its last output: ${line}`),
  );
}

/** Stops the command and this server after SIGTERM/SIGINT or an IPC disconnect; installed before anything starts. */
function installShutdown(
  proxy: CustomProxy,
  config: CustomServerConfig,
  logger: Logger,
  state: { upstream: Upstream | undefined; stopping: boolean },
): void {
  const stopCommand = async () => {
    const command = running;
    if (command === undefined) return;
    const status = await command.stop(config.stopGraceMs);
    logger.info('custom command stopped', { pid: command.pid, code: status.code, signal: status.signal });
  };
  const stop = async (signal: NodeJS.Signals) => {
    if (state.stopping) return;
    state.stopping = true;
    logger.info('shutting down', { signal, graceMs: config.shutdownGraceMs, stopGraceMs: config.stopGraceMs });
    await proxy.drain(config.shutdownGraceMs);
    state.upstream = undefined;
    await stopCommand();
    await proxy.close();
    logger.info('stopped');
    exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (hasParent()) {
    process.once('disconnect', () => {
      if (state.stopping) return; // already on its way out, within bounded time
      state.stopping = true;
      state.upstream = undefined;
      logger.info('parent disconnected; exiting');
      void stopCommand().then(() => exit(0));
    });
    process.channel?.unref();
  }
  // Whatever ends this process, the command goes with it.
  process.once('exit', () => running?.killNow());
}

export async function runCustomServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: CustomServerConfig;
  try {
    config = parseCustomConfig(env);
  } catch (err) {
    return fail(createLogger(), errorMessage(err));
  }
  const logger = createLogger({ model: config.modelName, version: config.modelVersion });
  process.on('uncaughtException', (err) => void fail(logger, `uncaught exception: ${errorMessage(err)}`));
  process.on('unhandledRejection', (err) => void fail(logger, `unhandled rejection: ${errorMessage(err)}`));

  const state: { upstream: Upstream | undefined; stopping: boolean } = { upstream: undefined, stopping: false };
  const check = healthPath(config.protocol, config.modelName);
  const proxy = createCustomProxy({
    modelName: config.modelName,
    modelVersion: config.modelVersion,
    upstream: () => state.upstream,
    probe: () => {
      const target = state.upstream;
      if (target === undefined) return Promise.resolve({ ok: false, detail: 'is not running' });
      return probe(target.host, target.port, check, PROBE_TIMEOUT_MS);
    },
    requestTimeoutMs: config.serving.requestTimeoutMs,
  });
  installShutdown(proxy, config, logger, state);

  let port: number;
  try {
    port = await proxy.listen(config.port, config.host);
  } catch (err) {
    return fail(logger, `cannot listen on ${config.host}:${config.port}: ${errorMessage(err)}`);
  }
  logger.info('listening', { host: config.host, port, modelType: 'custom', artifact: config.artifact.uri });
  await notifyParent({ type: 'listening', port });

  let command: CommandProcess;
  const started = performance.now();
  try {
    const dir = await fetchCustomArtifact(config, logger);
    if (state.stopping) return;
    const commandPort = await freePort(COMMAND_HOST);
    if (state.stopping) return;
    const output = logger.child({ source: 'custom' });
    try {
      command = await startCommand({
        command: config.command,
        cwd: dir,
        env: commandEnvironment(env, {
          port: commandPort,
          host: COMMAND_HOST,
          dir,
          modelName: config.modelName,
          modelVersion: config.modelVersion,
        }),
        onLine: (line, stream) => output.info(line, { stream }),
        watchdogGraceMs: config.stopGraceMs,
      });
    } catch (err) {
      if (!(err instanceof StartError)) throw err;
      throw new ModelLoadError(`cannot start custom command ${JSON.stringify(config.command)}: ${err.message}`);
    }
    running = command;
    logger.info('custom command started', {
      command: config.command,
      pid: command.pid,
      port: commandPort,
      protocol: config.protocol,
      cwd: dir,
    });
    if (state.stopping) return;
    await waitUntilReady(
      command,
      () => probe(COMMAND_HOST, commandPort, check, PROBE_TIMEOUT_MS),
      config,
      `GET ${check}`,
    );
    if (state.stopping) return;
    state.upstream = { host: COMMAND_HOST, port: commandPort };
  } catch (err) {
    if (state.stopping) return;
    return fail(logger, `model failed to load: ${errorMessage(err)}`, config.stopGraceMs);
  }

  const loadMs = Math.round(performance.now() - started);
  logger.info('model loaded', { loadMs, protocol: config.protocol });
  await notifyParent({ type: 'loaded', loadMs });
  logger.info('ready');
  await notifyParent({ type: 'ready' });

  const status = await command.exited;
  if (state.stopping) return;
  state.upstream = undefined;
  state.stopping = true;
  const line = command.lastLine();
  logger.error(`custom command exited unexpectedly ${describeExit(status)}${line === undefined ? '' : `: ${line}`}`);
  running = undefined;
  await proxy.close();
  exit(1);
}
