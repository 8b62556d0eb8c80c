/**
 * The three state machines end to end on an `eks` environment: the ASL files run by the LocalWorkflowRunner with the
 * real functions/workflow handlers, dynalite and s3rver for the table and bucket, and the EKS cluster gateway built by
 * functions/shared/container.ts — pointed (through its `provideEks` seam) at a recording fake Kubernetes API server
 * and loopback EKS/STS stubs. The assertions are the Kubernetes requests each workflow makes, in order.
 */
import '../../adapters/local/promise-polyfill.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalTask, LocalWorkflowRunner } from '../../adapters/local/workflow-runner.js';
import { type Deps, type EndpointKey, type VersionKey, WORKFLOWS, type WorkflowName } from '../../core/ports.js';
import type { EnvironmentConfig } from '../../core/schemas/environment.js';
import { logsQuery } from '../../core/schemas/index.js';
import { deployVersion, redeployVersion, undeployVersion } from '../../core/use-cases/endpoints.js';
import { getEndpointLogs } from '../../core/use-cases/logs.js';
import { deleteModelEndpoint, putModelEndpoint } from '../../core/use-cases/model-endpoints.js';
import { putSecret } from '../../core/use-cases/secrets.js';
import { getDeps, provideEks, provideLocal } from '../../functions/shared/container.js';
import { STATE_MACHINE_ENV } from '../../functions/shared/env.js';
import { STATE_MACHINE_FILES, WORKFLOW_TASKS } from '../../functions/workflow/tasks.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.js';
import { importSource } from '../../local/platform.js';
import { type EksFakes, startEksFakes } from '../fakes/k8s-harness.js';
import { withEmulators } from '../helpers/emulators.js';
import { IRIS, versionWithArtifact } from '../helpers/platform.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/merlin/model-server:test';
const SECRET_VALUE = 'pa55-word-never-logged';

const NS = '/api/v1/namespaces/sm';
const APPS = '/apis/apps/v1/namespaces/sm/deployments';
const HPA = '/apis/autoscaling/v2/namespaces/sm/horizontalpodautoscalers';
const PDB = '/apis/policy/v1/namespaces/sm/poddisruptionbudgets';
const ROUTES = '/apis/gateway.networking.k8s.io/v1/namespaces/sm/httproutes';
const applied = (r: string, secret = true) => [
  `PATCH ${NS}`,
  ...(secret ? [`PATCH ${NS}/secrets/${r}-secrets`] : []),
  `PATCH ${APPS}/${r}`,
  `PATCH ${NS}/services/${r}`,
  `PATCH ${HPA}/${r}`,
  `PATCH ${PDB}/${r}`,
];
const poll = (r: string) => [`GET ${APPS}/${r}`, `GET ${NS}/pods`];
const deleted = (r: string) => [
  `DELETE ${HPA}/${r}`,
  `DELETE ${APPS}/${r}`,
  `DELETE ${NS}/services/${r}`,
  `DELETE ${PDB}/${r}`,
  `DELETE ${NS}/secrets/${r}-secrets`,
];

const lambdaContext = (name: string): Context =>
  ({ functionName: name, awsRequestId: name, getRemainingTimeInMillis: () => 60_000 }) as Context;

/** Every Task state bound to its functions/workflow handler, as local/platform.ts binds them. */
async function workflowTasks(): Promise<Record<string, LocalTask>> {
  const entries = await Promise.all(
    Object.entries(WORKFLOW_TASKS).map(async ([key, entry]) => {
      const mod = (await importSource('functions', 'workflow', entry)) as {
        handler: (event: unknown, ctx: Context) => Promise<unknown>;
      };
      return [key, (input: unknown) => mod.handler(input, lambdaContext(key))] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * Service-integration Task states (e.g. an image build) and their placeholders get stand-ins that fail loudly: an
 * onnx model never reaches them.
 */
function serviceStandIns(definitions: Record<WorkflowName, string>) {
  const substitutions: Record<string, string> = {};
  const stateHandlers: Record<string, LocalTask> = {};
  for (const text of Object.values(definitions)) {
    for (const [, key] of text.matchAll(/\$\{([A-Za-z0-9]+)\}/g)) {
      if (!key!.endsWith('FunctionArn')) substitutions[key!] = `merlin-test-${key}`;
    }
    const states = (JSON.parse(text) as { States: Record<string, { Type: string; Resource?: string }> }).States;
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === 'Task' && !/^\$\{[A-Za-z]+FunctionArn\}$/.test(s.Resource ?? '')) {
        stateHandlers[name] = async () => {
          throw new Error(`${name} is not expected in this test`);
        };
      }
    }
  }
  return { substitutions, stateHandlers };
}

describe('State machines on an EKS environment (fake Kubernetes API)', () => {
  let fakes: EksFakes;
  let emulators: Awaited<ReturnType<typeof withEmulators>>;
  let runner: LocalWorkflowRunner;
  let deps: Deps;
  let dataDir: string;
  let v1: VersionKey;
  let v2: VersionKey;
  const env = 'prod';
  const key = (v: VersionKey): EndpointKey => ({ ...v, environment: env });
  const me = { project: 'sm', model: 'iris', environment: env };

  beforeAll(async () => {
    fakes = await startEksFakes();
    emulators = await withEmulators({ table: 'merlin', bucket: 'merlin-artifacts' });
    dataDir = mkdtempSync(join(tmpdir(), 'merlin-eks-sm-'));
    const environments: EnvironmentConfig[] = [
      {
        name: env,
        isDefault: true,
        cluster: {
          kind: 'eks',
          eksClusterName: fakes.clusterName,
          region: 'us-east-1',
          gateway: { name: 'merlin', namespace: 'gateway-system' },
        },
        servingUrl: 'https://models.example.com/serving',
        defaults: { cpu: '250m', memory: '256Mi', minReplicas: 1, maxReplicas: 2 },
        deploymentTimeoutSeconds: 30,
      },
    ];
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: emulators.s3Endpoint,
      TABLE_NAME: 'merlin',
      ARTIFACT_BUCKET: 'merlin-artifacts',
      MERLIN_ENVIRONMENTS: JSON.stringify(environments),
      MERLIN_SECRETS_KEY_FILE: join(dataDir, 'secrets.key'),
      MODEL_SERVER_IMAGE: IMAGE,
    });
    const definitions = Object.fromEntries(
      WORKFLOWS.map((w) => [w, readFileSync(join(ROOT, 'statemachines', STATE_MACHINE_FILES[w]), 'utf8')]),
    ) as Record<WorkflowName, string>;
    // A variable, not a literal: runners without service stand-ins ignore those options.
    const options = { definitions, tasks: await workflowTasks(), retryIntervalMs: 0, ...serviceStandIns(definitions) };
    runner = new LocalWorkflowRunner(options);
    for (const [workflow, name] of Object.entries(STATE_MACHINE_ENV)) {
      process.env[name] = runner
        .executionArn(workflow as WorkflowName, 'x')
        .replace(/:execution:(.*):x$/, ':stateMachine:$1');
    }
    provideLocal({
      workflows: runner,
      localCluster: () => {
        throw new Error('no local cluster in this test');
      },
    });
    provideEks(fakes.overrides);
    deps = getDeps();
    v1 = await versionWithArtifact(deps, { project: 'sm', model: 'iris' }, IRIS);
    v2 = await versionWithArtifact(deps, { project: 'sm', model: 'iris' }, IRIS);
    await putSecret(deps, { project: 'sm', name: 'db-password' }, { value: SECRET_VALUE });
  });

  afterAll(async () => {
    await runner?.abortAll();
    provideEks(undefined);
    await fakes?.stop();
    await emulators?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const execution = (arn: string) => runner.describe(arn)!;
  let mark = 0;
  /** Kubernetes requests (no API discovery) since the last call. */
  const requestsSince = () => {
    const calls = fakes.kube.calls(mark);
    mark = fakes.kube.requests.length;
    return calls;
  };

  it('deploy-version: applies the revision, waits for its rollout, then points the version Service and route at it', async () => {
    requestsSince();
    const d = await deployVersion(deps, v1, { secrets: { DB_PASSWORD: 'db-password' }, env: { LOG_LEVEL: 'debug' } });
    await runner.idle();

    expect(execution(d.execution.arn).status).toBe('SUCCEEDED');
    expect(requestsSince()).toEqual([
      ...applied('iris-1-r1'), // Apply Revision
      ...poll('iris-1-r1'), // Wait Until Ready: starting…
      ...poll('iris-1-r1'), // …ready
      `PATCH ${NS}/services/iris-1`, // Promote: the stable Service selects r1
      `PATCH ${ROUTES}/iris-1`, // and the version route attaches to the Gateway
    ]);
    const done = (await deps.deployments.get({ id: d.id }))!;
    expect(done.status).toBe('succeeded');
    expect(done.steps.filter((s) => s.status !== 'skipped').map((s) => [s.name, s.status])).toEqual([
      ['Prepare', 'succeeded'],
      ['Apply Revision', 'succeeded'],
      ['Wait Until Ready', 'succeeded'],
      ['Promote', 'succeeded'],
    ]);
    expect(await deps.endpoints.get(key(v1))).toMatchObject({
      status: 'running',
      activeRevision: { number: 1, name: 'iris-1-r1' },
      url: 'https://models.example.com/serving/sm/iris/versions/1',
    });
    expect(fakes.kube.object('Service', 'sm', 'iris-1')?.spec).toMatchObject({
      selector: { 'merlin.dev/revision': 'iris-1-r1' },
    });
    expect(fakes.kube.object('HTTPRoute', 'sm', 'iris-1')?.spec).toMatchObject({
      parentRefs: [{ name: 'merlin', namespace: 'gateway-system' }],
      hostnames: ['models.example.com'],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/serving/sm/iris/versions/1' } }] }],
    });
    // The secret reaches the cluster only inside the Secret object, never in the Deployment or our records.
    const secret = fakes.kube.object('Secret', 'sm', 'iris-1-r1-secrets')!;
    expect(Buffer.from((secret['data'] as Record<string, string>)['DB_PASSWORD']!, 'base64').toString()).toBe(
      SECRET_VALUE,
    );
    expect(JSON.stringify(fakes.kube.object('Deployment', 'sm', 'iris-1-r1'))).not.toContain(SECRET_VALUE);
    expect(JSON.stringify([done, execution(d.execution.arn)])).not.toContain(SECRET_VALUE);
    // Auth: one DescribeCluster per cold start, every request carrying an EKS token STS accepted for this cluster.
    expect(fakes.aws.describeCalls).toEqual([fakes.clusterName]);
    expect(fakes.aws.stsCalls.every((c) => c.ok && c.clusterId === fakes.clusterName)).toBe(true);
  });

  it('deploy-version (redeploy): a new revision, the Service switched to it, the old revision removed', async () => {
    const routeBefore = fakes.kube.object('HTTPRoute', 'sm', 'iris-1')!;
    requestsSince();
    const d = await redeployVersion(deps, key(v1), { resources: { memory: '512Mi' } }, undefined);
    await runner.idle();

    expect(execution(d.execution.arn).status).toBe('SUCCEEDED');
    expect(requestsSince()).toEqual([
      ...applied('iris-1-r2'),
      ...poll('iris-1-r2'),
      ...poll('iris-1-r2'),
      `PATCH ${NS}/services/iris-1`,
      `PATCH ${ROUTES}/iris-1`,
      ...deleted('iris-1-r1'),
    ]);
    expect(fakes.kube.object('Service', 'sm', 'iris-1')?.spec).toMatchObject({
      selector: { 'merlin.dev/revision': 'iris-1-r2' },
    });
    // The route did not change: only the Service's selector moved.
    const routeAfter = fakes.kube.object('HTTPRoute', 'sm', 'iris-1')!;
    expect(routeAfter.spec).toEqual(routeBefore.spec);
    expect(routeAfter.metadata.generation).toBe(routeBefore.metadata.generation);
    expect(fakes.kube.objectNames().filter((n) => n.includes('iris-1-r1'))).toEqual([]);
    expect(await deps.endpoints.get(key(v1))).toMatchObject({ status: 'running', activeRevision: { number: 2 } });
  });

  it('deploy-version Catch path (failed redeploy): OOMKilled; the serving revision is never touched and stays selected', async () => {
    fakes.kube.script('iris-1-r3', { fail: 'OOMKilled' });
    const r2Before = ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret'].map((k) =>
      fakes.kube.object(k, 'sm', k === 'Secret' ? 'iris-1-r2-secrets' : 'iris-1-r2'),
    );
    requestsSince();
    const from = fakes.kube.requests.length;
    const d = await redeployVersion(deps, key(v1), { resources: { memory: '256Mi' } }, undefined);
    await runner.idle();

    expect(execution(d.execution.arn).status).toBe('FAILED');
    expect(requestsSince()).toEqual([
      ...applied('iris-1-r3'),
      ...poll('iris-1-r3'), // the first poll shows the OOM kill
      `PATCH ${NS}/services/iris-1`, // Record Failure: the version address keeps pointing at r2…
      `PATCH ${ROUTES}/iris-1`,
      ...deleted('iris-1-r3'), // …and the failed revision goes
    ]);
    const failed = (await deps.deployments.get({ id: d.id }))!;
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('RevisionFailed');
    expect(failed.error?.message).toMatch(
      /^OOMKilled: container "model-server" of pod iris-1-r3-\S+ ran out of memory \(limit 512Mi\)/,
    );
    expect(await deps.endpoints.get(key(v1))).toMatchObject({
      status: 'running',
      activeRevision: { number: 2, name: 'iris-1-r2' },
      message: expect.stringContaining('OOMKilled'),
    });
    // r2 untouched: no request named it, its objects are as they were, and every write to the Service selected it.
    const during = fakes.kube.requests.slice(from);
    expect(during.filter((r) => r.path.includes('iris-1-r2'))).toEqual([]);
    expect(
      ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret'].map((k) =>
        fakes.kube.object(k, 'sm', k === 'Secret' ? 'iris-1-r2-secrets' : 'iris-1-r2'),
      ),
    ).toEqual(r2Before);
    for (const r of during.filter((x) => x.path === `${NS}/services/iris-1`)) {
      expect(r.body).toMatchObject({ spec: { selector: { 'merlin.dev/revision': 'iris-1-r2' } } });
    }
    expect(fakes.kube.object('Service', 'sm', 'iris-1')?.spec).toMatchObject({
      selector: { 'merlin.dev/revision': 'iris-1-r2' },
    });
    expect(fakes.kube.objectNames().filter((n) => n.includes('iris-1-r3'))).toEqual([]);
  });

  it('deploy-version Catch path (first deploy): ImagePullBackOff marks the endpoint failed and leaves nothing behind', async () => {
    fakes.kube.script('iris-2-r1', { fail: 'ImagePullBackOff', message: `Failed to pull image "${IMAGE}": not found` });
    requestsSince();
    const d = await deployVersion(deps, v2, {});
    await runner.idle();

    expect(execution(d.execution.arn).status).toBe('FAILED');
    expect(requestsSince()).toEqual([
      ...applied('iris-2-r1', false),
      ...poll('iris-2-r1'),
      `GET ${NS}/events`,
      ...deleted('iris-2-r1'),
    ]);
    const reason = `ImagePullBackOff: Failed to pull image "${IMAGE}": not found`;
    expect((await deps.deployments.get({ id: d.id }))?.error).toEqual({ code: 'RevisionFailed', message: reason });
    expect(await deps.endpoints.get(key(v2))).toMatchObject({ status: 'failed', message: reason });
    expect(fakes.kube.object('Service', 'sm', 'iris-2')).toBeUndefined();
    expect(fakes.kube.object('HTTPRoute', 'sm', 'iris-2')).toBeUndefined();
  });

  it('update-route: the model endpoint route carries the rule; a failed routing change keeps the previous one', async () => {
    requestsSince();
    const d = await putModelEndpoint(deps, me, { rule: { destinations: [{ version: 1, weight: 100 }] } });
    await runner.idle();

    expect(execution(d.execution.arn).status).toBe('SUCCEEDED');
    expect(requestsSince()).toEqual([`PATCH ${ROUTES}/iris-endpoint`]);
    expect(fakes.kube.object('HTTPRoute', 'sm', 'iris-endpoint')?.spec).toMatchObject({
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/serving/sm/iris' } }],
          filters: [
            { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } },
          ],
          backendRefs: [{ kind: 'Service', name: 'iris-1', port: 80, weight: 100 }],
        },
      ],
    });
    expect(await deps.modelEndpoints.get(me)).toMatchObject({
      status: 'serving',
      rule: { destinations: [{ version: 1, weight: 100 }] },
    });

    // The cluster refuses the next change (an admission policy): the Catch path puts the previous rule back.
    fakes.kube.failNext(
      { method: 'PATCH', path: `${ROUTES}/iris-endpoint` },
      422,
      'denied by policy require-mirror-approval',
    );
    const bad = await putModelEndpoint(deps, me, { rule: { destinations: [{ version: 1, weight: 100 }] } });
    await runner.idle();
    expect(execution(bad.execution.arn).status).toBe('FAILED');
    expect(requestsSince()).toEqual([`PATCH ${ROUTES}/iris-endpoint`, `PATCH ${ROUTES}/iris-endpoint`]);
    expect((await deps.deployments.get({ id: bad.id }))?.error?.message).toContain(
      'denied by policy require-mirror-approval',
    );
    expect(fakes.kube.requests.at(-1)?.body).toMatchObject({
      spec: { rules: [{ backendRefs: [{ name: 'iris-1', weight: 100 }] }] },
    });
    expect(await deps.modelEndpoints.get(me)).toMatchObject({
      status: 'serving',
      rule: { destinations: [{ version: 1, weight: 100 }] },
    });
  });

  it('logs: the endpoint logs are the serving revision pods’ logs', async () => {
    fakes.kube.setLogs('iris-1-r2', ['{"msg":"a"}', '{"msg":"b"}', '{"msg":"c"}']);
    const logs = await getEndpointLogs(deps, key(v1), logsQuery.parse({ tail: '2' }));
    expect(logs).toMatchObject({ revision: 'iris-1-r2', lines: ['{"msg":"b"}', '{"msg":"c"}'] });
    const calls = requestsSince();
    expect(calls).toEqual([
      `GET ${NS}/pods`,
      expect.stringMatching(new RegExp(`^GET ${NS}/pods/iris-1-r2-[0-9a-f]+-0/log$`)),
    ]);
    expect(fakes.kube.requests.at(-1)?.query).toEqual({ container: 'model-server', tailLines: '10000' });
  });

  it('undeploy-version: after the model route is removed, removes the version route, its Service and the revision', async () => {
    requestsSince();
    const remove = await deleteModelEndpoint(deps, me, undefined);
    await runner.idle();
    expect(execution(remove.execution.arn).status).toBe('SUCCEEDED');
    expect(requestsSince()).toEqual([`DELETE ${ROUTES}/iris-endpoint`]);

    const d = await undeployVersion(deps, key(v1));
    await runner.idle();

    expect(execution(d.execution.arn).status).toBe('SUCCEEDED');
    expect(requestsSince()).toEqual([
      `DELETE ${ROUTES}/iris-1`,
      `DELETE ${NS}/services/iris-1`,
      ...deleted('iris-1-r2'),
    ]);
    expect(await deps.endpoints.get(key(v1))).toMatchObject({ status: 'terminated', activeRevision: null });
    expect(fakes.kube.objectNames()).toEqual(['Namespace sm']);
  });
});
