/**
 * The EKS cluster gateway against a recording fake Kubernetes API server and loopback EKS/STS stubs: real
 * @kubernetes/client-node, real SigV4 tokens (verified by the stub the way the EKS authenticator verifies them).
 */
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EksGateways } from '../../../adapters/eks/gateways.js';
import { buildModelRoute, buildRevision, buildVersionRoute } from '../../../adapters/eks/manifests.js';
import { Environments } from '../../../core/environments.js';
import { ConflictError, DependencyError, UnprocessableError } from '../../../core/errors.js';
import { revisionIdentity } from '../../../core/names.js';
import type { ClusterGateway, RevisionSpec } from '../../../core/ports.js';
import type { EnvironmentConfig } from '../../../core/schemas/environment.js';
import { isDiscovery } from '../../fakes/k8s-api-server.js';
import { AwsStub } from '../../fakes/k8s-aws-stub.js';
import { EKS_TEST_CREDENTIALS, type EksFakes, startEksFakes } from '../../fakes/k8s-harness.js';
import { ONNX_SPEC } from '../../unit/eks/fixtures.js';

const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/merlin/model-server:1.4.0';
const environment = (fakes: EksFakes, cluster: object = {}): EnvironmentConfig => ({
  name: 'prod',
  cluster: {
    kind: 'eks',
    eksClusterName: fakes.clusterName,
    region: 'eu-west-1',
    namespacePrefix: 'ml-',
    gateway: { name: 'merlin', namespace: 'gateway-system', sectionName: 'https' },
    serviceAccountName: 'model-server',
    ...cluster,
  },
  servingUrl: 'https://models.example.com/serving',
});
const gatewayFor = (fakes: EksFakes, cluster: object = {}, overrides = {}): ClusterGateway => {
  const envs = new Environments([environment(fakes, cluster)]);
  return new EksGateways(
    { modelServerImage: IMAGE, artifactRegion: 'eu-west-1' },
    { ...fakes.overrides, ...overrides },
  ).forEnvironment(envs.get('prod'));
};
const SETTINGS_OF_TEST = {
  namespacePrefix: 'ml-',
  gateway: { name: 'merlin', namespace: 'gateway-system', sectionName: 'https' },
  servingHost: 'models.example.com',
  servingPath: '/serving',
  serviceAccountName: 'model-server',
  modelServerImage: IMAGE,
  artifactRegion: 'eu-west-1',
};

const spec = (name: string, o: Partial<RevisionSpec> = {}): RevisionSpec => {
  const number = Number(/-r(\d+)$/.exec(name)![1]);
  return { ...ONNX_SPEC, ...revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, number), ...o };
};
const NS = '/api/v1/namespaces/ml-fraud';
const APPS = '/apis/apps/v1/namespaces/ml-fraud';
const HPA = '/apis/autoscaling/v2/namespaces/ml-fraud/horizontalpodautoscalers';
const PDB = '/apis/policy/v1/namespaces/ml-fraud/poddisruptionbudgets';
const ROUTES = '/apis/gateway.networking.k8s.io/v1/namespaces/ml-fraud/httproutes';

describe('EKS cluster gateway (fake API server)', () => {
  let fakes: EksFakes;
  let gw: ClusterGateway;

  beforeAll(async () => {
    fakes = await startEksFakes();
    gw = gatewayFor(fakes);
  });
  afterAll(() => fakes.stop());
  let mark = 0;
  afterEach(() => {
    mark = fakes.kube.requests.length;
  });
  const since = () => fakes.kube.calls(mark);

  describe('applyRevision', () => {
    it('should server-side apply namespace, secret, deployment, service, autoscaler and budget, authenticated by EKS tokens', async () => {
      await gw.applyRevision(spec('iris-3-r2'));

      expect(since()).toEqual([
        `PATCH ${NS}`,
        `PATCH ${NS}/secrets/iris-3-r2-secrets`,
        `PATCH ${APPS}/deployments/iris-3-r2`,
        `PATCH ${NS}/services/iris-3-r2`,
        `PATCH ${HPA}/iris-3-r2`,
        `PATCH ${PDB}/iris-3-r2`,
      ]);
      const patches = fakes.kube.requests.filter((r) => r.method === 'PATCH');
      for (const p of patches) {
        expect(p.contentType).toBe('application/apply-patch+yaml');
        expect(p.query).toEqual({ fieldManager: 'merlin', force: 'true', fieldValidation: 'Strict' });
        expect(p.authorization).toMatch(/^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/);
      }
      expect(patches.map((p) => p.body)).toEqual(
        JSON.parse(JSON.stringify(buildRevision(SETTINGS_OF_TEST, spec('iris-3-r2')))),
      );
      // One DescribeCluster, one token, verified by STS for this cluster only.
      expect(fakes.aws.describeCalls).toEqual([fakes.clusterName]);
      expect(fakes.aws.stsCalls).toHaveLength(1);
      expect(fakes.aws.stsCalls[0]).toMatchObject({ ok: true, clusterId: fakes.clusterName });
      // Built-in groups need no API discovery.
      expect(fakes.kube.requests.filter((r) => isDiscovery(r.path))).toEqual([]);
    });

    it('should be idempotent: applying again changes nothing (same generation)', async () => {
      await gw.applyRevision(spec('iris-3-r2'));
      expect(since()).toHaveLength(6);
      expect(fakes.kube.object('Deployment', 'ml-fraud', 'iris-3-r2')?.metadata.generation).toBe(1);
    });

    it('should skip the Secret when the endpoint has no secrets', async () => {
      await gw.applyRevision(spec('iris-3-r9', { secretEnv: {} }));
      expect(since()).not.toContain(`PATCH ${NS}/secrets/iris-3-r9-secrets`);
      expect(since()).toHaveLength(5);
    });
  });

  describe('revisionStatus', () => {
    it('should poll until the rollout is complete', async () => {
      fakes.kube.script('iris-3-r3', { readyAfterPolls: 3 });
      await gw.applyRevision(spec('iris-3-r3'));
      mark = fakes.kube.requests.length;

      const state = await gw.revisionStatus(revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 3), {
        waitMs: 60_000,
      });

      expect(state).toEqual({ state: 'ready' });
      expect(fakes.kube.polls('iris-3-r3')).toBe(3);
      const poll = [`GET ${APPS}/deployments/iris-3-r3`, `GET ${NS}/pods`];
      expect(since()).toEqual([...poll, ...poll, ...poll]);
      const list = fakes.kube.requests.filter((r) => r.path === `${NS}/pods`).at(-1)!;
      expect(list.query).toEqual({
        labelSelector: 'app.kubernetes.io/managed-by=merlin,merlin.dev/revision=iris-3-r3',
      });
    });

    it('should answer at once with the progress when it may not wait', async () => {
      fakes.kube.script('iris-3-r4', { never: true, reason: 'warm-up inference failed: input shape [1,3] != [1,4]' });
      await gw.applyRevision(spec('iris-3-r4'));
      const r4 = revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 4);
      expect(await gw.revisionStatus(r4)).toEqual({
        state: 'starting',
        reason: expect.stringMatching(/^0\/2 replicas ready; pod iris-3-r4-[0-9a-f]+-[01]: /),
      });
      // A wait that ends with the model server running but unready adds its last log line to the reason.
      const before = fakes.kube.polls('iris-3-r4');
      expect(await gw.revisionStatus(r4, { waitMs: 30 })).toEqual({
        state: 'starting',
        reason: expect.stringMatching(
          /^0\/2 replicas ready; pod iris-3-r4-\S+: model server started, waiting for it to be ready; last log line: warm-up inference failed: input shape \[1,3\] != \[1,4\]$/,
        ),
      });
      expect(fakes.kube.polls('iris-3-r4')).toBeGreaterThan(before);
    });

    it('should be absent for a revision that was never applied', async () => {
      expect(await gw.revisionStatus(revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 77))).toEqual({
        state: 'absent',
      });
    });

    /** A failure ends the wait at once; a revision still starting is answered after waitMs. */
    const failing = async (name: string, script: Parameters<EksFakes['kube']['script']>[1], waitMs = 60_000) => {
      fakes.kube.script(name, script);
      const s = spec(name, { secretEnv: {} });
      await gw.applyRevision(s);
      mark = fakes.kube.requests.length;
      return gw.revisionStatus(s, { waitMs });
    };

    it('should fail with OOMKilled', async () => {
      const state = await failing('iris-3-r10', { fail: 'OOMKilled' });
      expect(state).toEqual({
        state: 'failed',
        reason: expect.stringMatching(
          /^OOMKilled: container "model-server" of pod iris-3-r10-\S+ ran out of memory \(limit 1024Mi\) and was killed \(3 restarts\)$/,
        ),
      });
    });

    it('should fail with CrashLoopBackOff and the last line the crashed container logged', async () => {
      const state = await failing('iris-3-r11', {
        fail: 'CrashLoopBackOff',
        logs: ['{"level":"info","msg":"loading model"}', '{"level":"error","msg":"model failed to load: bad graph"}'],
      });
      expect(state).toEqual({ state: 'failed', reason: 'CrashLoopBackOff: model failed to load: bad graph' });
      const log = fakes.kube.requests.slice(mark).find((r) => r.path.endsWith('/log'))!;
      expect(log.query).toEqual({ container: 'model-server', previous: 'true', tailLines: '50' });
    });

    it('should fail with ImagePullBackOff and the registry message', async () => {
      const state = await failing('iris-3-r12', {
        fail: 'ImagePullBackOff',
        message: 'Failed to pull image "x": rpc error: code = NotFound desc = manifest unknown',
      });
      expect(state).toEqual({
        state: 'failed',
        reason: 'ImagePullBackOff: Failed to pull image "x": rpc error: code = NotFound desc = manifest unknown',
      });
      const events = fakes.kube.requests.slice(mark).find((r) => r.path === `${NS}/events`)!;
      expect(events.query.fieldSelector).toMatch(/^involvedObject\.kind=Pod,involvedObject\.name=iris-3-r12-/);
    });

    it('should fail Unschedulable with the scheduler event, or keep starting while a node is added', async () => {
      const message = '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available.';
      expect(await failing('iris-3-r13', { fail: 'Unschedulable', message })).toEqual({
        state: 'failed',
        reason: `Unschedulable: ${message}`,
      });
      expect(await failing('iris-3-r14', { fail: 'Unschedulable', message, scaleUp: true }, 30)).toEqual({
        state: 'starting',
        reason: `Unschedulable until a new node is ready: ${message}`,
      });
    });
  });

  describe('deleteRevision', () => {
    it('should delete every object of the revision with foreground propagation, and again without error', async () => {
      const r2 = revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 2);
      await gw.deleteRevision(r2);
      expect(since()).toEqual([
        `DELETE ${HPA}/iris-3-r2`,
        `DELETE ${APPS}/deployments/iris-3-r2`,
        `DELETE ${NS}/services/iris-3-r2`,
        `DELETE ${PDB}/iris-3-r2`,
        `DELETE ${NS}/secrets/iris-3-r2-secrets`,
      ]);
      for (const r of fakes.kube.requests.slice(mark)) expect(r.query).toEqual({ propagationPolicy: 'Foreground' });
      expect(fakes.kube.objectNames().filter((n) => n.includes('iris-3-r2'))).toEqual([]);
      expect(await gw.revisionStatus(r2)).toEqual({ state: 'absent' });
      await expect(gw.deleteRevision(r2)).resolves.toBeUndefined();
    });
  });

  describe('Routing', () => {
    const v3 = { project: 'fraud', model: 'iris', version: 3 };

    it('should point the stable version Service at a revision and attach the version route to the Gateway', async () => {
      await gw.routeVersion(v3, revisionIdentity(v3, 3));
      expect(since()).toEqual([`PATCH ${NS}/services/iris-3`, `PATCH ${ROUTES}/iris-3`]);
      // The Gateway API group is discovered once, before the first HTTPRoute call.
      expect(
        fakes.kube.requests
          .slice(mark)
          .filter((r) => isDiscovery(r.path))
          .map((r) => r.path),
      ).toEqual(['/apis/gateway.networking.k8s.io/v1']);
      const svc = fakes.kube.object('Service', 'ml-fraud', 'iris-3')!;
      expect(svc.spec).toMatchObject({ selector: { 'merlin.dev/revision': 'iris-3-r3' } });
      expect(fakes.kube.object('HTTPRoute', 'ml-fraud', 'iris-3')!.spec).toEqual(
        buildVersionRoute(SETTINGS_OF_TEST, v3).spec,
      );
    });

    it('should switch only the Service selector on a redeploy: the route stays as it was', async () => {
      const route = fakes.kube.object('HTTPRoute', 'ml-fraud', 'iris-3')!;
      await gw.routeVersion(v3, revisionIdentity(v3, 10));
      expect(fakes.kube.object('Service', 'ml-fraud', 'iris-3')!.spec).toMatchObject({
        selector: { 'merlin.dev/revision': 'iris-3-r10' },
      });
      const after = fakes.kube.object('HTTPRoute', 'ml-fraud', 'iris-3')!;
      expect(after.spec).toEqual(route.spec);
      expect(after.metadata.generation).toBe(route.metadata.generation);
    });

    it('should apply and delete the model endpoint route', async () => {
      const rule = {
        destinations: [
          { version: 3, weight: 80 },
          { version: 4, weight: 20 },
        ],
        mirror: { version: 5, percent: 10 },
      };
      await gw.applyModelRoute({ project: 'fraud', model: 'iris' }, rule);
      expect(since()).toEqual([`PATCH ${ROUTES}/iris-endpoint`]);
      expect(fakes.kube.requests.at(-1)!.body).toEqual(
        buildModelRoute(SETTINGS_OF_TEST, { project: 'fraud', model: 'iris' }, rule),
      );
      await gw.deleteModelRoute({ project: 'fraud', model: 'iris' });
      await gw.deleteModelRoute({ project: 'fraud', model: 'iris' });
      expect(since()).toEqual([
        `PATCH ${ROUTES}/iris-endpoint`,
        `DELETE ${ROUTES}/iris-endpoint`,
        `DELETE ${ROUTES}/iris-endpoint`,
      ]);
      expect(fakes.kube.object('HTTPRoute', 'ml-fraud', 'iris-endpoint')).toBeUndefined();
    });

    it('should remove the version route and Service on unroute, idempotently', async () => {
      await gw.unrouteVersion(v3);
      await gw.unrouteVersion(v3);
      expect(since()).toEqual([
        `DELETE ${ROUTES}/iris-3`,
        `DELETE ${NS}/services/iris-3`,
        `DELETE ${ROUTES}/iris-3`,
        `DELETE ${NS}/services/iris-3`,
      ]);
      expect(fakes.kube.object('Service', 'ml-fraud', 'iris-3')).toBeUndefined();
    });
  });

  describe('revisionLogs', () => {
    it('should read the tail of every pod of the revision', async () => {
      fakes.kube.setLogs('iris-3-r3', ['one', 'two', 'three']);
      const lines = await gw.revisionLogs(revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 3), {
        tail: 2,
      });
      // Two replicas, each asked for its last two lines; the last two overall are answered.
      expect(lines).toEqual(['two', 'three']);
      const logs = fakes.kube.requests.slice(mark).filter((r) => r.path.endsWith('/log'));
      expect(logs).toHaveLength(2);
      expect(logs[0]!.query).toEqual({ container: 'model-server', tailLines: '2' });
    });

    it('should answer no lines for a revision without pods', async () => {
      expect(
        await gw.revisionLogs(revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 99), { tail: 10 }),
      ).toEqual([]);
    });
  });

  describe('Errors at the boundary', () => {
    it('should translate 409 to ConflictError, 422 to UnprocessableError, 403/429/5xx to DependencyError', async () => {
      const cases: [number, new (...a: never[]) => Error][] = [
        [409, ConflictError],
        [422, UnprocessableError],
        [403, DependencyError],
        [429, DependencyError],
        [500, DependencyError],
        [503, DependencyError],
      ];
      for (const [status, type] of cases) {
        fakes.kube.failNext({ method: 'PATCH', path: '/deployments/iris-3-r20' }, status, `injected ${status}`);
        const err = await gw.applyRevision(spec('iris-3-r20')).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(type);
        expect((err as Error).message).toBe(
          `Kubernetes API of cluster "${fakes.clusterName}" refused to apply Deployment ml-fraud/iris-3-r20: ${status} injected ${status}`,
        );
      }
    });

    it('should never put a secret value into an error message', async () => {
      fakes.kube.failNext({ method: 'PATCH', path: '/secrets/' }, 500, 'etcdserver: request timed out');
      const err = (await gw.applyRevision(spec('iris-3-r21')).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(DependencyError);
      expect(err.message).not.toContain('s3cr3t');
      expect(err.message).not.toContain(Buffer.from('s3cr3t value').toString('base64'));
    });

    it('should retry once with a fresh token after a 401', async () => {
      fakes.kube.failNext({ path: '/deployments/iris-3-r3' }, 401, 'Unauthorized');
      const state = await gw.revisionStatus(revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 3));
      expect(state).toEqual({ state: 'ready' });
      expect(since().slice(0, 2)).toEqual([`GET ${APPS}/deployments/iris-3-r3`, `GET ${APPS}/deployments/iris-3-r3`]);
    });

    it('should refuse a namespace that is being deleted', async () => {
      fakes.kube.setNamespacePhase('ml-fraud', 'Terminating');
      await expect(gw.applyRevision(spec('iris-3-r22'))).rejects.toThrow(/namespace ml-fraud is being deleted/);
      expect(since()).toEqual([`PATCH ${NS}`]);
      fakes.kube.setNamespacePhase('ml-fraud', 'Active');
    });

    it('should refuse to deploy without a Gateway before touching the cluster', async () => {
      const noGateway = gatewayFor(fakes, { gateway: undefined });
      await expect(noGateway.applyRevision(spec('iris-3-r23'))).rejects.toThrow(
        new DependencyError(
          'environment "prod" declares no cluster.gateway: name the Gateway API Gateway ({name, namespace}) the model servers\' HTTPRoutes attach to',
        ),
      );
      expect(since()).toEqual([]);
    });

    it('should say which image is missing before touching the cluster', async () => {
      const envs = new Environments([environment(fakes)]);
      const noImage = new EksGateways({}, fakes.overrides).forEnvironment(envs.get('prod'));
      await expect(noImage.applyRevision(spec('iris-3-r24'))).rejects.toThrow(
        /no model-server image: set the environment's cluster\.modelServerImage or the functions' MODEL_SERVER_IMAGE/,
      );
      expect(since()).toEqual([]);
    });

    it('should report an unreachable API server as a DependencyError', async () => {
      const other = await startEksFakes({ clusterName: 'gone' });
      await other.kube.close();
      const gone = gatewayFor(other, { eksClusterName: 'gone' });
      const err = (await gone
        .revisionStatus(revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 1))
        .catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(DependencyError);
      expect(err.message).toMatch(
        /^Kubernetes API of cluster "gone" is unreachable \(read Deployment ml-fraud\/iris-3-r1\): .*ECONNREFUSED/,
      );
      await other.aws.close();
    });

    it('should give up on an API server that does not answer after the request timeout', async () => {
      const sockets = new Set<Socket>();
      const silent = createNetServer((socket) => sockets.add(socket));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const aws = await AwsStub.start({
        credentials: EKS_TEST_CREDENTIALS,
        clusters: { silent: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` },
      });
      try {
        const envs = new Environments([environment({ ...fakes, clusterName: 'silent' })]);
        const g = new EksGateways(
          { modelServerImage: IMAGE },
          { eksEndpoint: aws.url, stsEndpoint: aws.url, credentials: EKS_TEST_CREDENTIALS, requestTimeoutMs: 100 },
        ).forEnvironment(envs.get('prod'));
        const err = (await g
          .revisionLogs(revisionIdentity({ project: 'fraud', model: 'iris', version: 3 }, 1), { tail: 1 })
          .catch((e: unknown) => e)) as Error;
        expect(err).toBeInstanceOf(DependencyError);
        expect(err.message).toMatch(
          /^Kubernetes API of cluster "silent" is unreachable \(list pods ml-fraud .*\): no answer within 100 ms$/,
        );
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
        await aws.close();
      }
    });

    it('should report an unknown EKS cluster as a DependencyError', async () => {
      const unknown = gatewayFor(fakes, { eksClusterName: 'nope' });
      await expect(unknown.deleteModelRoute({ project: 'fraud', model: 'iris' })).rejects.toThrow(
        new DependencyError('EKS cluster "nope" does not exist in region eu-west-1'),
      );
    });
  });

  describe('With Gateway API CRDs older than v1.3 (no mirror percent)', () => {
    it('should have the mirror share refused rather than silently mirror everything', async () => {
      const old = await startEksFakes({ mirrorPercent: false });
      try {
        const g = gatewayFor(old);
        await g.applyRevision(spec('iris-3-r1'));
        const err = (await g
          .applyModelRoute(
            { project: 'fraud', model: 'iris' },
            { destinations: [{ version: 3, weight: 100 }], mirror: { version: 4, percent: 10 } },
          )
          .catch((e: unknown) => e)) as Error;
        expect(err).toBeInstanceOf(UnprocessableError);
        expect(err.message).toContain('.spec.rules[0].filters[1].requestMirror.percent: field not declared in schema');
        expect(old.kube.object('HTTPRoute', 'ml-fraud', 'iris-endpoint')).toBeUndefined();
      } finally {
        await old.stop();
      }
    });
  });

  describe('Without the Gateway API CRDs', () => {
    it('should refuse to route with a clear message and treat their deletion as done', async () => {
      const bare = await startEksFakes({ gatewayApi: false });
      try {
        const g = gatewayFor(bare);
        const v = { project: 'fraud', model: 'iris', version: 3 };
        await g.applyRevision(spec('iris-3-r1'));
        await expect(g.routeVersion(v, revisionIdentity(v, 1))).rejects.toThrow(
          new DependencyError(
            `cluster "${bare.clusterName}" does not serve HTTPRoute (gateway.networking.k8s.io/v1): install the Gateway API CRDs (standard channel, v1.3 or later)`,
          ),
        );
        await expect(g.deleteModelRoute({ project: 'fraud', model: 'iris' })).resolves.toBeUndefined();
      } finally {
        await bare.stop();
      }
    });
  });
});
