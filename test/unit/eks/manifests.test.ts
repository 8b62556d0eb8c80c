/**
 * The EKS manifests are pure: same input, same JSON. Golden files pin every object the gateway applies; regenerate
 * them only on purpose (`UPDATE_GOLDEN=1 npx vitest run test/unit/eks/manifests.test.ts`, then
 * `npx biome format --write test/unit/eks/golden` for CI's formatter) and review the diff.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import {
  buildDeployment,
  buildModelRoute,
  buildRevision,
  buildVersionRoute,
  buildVersionService,
  clusterSettings,
  containerEnv,
  doubleQuantity,
  type HTTPRoute,
  httpRouteSchema,
  mirrorShare,
  revisionRefs,
  validateHttpRoute,
} from '../../../adapters/eks/manifests.js';
import { Environments } from '../../../core/environments.js';
import { revisionIdentity } from '../../../core/names.js';
import { CUSTOM_SPEC, ONNX_SPEC, SETTINGS } from './fixtures.js';

const golden = (name: string, value: unknown) => {
  const file = new URL(`./golden/${name}.json`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  expect(existsSync(file), `golden file ${name}.json is missing: run with UPDATE_GOLDEN=1`).toBe(true);
  // Compared as data, not text: the formatter may re-indent the files.
  expect(JSON.parse(JSON.stringify(value))).toEqual(JSON.parse(readFileSync(file, 'utf8')));
};

/** Re-validates a plain manifest with the kubernetes-models class of its kind (what the API server would check). */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Namespace,
  Secret,
  Deployment,
  Service,
  HorizontalPodAutoscaler,
  PodDisruptionBudget,
};
const revalidate = (m: { kind: string }) => {
  if (m.kind === 'HTTPRoute') return httpRouteSchema.parse(m);
  const Model = MODELS[m.kind];
  if (!Model) throw new Error(`no model for ${m.kind}`);
  new Model(structuredClone(m) as never).validate();
};

describe('EKS manifests', () => {
  describe('Golden files', () => {
    it('should build an onnx revision: namespace, secret, deployment, service, autoscaler, budget', () => {
      const manifests = buildRevision(SETTINGS, ONNX_SPEC);
      expect(manifests.map((m) => `${m.kind} ${m.metadata.namespace ?? ''}/${m.metadata.name}`)).toEqual([
        'Namespace /ml-fraud',
        'Secret ml-fraud/iris-3-r2-secrets',
        'Deployment ml-fraud/iris-3-r2',
        'Service ml-fraud/iris-3-r2',
        'HorizontalPodAutoscaler ml-fraud/iris-3-r2',
        'PodDisruptionBudget ml-fraud/iris-3-r2',
      ]);
      for (const m of manifests) revalidate(m);
      golden('onnx-revision', manifests);
    });

    it('should build a custom revision with its own image, a V1 readiness probe and no liveness probe', () => {
      const manifests = buildRevision(SETTINGS, CUSTOM_SPEC);
      expect(manifests.map((m) => m.kind)).toEqual([
        'Namespace',
        'Deployment',
        'Service',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
      ]);
      for (const m of manifests) revalidate(m);
      golden('custom-revision', manifests);
    });

    it('should build the stable version Service and the version HTTPRoute', () => {
      const version = { project: 'fraud', model: 'iris', version: 3 };
      const objects = [
        buildVersionService(SETTINGS, version, revisionIdentity(version, 2)),
        buildVersionRoute(SETTINGS, version),
      ];
      for (const m of objects) revalidate(m);
      golden('version-endpoint', objects);
    });

    it('should build the model endpoint HTTPRoute with weighted backends and a request mirror', () => {
      const route = buildModelRoute(
        SETTINGS,
        { project: 'fraud', model: 'iris' },
        {
          destinations: [
            { version: 3, weight: 90 },
            { version: 4, weight: 10 },
          ],
          mirror: { version: 5, percent: 25 },
        },
      );
      revalidate(route);
      golden('model-endpoint', route);
    });
  });

  describe('Deployment', () => {
    const deployment = () => buildDeployment(SETTINGS, ONNX_SPEC) as unknown as DeploymentJson;
    interface DeploymentJson {
      spec: {
        replicas: number;
        template: {
          metadata: { labels: Record<string, string> };
          spec: { serviceAccountName?: string; containers: ContainerJson[] };
        };
      };
    }
    interface ContainerJson {
      image: string;
      env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
      resources: { requests: Record<string, string>; limits: Record<string, string> };
      readinessProbe: { httpGet: { path: string } };
      livenessProbe?: { httpGet: { path: string } };
    }

    it('should pass the model-server contract, serving options, secrets by reference and the user env', () => {
      const env = deployment().spec.template.spec.containers[0]!.env;
      expect(env).toEqual([
        { name: 'MODEL_NAME', value: 'iris' },
        { name: 'MODEL_VERSION', value: '3' },
        { name: 'MODEL_TYPE', value: 'onnx' },
        { name: 'ARTIFACT_URI', value: 's3://merlin-artifacts/artifacts/fraud/iris/3/' },
        { name: 'MODEL_FILE', value: 'model.onnx' },
        { name: 'PORT', value: '8080' },
        { name: 'MODEL_CACHE_DIR', value: '/var/cache/merlin/model' },
        { name: 'BATCH_MAX_SIZE', value: '32' },
        { name: 'BATCH_MAX_LATENCY_MS', value: '5' },
        { name: 'REQUEST_TIMEOUT_MS', value: '2000' },
        { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'iris-3-r2-secrets', key: 'API_TOKEN' } } },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'iris-3-r2-secrets', key: 'DB_PASSWORD' } } },
        { name: 'FEATURE_FLAG', value: 'on' },
        { name: 'LOG_LEVEL', value: 'debug' },
        { name: 'AWS_REGION', value: 'eu-west-1' },
      ]);
      expect(JSON.stringify(deployment())).not.toContain('s3cr3t');
    });

    it('should request the resources and limit memory to twice the request, cpu to the request', () => {
      const { resources } = deployment().spec.template.spec.containers[0]!;
      expect(resources).toEqual({
        requests: { cpu: '500m', memory: '512Mi' },
        limits: { cpu: '500m', memory: '1024Mi' },
      });
    });

    it('should probe readiness and liveness on the V2 health endpoints', () => {
      const c = deployment().spec.template.spec.containers[0]!;
      expect(c.readinessProbe.httpGet.path).toBe('/v2/health/ready');
      expect(c.livenessProbe?.httpGet.path).toBe('/v2/health/live');
    });

    it('should label pods with the platform and revision labels', () => {
      expect(deployment().spec.template.metadata.labels).toEqual({
        'app.kubernetes.io/name': 'iris',
        'app.kubernetes.io/instance': 'iris-3-r2',
        'app.kubernetes.io/component': 'model-server',
        'app.kubernetes.io/managed-by': 'merlin',
        'merlin.dev/project': 'fraud',
        'merlin.dev/model': 'iris',
        'merlin.dev/version': '3',
        'merlin.dev/revision': 'iris-3-r2',
      });
    });

    it('should run an image the deployment names (a built image) before the platform default', () => {
      const built = {
        ...CUSTOM_SPEC,
        custom: { command: ['python', 'serve.py'], protocol: 'v2' as const },
        image: 'ecr/built:abc',
      };
      const d = buildDeployment(SETTINGS, built) as unknown as DeploymentJson;
      const c = d.spec.template.spec.containers[0]!;
      expect(c.image).toBe('ecr/built:abc');
      expect(c.readinessProbe.httpGet.path).toBe('/v2/health/ready');
      expect(c.env).toContainEqual({ name: 'CUSTOM_PROTOCOL', value: 'v2' });
    });

    it('should refuse to build a model server without an image', () => {
      const { modelServerImage: _none, ...settings } = SETTINGS;
      expect(() => buildDeployment(settings, ONNX_SPEC)).toThrow(/no model-server image/);
    });

    it('should run at least one replica and let the budget allow one disruption for a single replica', () => {
      const [, deployment, , hpa, pdb] = buildRevision(SETTINGS, CUSTOM_SPEC) as unknown as [
        unknown,
        { spec: { replicas: number } },
        unknown,
        { spec: { minReplicas: number; maxReplicas: number } },
        { spec: { maxUnavailable?: number; minAvailable?: number } },
      ];
      expect(deployment.spec.replicas).toBe(1);
      expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 1 });
      expect(pdb.spec).toMatchObject({ maxUnavailable: 1 });
      expect(pdb.spec.minAvailable).toBeUndefined();
    });
  });

  describe('Gateway API', () => {
    it('should say a fractional mirror share as a fraction over a power of ten, whole percents as percent', () => {
      expect(mirrorShare(10)).toEqual({ percent: 10 });
      expect(mirrorShare(0.5)).toEqual({ fraction: { numerator: 5, denominator: 1000 } });
      expect(mirrorShare(12.25)).toEqual({ fraction: { numerator: 1225, denominator: 10000 } });
      expect(mirrorShare(100)).toEqual({});
    });

    it('should leave the mirror out at 0% and validate a fraction mirror', () => {
      const model = { project: 'fraud', model: 'iris' };
      const none = buildModelRoute(SETTINGS, model, {
        destinations: [{ version: 3, weight: 100 }],
        mirror: { version: 4, percent: 0 },
      });
      expect(none.spec.rules[0]!.filters.map((f) => f.type)).toEqual(['URLRewrite']);
      const half = buildModelRoute(SETTINGS, model, {
        destinations: [{ version: 3, weight: 100 }],
        mirror: { version: 4, percent: 0.5 },
      });
      expect(half.spec.rules[0]!.filters[1]).toEqual({
        type: 'RequestMirror',
        requestMirror: {
          backendRef: { group: '', kind: 'Service', name: 'iris-4', port: 80 },
          fraction: { numerator: 5, denominator: 1000 },
        },
      });
    });

    it('should reject routes the CRD would reject', () => {
      const route = buildVersionRoute(SETTINGS, { project: 'fraud', model: 'iris', version: 3 });
      const bad = structuredClone(route) as HTTPRoute;
      bad.spec.rules[0]!.backendRefs[0]!.port = 0;
      bad.spec.rules[0]!.matches[0]!.path.value = 'no-slash';
      expect(() => validateHttpRoute(bad)).toThrow(
        /backendRefs\.0\.port.*matches\.0\.path\.value|matches\.0\.path\.value.*backendRefs\.0\.port/,
      );
      const both = structuredClone(route) as HTTPRoute;
      both.spec.rules[0]!.filters.push({
        type: 'RequestMirror',
        requestMirror: {
          backendRef: { group: '', kind: 'Service', name: 'x', port: 80 },
          percent: 5,
          fraction: { numerator: 1, denominator: 2 },
        },
      });
      expect(() => validateHttpRoute(both)).toThrow(/only one of percent or fraction/);
    });

    it('should refuse to route without a gateway', () => {
      const { gateway: _none, ...settings } = SETTINGS;
      expect(() => buildVersionRoute(settings, { project: 'fraud', model: 'iris', version: 3 })).toThrow(
        /cluster\.gateway/,
      );
    });

    it('should not collide: a model route is `{model}-endpoint`, a version route `{model}-{version}`', () => {
      const versionRoute = buildVersionRoute(SETTINGS, { project: 'p', model: 'iris', version: 1 });
      const modelRoute = buildModelRoute(
        SETTINGS,
        { project: 'p', model: 'iris-1' },
        { destinations: [{ version: 1, weight: 100 }] },
      );
      expect(versionRoute.metadata.name).toBe('iris-1');
      expect(modelRoute.metadata.name).toBe('iris-1-endpoint');
    });
  });

  describe('Settings and names', () => {
    const env = (cluster: object, servingUrl: string) =>
      new Environments([
        { name: 'prod', cluster: { kind: 'eks', eksClusterName: 'c', region: 'eu-west-1', ...cluster }, servingUrl },
      ]).get('prod');

    it('should derive the host and path from servingUrl, the image from the function default', () => {
      expect(
        clusterSettings(env({}, 'https://Models.Example.com/serving/'), {
          modelServerImage: 'img:1',
          artifactRegion: 'us-east-1',
        }),
      ).toEqual({
        namespacePrefix: '',
        servingHost: 'models.example.com',
        servingPath: '/serving',
        modelServerImage: 'img:1',
        artifactRegion: 'us-east-1',
      });
    });

    it('should prefer the config: host, image, prefix, gateway, service account', () => {
      const s = clusterSettings(
        env(
          {
            servingHost: 'ml.internal.example.com',
            modelServerImage: 'own:2',
            namespacePrefix: 'ml-',
            gateway: { name: 'gw', namespace: 'infra' },
            serviceAccountName: 'sa',
          },
          'https://lb.example.com',
        ),
        { modelServerImage: 'img:1' },
      );
      expect(s).toEqual({
        namespacePrefix: 'ml-',
        gateway: { name: 'gw', namespace: 'infra' },
        servingHost: 'ml.internal.example.com',
        servingPath: '',
        serviceAccountName: 'sa',
        modelServerImage: 'own:2',
      });
    });

    it('should match any host when servingUrl names an IP address', () => {
      expect(clusterSettings(env({}, 'http://10.0.0.5/serving')).servingHost).toBeUndefined();
    });

    it('should double memory quantities in their own unit', () => {
      expect(['512Mi', '1Gi', '1.5Gi', '0.3Gi', '500M', '1000'].map(doubleQuantity)).toEqual([
        '1024Mi',
        '2Gi',
        '3Gi',
        '0.6Gi',
        '1000M',
        '2000',
      ]);
    });

    it('should name every object of a revision for deletion, the autoscaler first', () => {
      expect(revisionRefs(SETTINGS, ONNX_SPEC).map((r) => `${r.kind} ${r.namespace}/${r.name}`)).toEqual([
        'HorizontalPodAutoscaler ml-fraud/iris-3-r2',
        'Deployment ml-fraud/iris-3-r2',
        'Service ml-fraud/iris-3-r2',
        'PodDisruptionBudget ml-fraud/iris-3-r2',
        'Secret ml-fraud/iris-3-r2-secrets',
      ]);
    });

    it('should let secrets win over plain env of the same name, and the contract over both', () => {
      const env = containerEnv(SETTINGS, {
        ...ONNX_SPEC,
        env: { SHARED: 'plain', PORT: '1' },
        secretEnv: { SHARED: 'secret', MODEL_TYPE: 'x' },
      });
      expect(env.filter((e) => e.name === 'SHARED')).toEqual([
        { name: 'SHARED', valueFrom: { secretKeyRef: { name: 'iris-3-r2-secrets', key: 'SHARED' } } },
      ]);
      expect(env.filter((e) => e.name === 'PORT' || e.name === 'MODEL_TYPE')).toEqual([
        { name: 'MODEL_TYPE', value: 'onnx' },
        { name: 'PORT', value: '8080' },
      ]);
    });
  });
});
