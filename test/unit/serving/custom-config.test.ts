/** Configuration of custom models: CUSTOM_COMMAND as argv, the shared variables, the command's environment. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../serving/config.js';
import {
  commandEnvironment,
  DEFAULT_START_TIMEOUT_MS,
  DEFAULT_STOP_GRACE_MS,
  healthPath,
  parseCustomCommand,
  parseCustomConfig,
} from '../../../serving/custom-config.js';

const base = {
  MODEL_NAME: 'doubler',
  MODEL_VERSION: '2',
  MODEL_TYPE: 'custom',
  ARTIFACT_URI: 'file:///models/doubler/',
  CUSTOM_COMMAND: '["node","server.mjs"]',
};

function configError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseCustomCommand', () => {
  it('should read a JSON array of strings as argv, kept exactly (no shell, no splitting)', () => {
    expect(parseCustomCommand('["node","server.mjs"]')).toEqual(['node', 'server.mjs']);
    expect(parseCustomCommand(' ["python3", "-m", "my server", "--port=$PORT", ""] ')).toEqual([
      'python3',
      '-m',
      'my server',
      '--port=$PORT',
      '',
    ]);
    expect(parseCustomCommand('["./run.sh"]')).toEqual(['./run.sh']);
  });

  it('should require the variable', () => {
    for (const text of [undefined, '', '   ']) {
      expect(configError(() => parseCustomCommand(text))).toBe(
        'invalid configuration: CUSTOM_COMMAND is required for MODEL_TYPE=custom (a JSON array of strings, e.g. ["node","server.mjs"])',
      );
    }
  });

  it('should refuse text that is not JSON, naming the parse error', () => {
    expect(configError(() => parseCustomCommand('node server.mjs'))).toMatch(
      /^invalid configuration: CUSTOM_COMMAND must be a JSON array of strings \(e\.g\. \["node","server\.mjs"\]\): .*JSON/,
    );
  });

  it('should refuse JSON that is not a non-empty array', () => {
    for (const text of ['"node server.mjs"', '{"cmd":"node"}', '[]', '42', 'null']) {
      expect(configError(() => parseCustomCommand(text))).toBe(
        `invalid configuration: CUSTOM_COMMAND must be a non-empty JSON array of strings (e.g. ["node","server.mjs"]), got ${text}`,
      );
    }
  });

  it('should name the element that is not a string', () => {
    expect(configError(() => parseCustomCommand('["node", 3]'))).toBe(
      'invalid configuration: CUSTOM_COMMAND[1] must be a string without NUL characters, got 3',
    );
    expect(configError(() => parseCustomCommand('["node", ["a"]]'))).toBe(
      'invalid configuration: CUSTOM_COMMAND[1] must be a string without NUL characters, got ["a"]',
    );
    expect(configError(() => parseCustomCommand('["no\\u0000de"]'))).toMatch(/CUSTOM_COMMAND\[0\] must be a string/);
  });

  it('should require a program', () => {
    expect(configError(() => parseCustomCommand('["", "x"]'))).toBe(
      'invalid configuration: CUSTOM_COMMAND[0] must name a program',
    );
  });
});

describe('parseCustomConfig', () => {
  it('should apply the defaults', () => {
    const config = parseCustomConfig(base);
    expect(config).toMatchObject({
      modelName: 'doubler',
      modelVersion: '2',
      modelType: 'custom',
      modelFile: undefined,
      artifact: { kind: 'file', dir: '/models/doubler/' },
      port: 8080,
      host: '0.0.0.0',
      cacheDir: undefined,
      shutdownGraceMs: 5000,
      command: ['node', 'server.mjs'],
      protocol: 'v2',
      startTimeoutMs: DEFAULT_START_TIMEOUT_MS,
      stopGraceMs: DEFAULT_STOP_GRACE_MS,
    });
    expect(config).not.toHaveProperty('onnx');
  });

  it('should read every custom variable', () => {
    const config = parseCustomConfig({
      ...base,
      ARTIFACT_URI: 's3://bucket/artifacts/p/doubler/2/',
      MODEL_FILE: 'server.mjs',
      CUSTOM_PROTOCOL: 'v1',
      CUSTOM_START_TIMEOUT_MS: '1500',
      CUSTOM_STOP_GRACE_MS: '0',
      PORT: '0',
      HOST: '127.0.0.1',
      REQUEST_TIMEOUT_MS: '250',
    });
    expect(config).toMatchObject({
      artifact: { kind: 's3', bucket: 'bucket', prefix: 'artifacts/p/doubler/2/' },
      modelFile: 'server.mjs',
      protocol: 'v1',
      startTimeoutMs: 1500,
      stopGraceMs: 0,
      port: 0,
      host: '127.0.0.1',
      serving: { requestTimeoutMs: 250 },
    });
  });

  it('should treat the empty MODEL_FILE the platform sends for custom versions as unset', () => {
    expect(parseCustomConfig({ ...base, MODEL_FILE: '' }).modelFile).toBeUndefined();
  });

  it('should refuse bad values, naming the variable', () => {
    expect(configError(() => parseCustomConfig({ ...base, CUSTOM_PROTOCOL: 'grpc' }))).toBe(
      'invalid configuration: CUSTOM_PROTOCOL must be v1 or v2, got grpc',
    );
    expect(configError(() => parseCustomConfig({ ...base, CUSTOM_START_TIMEOUT_MS: '0' }))).toBe(
      'invalid configuration: CUSTOM_START_TIMEOUT_MS must be an integer between 1 and 3600000',
    );
    expect(configError(() => parseCustomConfig({ ...base, CUSTOM_STOP_GRACE_MS: '-1' }))).toBe(
      'invalid configuration: CUSTOM_STOP_GRACE_MS must be an integer between 0 and 600000',
    );
    expect(configError(() => parseCustomConfig({ ...base, MODEL_FILE: '../etc/passwd' }))).toMatch(
      /^invalid configuration: MODEL_FILE must be a file path relative to the artifact/,
    );
    expect(configError(() => parseCustomConfig({ ...base, CUSTOM_COMMAND: undefined }))).toMatch(
      /^invalid configuration: CUSTOM_COMMAND is required/,
    );
  });

  it('should check the shared variables with the same rules as every model type', () => {
    expect(configError(() => parseCustomConfig({ ...base, MODEL_NAME: '' }))).toBe(
      'invalid configuration: MODEL_NAME is required',
    );
    expect(configError(() => parseCustomConfig({ ...base, ARTIFACT_URI: 'http://x/' }))).toMatch(
      /^invalid configuration: ARTIFACT_URI must be/,
    );
    expect(configError(() => parseCustomConfig({ ...base, PORT: '70000' }))).toMatch(/PORT must be an integer/);
  });

  it('should only parse custom models', () => {
    expect(configError(() => parseCustomConfig({ ...base, MODEL_TYPE: 'onnx' }))).toBe(
      'invalid configuration: MODEL_TYPE must be custom, got onnx',
    );
  });
});

describe('commandEnvironment', () => {
  const contract = {
    port: 41000,
    host: '127.0.0.1',
    dir: '/cache/p/doubler-2-r1',
    modelName: 'doubler',
    modelVersion: '2',
  };

  it("should pass the server's environment (user variables and secrets) without its private settings", () => {
    const env = commandEnvironment(
      {
        ...base,
        PATH: '/usr/bin',
        API_TOKEN: 'secret',
        ARTIFACT_URI: 's3://b/p/',
        AWS_REGION: 'us-east-1',
        MODEL_CACHE_DIR: '/cache/p/doubler-2-r1',
        MODEL_FILE: '',
        CUSTOM_PROTOCOL: 'v2',
        CUSTOM_STOP_GRACE_MS: '100',
        SHUTDOWN_GRACE_MS: '10',
        MAX_REQUEST_BODY_BYTES: '10',
        BATCH_MAX_SIZE: '8',
        REQUEST_TIMEOUT_MS: '100',
        ORT_LOG_SEVERITY_LEVEL: '3',
      },
      contract,
    );
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      API_TOKEN: 'secret',
      ARTIFACT_URI: 's3://b/p/',
      AWS_REGION: 'us-east-1',
    });
    for (const name of [
      'MODEL_TYPE',
      'MODEL_FILE',
      'MODEL_CACHE_DIR',
      'CUSTOM_COMMAND',
      'CUSTOM_PROTOCOL',
      'CUSTOM_STOP_GRACE_MS',
      'SHUTDOWN_GRACE_MS',
      'MAX_REQUEST_BODY_BYTES',
      'BATCH_MAX_SIZE',
      'REQUEST_TIMEOUT_MS',
      'ORT_LOG_SEVERITY_LEVEL',
    ]) {
      expect(env, name).not.toHaveProperty(name);
    }
  });

  it('should set the contract variables, over any of the same name, with Merlin names too', () => {
    const env = commandEnvironment(
      { PORT: '8080', HOST: '0.0.0.0', MODEL_NAME: 'other', CARAML_HTTP_PORT: '1' },
      contract,
    );
    expect(env).toEqual({
      PORT: '41000',
      HOST: '127.0.0.1',
      MODEL_NAME: 'doubler',
      MODEL_VERSION: '2',
      MODEL_DIR: '/cache/p/doubler-2-r1',
      CARAML_HTTP_PORT: '41000',
      CARAML_MODEL_NAME: 'doubler',
      CARAML_MODEL_VERSION: '2',
      CARAML_MODEL_FULL_NAME: 'doubler',
      CARAML_ARTIFACT_LOCATION: '/cache/p/doubler-2-r1',
    });
  });
});

describe('healthPath', () => {
  it('should check V2 server readiness, or the V1 model status of MODEL_NAME', () => {
    expect(healthPath('v2', 'doubler')).toBe('/v2/health/ready');
    expect(healthPath('v1', 'doubler')).toBe('/v1/models/doubler');
    expect(healthPath('v1', 'a:b%c')).toBe('/v1/models/a%3Ab%25c');
  });
});
