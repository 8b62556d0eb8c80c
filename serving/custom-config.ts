/**
 * Configuration of a `custom` model (MODEL_TYPE=custom, custom.ts): the variables every model type shares, parsed by
 * config.ts with the same rules, plus the command to run and how to reach it.
 *
 * | variable | meaning |
 * |---|---|
 * | `CUSTOM_COMMAND` | required; a JSON array of strings, the argv of the user's server, e.g. `["node","server.mjs"]` |
 * | `CUSTOM_PROTOCOL` | `v2` (default) or `v1`: which health check tells that the command is ready |
 * | `CUSTOM_START_TIMEOUT_MS` | how long the command may take to become ready; default 120000 |
 * | `CUSTOM_STOP_GRACE_MS` | how long the command may take to exit after SIGTERM before SIGKILL; default 3000 |
 * | `MODEL_FILE` | optional for custom models: when set, the file must be in the artifact |
 */
import * as z from 'zod';
import { ConfigError, parseConfig, parseModelFile, type ServerConfig } from './config.js';

export type CustomProtocol = 'v1' | 'v2';

/** The shared settings (name, version, artifact, port, host, cache dir, grace) and the custom ones. */
export interface CustomServerConfig extends Omit<ServerConfig, 'modelType' | 'modelFile' | 'onnx'> {
  readonly modelType: 'custom';
  /** A file that must be in the artifact, when the version names one. */
  readonly modelFile: string | undefined;
  /** argv: the program, then its arguments. */
  readonly command: readonly [string, ...string[]];
  readonly protocol: CustomProtocol;
  readonly startTimeoutMs: number;
  readonly stopGraceMs: number;
}

export const DEFAULT_START_TIMEOUT_MS = 120_000;
export const DEFAULT_STOP_GRACE_MS = 3_000;

const COMMAND_EXAMPLE = 'e.g. ["node","server.mjs"]';

/** `CUSTOM_COMMAND`: a non-empty JSON array of non-empty strings (no shell: the first one is the program). */
export function parseCustomCommand(text: string | undefined): [string, ...string[]] {
  if (text === undefined || text.trim() === '') {
    throw new ConfigError(
      `invalid configuration: CUSTOM_COMMAND is required for MODEL_TYPE=custom (a JSON array of strings, ${COMMAND_EXAMPLE})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      `invalid configuration: CUSTOM_COMMAND must be a JSON array of strings (${COMMAND_EXAMPLE}): ${(err as Error).message}`,
    );
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new ConfigError(
      `invalid configuration: CUSTOM_COMMAND must be a non-empty JSON array of strings (${COMMAND_EXAMPLE}), got ${text.trim()}`,
    );
  }
  const bad = parsed.findIndex((arg) => typeof arg !== 'string' || arg.includes('\0'));
  if (bad !== -1) {
    throw new ConfigError(
      `invalid configuration: CUSTOM_COMMAND[${bad}] must be a string without NUL characters, got ${JSON.stringify(parsed[bad])}`,
    );
  }
  if (parsed[0] === '') throw new ConfigError('invalid configuration: CUSTOM_COMMAND[0] must name a program');
  return parsed as [string, ...string[]];
}

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be an integer between ${min} and ${max}`)
    .transform(Number)
    .refine((v) => v >= min && v <= max, `${name} must be an integer between ${min} and ${max}`);

const CustomEnvSchema = z.object({
  CUSTOM_PROTOCOL: z
    .enum(['v1', 'v2'], { error: (i) => `CUSTOM_PROTOCOL must be v1 or v2, got ${String(i.input)}` })
    .optional(),
  CUSTOM_START_TIMEOUT_MS: integer('CUSTOM_START_TIMEOUT_MS', 1, 3_600_000).optional(),
  CUSTOM_STOP_GRACE_MS: integer('CUSTOM_STOP_GRACE_MS', 0, 600_000).optional(),
});

/** Parses the environment of a custom model; throws {@link ConfigError} with a message naming the variable. */
export function parseCustomConfig(env: NodeJS.ProcessEnv): CustomServerConfig {
  const value = (name: string): string | undefined => (env[name]?.trim() ? env[name]?.trim() : undefined);
  const type = value('MODEL_TYPE');
  if (type !== 'custom') throw new ConfigError(`invalid configuration: MODEL_TYPE must be custom, got ${type}`);
  // The shared variables, with config.ts's rules: custom has no runtime there, so parse them as for onnx.
  const {
    modelType: _type,
    modelFile: _file,
    onnx: _onnx,
    ...shared
  } = parseConfig({
    ...env,
    MODEL_TYPE: 'onnx',
    MODEL_FILE: 'model.onnx',
  });
  const parsed = CustomEnvSchema.safeParse({
    CUSTOM_PROTOCOL: value('CUSTOM_PROTOCOL'),
    CUSTOM_START_TIMEOUT_MS: value('CUSTOM_START_TIMEOUT_MS'),
    CUSTOM_STOP_GRACE_MS: value('CUSTOM_STOP_GRACE_MS'),
  });
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${parsed.error.issues[0]?.message ?? 'unknown error'}`);
  }
  const modelFile = value('MODEL_FILE');
  return {
    ...shared,
    modelType: 'custom',
    modelFile: modelFile === undefined ? undefined : parseModelFile(modelFile),
    command: parseCustomCommand(env['CUSTOM_COMMAND']),
    protocol: parsed.data.CUSTOM_PROTOCOL ?? 'v2',
    startTimeoutMs: parsed.data.CUSTOM_START_TIMEOUT_MS ?? DEFAULT_START_TIMEOUT_MS,
    stopGraceMs: parsed.data.CUSTOM_STOP_GRACE_MS ?? DEFAULT_STOP_GRACE_MS,
  };
}

/** Variables of this server that mean nothing to the user's command (or must not leak into it). */
const NOT_FOR_THE_COMMAND =
  /^(MODEL_TYPE|MODEL_FILE|MODEL_CACHE_DIR|CUSTOM_[A-Z_]+|HOST|PORT|MAX_REQUEST_BODY_BYTES|SHUTDOWN_GRACE_MS|SERVING_TEST_[A-Z_]+|ORT_[A-Z_]+|BATCH_[A-Z_]+|REQUEST_TIMEOUT_MS)$/;

/**
 * The environment of the user's command: this server's own (the user's variables and secrets included), without its
 * private settings, plus the contract: `PORT` and `HOST` to listen on, `MODEL_NAME`, `MODEL_VERSION`, `MODEL_DIR` (the
 * artifact directory, also the working directory) and Merlin's names for the same (`CARAML_HTTP_PORT`,
 * `CARAML_MODEL_NAME`, `CARAML_MODEL_VERSION`, `CARAML_MODEL_FULL_NAME`, `CARAML_ARTIFACT_LOCATION`).
 * `CARAML_MODEL_FULL_NAME` is `MODEL_NAME`: the name clients use in `/v1/models/{name}:predict` here.
 */
export function commandEnvironment(
  env: NodeJS.ProcessEnv,
  c: { port: number; host: string; dir: string; modelName: string; modelVersion: string },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(env)) {
    if (v !== undefined && !NOT_FOR_THE_COMMAND.test(name)) out[name] = v;
  }
  Object.assign(out, {
    PORT: String(c.port),
    HOST: c.host,
    MODEL_NAME: c.modelName,
    MODEL_VERSION: c.modelVersion,
    MODEL_DIR: c.dir,
    CARAML_HTTP_PORT: String(c.port),
    CARAML_MODEL_NAME: c.modelName,
    CARAML_MODEL_VERSION: c.modelVersion,
    CARAML_MODEL_FULL_NAME: c.modelName,
    CARAML_ARTIFACT_LOCATION: c.dir,
  });
  return out;
}

/** The path that answers 200 when the command is ready: V2 server readiness, or V1 model status. */
export function healthPath(protocol: CustomProtocol, modelName: string): string {
  return protocol === 'v2' ? '/v2/health/ready' : `/v1/models/${encodeURIComponent(modelName)}`;
}
