import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type MerlinApp } from '../../infra/build-app.js';
import {
  BUNDLING_TIMEOUT,
  type Bundle,
  bundleOf,
  itChecksBundles,
  optionalClientsOf,
  sizeOf,
} from './bundle-checks.js';

/** DESIGN §8: Lambda bundles < 1 MB per API handler. */
const MAX_API_BUNDLE_BYTES = 1024 * 1024;

/** Imports a bundle with plain node and invokes its handler with an HTTP API event, as Lambda would. */
const INVOKE = `
const [dir, routeKey, path] = process.argv.slice(1);
const { handler } = await import(dir + '/index.mjs');
const event = { version: '2.0', routeKey, rawPath: path, rawQueryString: '', headers: { host: 'api' }, isBase64Encoded: false,
  requestContext: { requestId: 'req-bundle-1', routeKey, stage: '$default',
    http: { method: routeKey.split(' ')[0], path, protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'test' } } };
const context = { functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '$LATEST', memoryLimitInMB: '512',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:f', awsRequestId: 'aws-req-1' };
console.log('RESULT ' + JSON.stringify(await handler(event, context)));
`;

describe('API function bundles (real esbuild bundles)', () => {
  let built: MerlinApp;
  let bundles: Bundle[];
  beforeAll(() => {
    built = buildApp({ bundleStacks: ['Merlin-dev-Api'], bundling: { metafile: true } });
    bundles = Object.entries(built.api.functions).map(([group, fn]) => bundleOf(`api/${group}`, fn));
  }, BUNDLING_TIMEOUT);

  itChecksBundles(() => bundles);

  it('should stay under 1 MB per API handler (route group)', () => {
    expect(bundles.map((b) => b.name).sort()).toEqual(
      Object.keys(built.api.functions)
        .map((g) => `api/${g}`)
        .sort(),
    );
    for (const bundle of bundles) expect(sizeOf(bundle), bundle.name).toBeLessThan(MAX_API_BUNDLE_BYTES);
  });

  it('should carry the EKS and KMS clients only in the groups whose routes read clusters or encrypt secrets', () => {
    const clients = Object.fromEntries(bundles.map((b) => [b.name, optionalClientsOf(b)]));

    expect(clients).toEqual({
      'api/meta': [],
      'api/projects': [],
      'api/models': [],
      'api/versions': [],
      'api/deployments': [],
      'api/endpoints': ['client-eks'],
      'api/secrets': ['client-kms'],
    });
  });

  /** Runs a bundle under Lambda's environment: X-Ray tracing on (a sampled trace header), Powertools active. */
  const invoke = async (group: string, routeKey: string, path: string, env: Record<string, string> = {}) => {
    const bundle = bundles.find((b) => b.name === `api/${group}`)!;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', INVOKE, bundle.dir, routeKey, path],
      {
        env: {
          PATH: process.env.PATH ?? '',
          LAMBDA_TASK_ROOT: bundle.dir,
          AWS_LAMBDA_FUNCTION_NAME: `Merlin-dev-Api-${group}`,
          AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
          AWS_REGION: 'eu-west-1',
          _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
          AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:9',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          MERLIN_STAGE: 'dev',
          ...env,
        },
        timeout: 30_000,
      },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`no result: ${stdout}\n${stderr}`);
    const logs = `${stdout}\n${stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { result: JSON.parse(line.slice('RESULT '.length)), stderr, logs };
  };

  it('should run on Lambda’s terms: the meta bundle answers the health check with the tracer on', async () => {
    const { result, stderr } = await invoke('meta', 'GET /healthz', '/healthz');

    expect(result).toMatchObject({ statusCode: 200, body: '{"status":"ok"}' });
    expect(stderr).not.toMatch(/Error/);
  });

  it('should log an unexpected failure as JSON with the Lambda context, the request id as correlation id and the trace', async () => {
    // A function environment without servingUrl breaks the contract infra keeps (functions/shared/container.ts).
    const { result, logs } = await invoke('meta', 'GET /v1/environments', '/v1/environments', {
      TABLE_NAME: 'merlin-table',
      ARTIFACT_BUCKET: 'merlin-bucket',
      DEPLOY_VERSION_STATE_MACHINE_ARN: 'a',
      UNDEPLOY_VERSION_STATE_MACHINE_ARN: 'b',
      UPDATE_ROUTE_STATE_MACHINE_ARN: 'c',
      MERLIN_ENVIRONMENTS: JSON.stringify([{ name: 'local', isDefault: true }]),
    });

    expect(result).toMatchObject({ statusCode: 500 });
    expect(logs.filter((l) => l.level === 'ERROR')).toEqual([
      expect.objectContaining({
        message: 'unhandled error',
        service: 'merlin',
        correlation_id: 'req-bundle-1',
        requestId: 'req-bundle-1',
        function_name: 'Merlin-dev-Api-meta',
        function_request_id: 'aws-req-1',
        xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
      }),
    ]);
  });

  it('should reach its AWS clients through the traced SDK: an unreachable table is a 503 with the request id', async () => {
    const { result } = await invoke('projects', 'GET /v1/projects', '/v1/projects', {
      TABLE_NAME: 'merlin-table',
      ARTIFACT_BUCKET: 'merlin-bucket',
      DEPLOY_VERSION_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:a',
      UNDEPLOY_VERSION_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:b',
      UPDATE_ROUTE_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:c',
      MERLIN_ENVIRONMENTS: JSON.stringify([
        { name: 'local', isDefault: true, cluster: { kind: 'local' }, servingUrl: 'https://local.serving.invalid' },
      ]),
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
      AWS_MAX_ATTEMPTS: '1',
    });

    expect(result, JSON.stringify(result)).toMatchObject({ statusCode: 503 });
    expect(JSON.parse(result.body)).toMatchObject({
      error: { code: 'DEPENDENCY_UNAVAILABLE' },
      requestId: 'req-bundle-1',
    });
  });
});
