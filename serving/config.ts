/**
 * Model-server configuration, read once from environment variables (container-friendly).
 *
 * | variable | meaning |
 * |---|---|
 * | `MODEL_NAME` | required; the name clients use in `/v1/models/{name}` and `/v2/models/{name}` |
 * | `MODEL_VERSION` | required; e.g. `3`; answered in `model_version` and the `x-model-version` header |
 * | `MODEL_TYPE` | `onnx` (default). Other types are refused with exit code 1 until their runtime exists |
 * | `ARTIFACT_URI` | required; `s3://bucket/prefix/` or `file:///abs/dir/` |
 * | `MODEL_FILE` | the model file relative to the artifact root; default `model.onnx` for onnx, `index.mjs` for function, `model.json` for xgboost |
 * | `PORT` / `HOST` | listen address; default `8080` / `0.0.0.0`. `PORT=0` picks a free port |
 * | `MODEL_CACHE_DIR` | where S3 artifacts are downloaded; default a fresh directory under the OS temp dir, removed on exit |
 * | `MAX_REQUEST_BODY_BYTES` | larger request bodies get 413; default 16 MiB |
 * | `SHUTDOWN_GRACE_MS` | how long in-flight requests may run after SIGTERM/SIGINT; default 5000 |
 * | `ORT_INTRA_OP_NUM_THREADS`, `ORT_INTER_OP_NUM_THREADS` | onnxruntime thread pools; default onnxruntime's choice |
 * | `ORT_LOG_SEVERITY_LEVEL` | onnxruntime's own stderr logging, 0 (verbose) … 4 (fatal); default 4 (errors are logged by the server) |
 * | `BATCH_MAX_SIZE` | adaptive micro-batching (opt-in, see batching.ts): at most this many rows per merged inference; unset or 1 = off |
 * | `BATCH_MAX_LATENCY_MS` | how long a request may wait for others to join its batch; default 5 (needs `BATCH_MAX_SIZE`) |
 * | `REQUEST_TIMEOUT_MS` | an inference not answered within this time gets 504; default none |
 *
 * S3 access uses the AWS SDK's standard variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_ENDPOINT_URL_S3`, ...).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';

/** Model types of the platform (DESIGN §1). Only those with a runtime in `runtimes/` are served. */
export const SUPPORTED_MODEL_TYPES = ['onnx', 'function', 'xgboost'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

const DEFAULT_MODEL_FILE: Record<ModelType, string> = {
  onnx: 'model.onnx',
  function: 'index.mjs',
  xgboost: 'model.json',
};

export type ArtifactLocation =
  | { readonly kind: 'file'; readonly uri: string; readonly dir: string }
  | { readonly kind: 's3'; readonly uri: string; readonly bucket: string; readonly prefix: string };

export interface ServerConfig {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly modelType: ModelType;
  readonly artifact: ArtifactLocation;
  /** Relative to the artifact root, normalized, with `/` separators. */
  readonly modelFile: string;
  readonly port: number;
  readonly host: string;
  /** Undefined: a fresh temporary directory, created when needed and removed on exit. */
  readonly cacheDir: string | undefined;
  readonly maxBodyBytes: number;
  readonly shutdownGraceMs: number;
  /** Batching and time limit (BATCH_MAX_SIZE, BATCH_MAX_LATENCY_MS, REQUEST_TIMEOUT_MS). */
  readonly serving: ServingOptions;
  readonly onnx: {
    readonly intraOpNumThreads: number | undefined;
    readonly interOpNumThreads: number | undefined;
    readonly logSeverityLevel: 0 | 1 | 2 | 3 | 4;
  };
}

/** Adaptive micro-batching: requests merged into one inference of at most `maxBatchSize` rows. */
export interface BatchingConfig {
  readonly maxBatchSize: number;
  /** How long the first queued request may wait for others (the batch runs at once when nothing else is running). */
  readonly maxLatencyMs: number;
}

export interface ServingOptions {
  /** Undefined: every request runs on its own. */
  readonly batching: BatchingConfig | undefined;
  /** Undefined: no time limit. */
  readonly requestTimeoutMs: number | undefined;
}

/** The environment cannot be turned into a configuration; the message says which variable and why. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const pathSegment = (name: string) =>
  z
    .string({ error: `${name} is required` })
    .trim()
    .min(1, `${name} is required`)
    .refine((v) => !/[/\s?#]/.test(v), `${name} must not contain '/', '?', '#' or whitespace`);

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be an integer between ${min} and ${max}`)
    .transform(Number)
    .refine((v) => v >= min && v <= max, `${name} must be an integer between ${min} and ${max}`);

const ServingEnvShape = {
  BATCH_MAX_SIZE: integer('BATCH_MAX_SIZE', 1, 65_536).optional(),
  BATCH_MAX_LATENCY_MS: integer('BATCH_MAX_LATENCY_MS', 0, 60_000).optional(),
  REQUEST_TIMEOUT_MS: integer('REQUEST_TIMEOUT_MS', 1, 3_600_000).optional(),
};

const EnvSchema = z.object({
  MODEL_NAME: pathSegment('MODEL_NAME'),
  MODEL_VERSION: pathSegment('MODEL_VERSION'),
  MODEL_TYPE: z.string().trim().optional(),
  ARTIFACT_URI: z.string({ error: 'ARTIFACT_URI is required' }).trim().min(1, 'ARTIFACT_URI is required'),
  MODEL_FILE: z.string().trim().optional(),
  PORT: integer('PORT', 0, 65535).optional(),
  HOST: z.string().trim().min(1, 'HOST must not be empty').optional(),
  MODEL_CACHE_DIR: z.string().trim().optional(),
  MAX_REQUEST_BODY_BYTES: integer('MAX_REQUEST_BODY_BYTES', 1, 2 ** 31 - 1).optional(),
  SHUTDOWN_GRACE_MS: integer('SHUTDOWN_GRACE_MS', 0, 600_000).optional(),
  ORT_INTRA_OP_NUM_THREADS: integer('ORT_INTRA_OP_NUM_THREADS', 0, 1024).optional(),
  ORT_INTER_OP_NUM_THREADS: integer('ORT_INTER_OP_NUM_THREADS', 0, 1024).optional(),
  ORT_LOG_SEVERITY_LEVEL: integer('ORT_LOG_SEVERITY_LEVEL', 0, 4).optional(),
  ...ServingEnvShape,
});

const emptyToUndefined = (env: NodeJS.ProcessEnv): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));

/** Parses the environment; throws {@link ConfigError} with a message naming the variable. */
export function parseConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const parsed = EnvSchema.safeParse(emptyToUndefined(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`invalid configuration: ${issue?.message ?? 'unknown error'}`);
  }
  const e = parsed.data;
  const modelType = parseModelType(e.MODEL_TYPE ?? 'onnx');
  return {
    modelName: e.MODEL_NAME,
    modelVersion: e.MODEL_VERSION,
    modelType,
    artifact: parseArtifactUri(e.ARTIFACT_URI),
    modelFile: parseModelFile(e.MODEL_FILE ?? DEFAULT_MODEL_FILE[modelType]),
    port: e.PORT ?? 8080,
    host: e.HOST ?? '0.0.0.0',
    cacheDir: e.MODEL_CACHE_DIR ? path.resolve(e.MODEL_CACHE_DIR) : undefined,
    maxBodyBytes: e.MAX_REQUEST_BODY_BYTES ?? 16 * 1024 * 1024,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS ?? 5000,
    serving: servingOptions(e),
    onnx: {
      intraOpNumThreads: e.ORT_INTRA_OP_NUM_THREADS,
      interOpNumThreads: e.ORT_INTER_OP_NUM_THREADS,
      logSeverityLevel: (e.ORT_LOG_SEVERITY_LEVEL ?? 4) as 0 | 1 | 2 | 3 | 4,
    },
  };
}

const DEFAULT_BATCH_MAX_LATENCY_MS = 5;

function servingOptions(e: z.infer<z.ZodObject<typeof ServingEnvShape>>): ServingOptions {
  if (e.BATCH_MAX_LATENCY_MS !== undefined && e.BATCH_MAX_SIZE === undefined) {
    throw new ConfigError('invalid configuration: BATCH_MAX_LATENCY_MS is set without BATCH_MAX_SIZE');
  }
  const batching =
    e.BATCH_MAX_SIZE !== undefined && e.BATCH_MAX_SIZE > 1
      ? { maxBatchSize: e.BATCH_MAX_SIZE, maxLatencyMs: e.BATCH_MAX_LATENCY_MS ?? DEFAULT_BATCH_MAX_LATENCY_MS }
      : undefined;
  return { batching, requestTimeoutMs: e.REQUEST_TIMEOUT_MS };
}

/**
 * Only the batching and timeout variables (the server falls back to these when its options do not carry them);
 * throws {@link ConfigError} like {@link parseConfig}.
 */
export function parseServingOptions(env: NodeJS.ProcessEnv): ServingOptions {
  const parsed = z.object(ServingEnvShape).safeParse(emptyToUndefined(env));
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${parsed.error.issues[0]?.message ?? 'unknown error'}`);
  }
  return servingOptions(parsed.data);
}

function parseModelType(value: string): ModelType {
  if ((SUPPORTED_MODEL_TYPES as readonly string[]).includes(value)) return value as ModelType;
  throw new ConfigError(`model type ${value} is not supported by this server yet`);
}

/** `s3://bucket/prefix/` (the prefix gets a trailing `/`) or `file:///abs/dir/`. */
export function parseArtifactUri(uri: string): ArtifactLocation {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    let prefix = slash === -1 ? '' : rest.slice(slash + 1);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ConfigError(`invalid configuration: ARTIFACT_URI ${uri} does not name a valid S3 bucket`);
    }
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    return { kind: 's3', uri: `s3://${bucket}/${prefix}`, bucket, prefix };
  }
  if (uri.startsWith('file://')) {
    let dir: string;
    try {
      dir = fileURLToPath(uri);
    } catch (err) {
      throw new ConfigError(
        `invalid configuration: ARTIFACT_URI ${uri} is not an absolute file URL (${(err as Error).message})`,
      );
    }
    return { kind: 'file', uri, dir };
  }
  throw new ConfigError(
    `invalid configuration: ARTIFACT_URI must be s3://bucket/prefix/ or file:///abs/dir/, got ${uri}`,
  );
}

/** A relative path inside the artifact; absolute paths and `..` segments are refused. */
export function parseModelFile(file: string): string {
  const normalized = path.posix.normalize(file.replaceAll('\\', '/'));
  if (path.posix.isAbsolute(normalized) || normalized === '..' || normalized.startsWith('../') || normalized === '.') {
    throw new ConfigError(
      `invalid configuration: MODEL_FILE must be a file path relative to the artifact, got ${file}`,
    );
  }
  return normalized;
}
