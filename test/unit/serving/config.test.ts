import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../serving/config.js';

const base = { MODEL_NAME: 'iris', MODEL_VERSION: '3', ARTIFACT_URI: 'file:///models/iris/' };

function configError(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('should apply the defaults', () => {
    expect(parseConfig(base)).toMatchObject({
      modelName: 'iris',
      modelVersion: '3',
      modelType: 'onnx',
      modelFile: 'model.onnx',
      port: 8080,
      host: '0.0.0.0',
      cacheDir: undefined,
      maxBodyBytes: 16 * 1024 * 1024,
      shutdownGraceMs: 5000,
      artifact: { kind: 'file', dir: '/models/iris/', uri: 'file:///models/iris/' },
    });
  });

  it('should read every variable', () => {
    const config = parseConfig({
      ...base,
      MODEL_TYPE: 'onnx',
      ARTIFACT_URI: 's3://bucket/projects/p/iris/3',
      MODEL_FILE: 'sub/dir/m.onnx',
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_CACHE_DIR: '/tmp/cache',
      MAX_REQUEST_BODY_BYTES: '1024',
      SHUTDOWN_GRACE_MS: '100',
      ORT_INTRA_OP_NUM_THREADS: '1',
    });
    expect(config).toMatchObject({
      artifact: { kind: 's3', bucket: 'bucket', prefix: 'projects/p/iris/3/', uri: 's3://bucket/projects/p/iris/3/' },
      modelFile: 'sub/dir/m.onnx',
      port: 0,
      host: '127.0.0.1',
      cacheDir: '/tmp/cache',
      maxBodyBytes: 1024,
      shutdownGraceMs: 100,
      onnx: { intraOpNumThreads: 1 },
    });
  });

  it('should name a missing required variable', () => {
    expect(configError({ MODEL_VERSION: '3', ARTIFACT_URI: 'file:///m/' })).toBe(
      'invalid configuration: MODEL_NAME is required',
    );
    expect(configError({ MODEL_NAME: 'iris', ARTIFACT_URI: 'file:///m/' })).toBe(
      'invalid configuration: MODEL_VERSION is required',
    );
    expect(configError({ MODEL_NAME: 'iris', MODEL_VERSION: '3' })).toBe(
      'invalid configuration: ARTIFACT_URI is required',
    );
  });

  it('should refuse model types without a runtime', () => {
    expect(configError({ ...base, MODEL_TYPE: 'tensorflow' })).toBe(
      'model type tensorflow is not supported by this server yet',
    );
    expect(configError({ ...base, MODEL_TYPE: 'pytorch' })).toBe(
      'model type pytorch is not supported by this server yet',
    );
  });

  it.each([
    ['http://example.com/m/', 'ARTIFACT_URI must be s3://bucket/prefix/ or file:///abs/dir/'],
    ['s3://', 'does not name a valid S3 bucket'],
    ['file://relative/dir', 'is not an absolute file URL'],
  ])('should refuse ARTIFACT_URI %s', (uri, message) => {
    expect(configError({ ...base, ARTIFACT_URI: uri })).toContain(message);
  });

  it('should keep MODEL_FILE inside the artifact', () => {
    expect(configError({ ...base, MODEL_FILE: '../etc/passwd' })).toContain('MODEL_FILE must be a file path relative');
    expect(configError({ ...base, MODEL_FILE: '/abs.onnx' })).toContain('MODEL_FILE must be a file path relative');
  });

  it('should refuse a bad port and names with slashes', () => {
    expect(configError({ ...base, PORT: '70000' })).toBe(
      'invalid configuration: PORT must be an integer between 0 and 65535',
    );
    expect(configError({ ...base, MODEL_NAME: 'a/b' })).toContain("MODEL_NAME must not contain '/'");
  });
});
