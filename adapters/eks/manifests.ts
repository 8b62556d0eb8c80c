/**
 * Pure builders of every Kubernetes object the EKS cluster gateway applies (house style #17): same input, same
 * JSON. Typed with the kubernetes-models interfaces and validated with their `.validate()` in the tests (every
 * builder, every golden file); at run time the API server validates, and the models' validators would add ~480 KB
 * to every function bundle (DESIGN §8: < 1 MB). HTTPRoutes are also checked at run time, by a zod mirror of the
 * Gateway API CRD schema (kubernetes-models has no Gateway API models). Golden files in test/unit/eks/golden pin
 * the output.
 *
 * Per revision `{model}-{version}-r{n}` in the project's namespace: a Secret `{revision}-secrets` (only when the
 * endpoint has secrets), a Deployment, a Service, a HorizontalPodAutoscaler and a PodDisruptionBudget, all named
 * after the revision. Per version endpoint: a stable Service `{model}-{version}` whose selector names the serving
 * revision (a redeploy switches the selector; routes never change) and an HTTPRoute `{model}-{version}` for
 * `{servingPath}/{project}/{model}/versions/{v}`. Per model endpoint: an HTTPRoute `{model}-endpoint` for
 * `{servingPath}/{project}/{model}` with weighted backends and an optional request mirror.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import * as z from 'zod';
import type { ModelKey, RevisionIdentity, RevisionSpec, VersionKey } from '../../core/ports.js';
import type { Environment } from '../../core/schemas/environment.js';
import type { RouteRule } from '../../core/schemas/index.js';
import type { Manifest, ObjectRef } from './client.js';

/** The model server's container port (the image's PORT) and the Services' port. */
export const MODEL_SERVER_PORT = 8080;
export const SERVICE_PORT = 80;
/** The container name in every model-server pod (log and status lookups use it). */
export const CONTAINER_NAME = 'model-server';
/** Where the model server downloads the artifact (an emptyDir). */
export const MODEL_CACHE_DIR = '/var/cache/merlin/model';

export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  project: 'merlin.dev/project',
  model: 'merlin.dev/model',
  version: 'merlin.dev/version',
  revision: 'merlin.dev/revision',
  /** On namespaces: a Gateway listener's `allowedRoutes.namespaces.selector` can admit exactly these. */
  managed: 'merlin.dev/managed',
} as const;
export const MANAGED_BY = 'merlin';
/** On the stable version Service: the revision its selector names. */
export const ROUTED_REVISION_ANNOTATION = 'merlin.dev/routed-revision';

/** What the builders need to know about the environment's cluster (resolved once per environment). */
export interface ClusterSettings {
  /** Prepended to the project name to make its namespace. */
  namespacePrefix: string;
  /** The Gateway the HTTPRoutes attach to (routing refuses to run without it). */
  gateway?: { name: string; namespace: string; sectionName?: string };
  /** The host the HTTPRoutes match; undefined ⇒ any host (servingUrl names an IP address). */
  servingHost?: string;
  /** The path of servingUrl without a trailing slash, e.g. `/serving` (or ''). */
  servingPath: string;
  /** The service account model servers run as (IRSA: its role reads the artifact bucket). */
  serviceAccountName?: string;
  /** The platform's model-server image (types other than `custom`). */
  modelServerImage?: string;
  /** Region of the artifact bucket, given to the model server as AWS_REGION unless the endpoint's env says else. */
  artifactRegion?: string;
}

const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IPV4 = /^[0-9.]+$/;

/** Settings of an `eks` environment; the function's MODEL_SERVER_IMAGE and region fill what the config leaves out. */
export function clusterSettings(
  env: Pick<Environment, 'cluster' | 'servingUrl'>,
  defaults: { modelServerImage?: string | undefined; artifactRegion?: string | undefined } = {},
): ClusterSettings {
  if (env.cluster.kind !== 'eks') throw new TypeError('clusterSettings: not an EKS environment');
  const c = env.cluster;
  const url = new URL(env.servingUrl);
  const host = c.servingHost ?? url.hostname.toLowerCase();
  const image = c.modelServerImage ?? defaults.modelServerImage;
  return {
    namespacePrefix: c.namespacePrefix ?? '',
    ...(c.gateway && { gateway: c.gateway }),
    ...(HOSTNAME.test(host) && !IPV4.test(host) && { servingHost: host }),
    servingPath: url.pathname.replace(/\/+$/, ''),
    ...(c.serviceAccountName && { serviceAccountName: c.serviceAccountName }),
    ...(image && { modelServerImage: image }),
    ...(defaults.artifactRegion && { artifactRegion: defaults.artifactRegion }),
  };
}

// ---- names ---------------------------------------------------------------------------------------------------

export const namespaceOf = (s: ClusterSettings, project: string): string => `${s.namespacePrefix}${project}`;
export const secretNameOf = (revision: string): string => `${revision}-secrets`;
/** The stable Service and the HTTPRoute of a version endpoint. */
export const versionNameOf = (v: Pick<VersionKey, 'model' | 'version'>): string => `${v.model}-${v.version}`;
/** The model endpoint's HTTPRoute (`-endpoint`: `{model}` alone could be another model's `{model}-{version}`). */
export const modelRouteNameOf = (m: Pick<ModelKey, 'model'>): string => `${m.model}-endpoint`;

const API = {
  namespace: { apiVersion: 'v1', kind: 'Namespace' },
  secret: { apiVersion: 'v1', kind: 'Secret' },
  service: { apiVersion: 'v1', kind: 'Service' },
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment' },
  hpa: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  pdb: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  httpRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
} as const;

/** Every object of a revision, in deletion order (the autoscaler first, so it cannot scale what is going). */
export function revisionRefs(s: ClusterSettings, r: RevisionIdentity): ObjectRef[] {
  const namespace = namespaceOf(s, r.project);
  return [
    { ...API.hpa, namespace, name: r.name },
    { ...API.deployment, namespace, name: r.name },
    { ...API.service, namespace, name: r.name },
    { ...API.pdb, namespace, name: r.name },
    { ...API.secret, namespace, name: secretNameOf(r.name) },
  ];
}
export const deploymentRef = (s: ClusterSettings, r: RevisionIdentity): ObjectRef => ({
  ...API.deployment,
  namespace: namespaceOf(s, r.project),
  name: r.name,
});
export const versionServiceRef = (s: ClusterSettings, v: VersionKey): ObjectRef => ({
  ...API.service,
  namespace: namespaceOf(s, v.project),
  name: versionNameOf(v),
});
export const versionRouteRef = (s: ClusterSettings, v: VersionKey): ObjectRef => ({
  ...API.httpRoute,
  namespace: namespaceOf(s, v.project),
  name: versionNameOf(v),
});
export const modelRouteRef = (s: ClusterSettings, m: ModelKey): ObjectRef => ({
  ...API.httpRoute,
  namespace: namespaceOf(s, m.project),
  name: modelRouteNameOf(m),
});

/** The label selector of a revision's pods. */
export const revisionSelector = (r: Pick<RevisionIdentity, 'name'>): Record<string, string> => ({
  [LABEL.managedBy]: MANAGED_BY,
  [LABEL.revision]: r.name,
});
export const selectorString = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

const versionLabels = (v: VersionKey): Record<string, string> => ({
  [LABEL.name]: v.model,
  [LABEL.managedBy]: MANAGED_BY,
  [LABEL.project]: v.project,
  [LABEL.model]: v.model,
  [LABEL.version]: String(v.version),
});

export const revisionLabels = (r: RevisionIdentity): Record<string, string> => ({
  [LABEL.name]: r.model,
  [LABEL.instance]: r.name,
  [LABEL.component]: 'model-server',
  [LABEL.managedBy]: MANAGED_BY,
  [LABEL.project]: r.project,
  [LABEL.model]: r.model,
  [LABEL.version]: String(r.version),
  [LABEL.revision]: r.name,
});

// ---- quantities ----------------------------------------------------------------------------------------------

/** Twice a memory quantity in its own unit ("512Mi" → "1024Mi", "1.5Gi" → "3Gi"): Merlin's limit = 2 × request. */
export function doubleQuantity(q: string): string {
  const m = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$/.exec(q);
  if (!m) throw new TypeError(`not a quantity: ${q}`);
  const doubled = Number(m[1]) * 2;
  return `${Number.isInteger(doubled) ? doubled : Number(doubled.toFixed(6))}${m[2]}`;
}

// ---- revision ------------------------------------------------------------------------------------------------

/** The image a revision runs: a custom model's own (or built) image, else the platform's model server. */
export function imageOf(s: ClusterSettings, spec: RevisionSpec): string | undefined {
  if (spec.modelType === 'custom') return spec.image ?? spec.custom?.image;
  return spec.image ?? s.modelServerImage;
}

type EnvVar =
  | { name: string; value: string }
  | { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } };

/**
 * The container's environment: the model-server contract (cannot be overridden), then serving options, then the
 * endpoint's secrets (by reference to the revision's Secret, never by value), then its plain env, then the platform
 * default AWS_REGION — each name once, in that precedence (as the local cluster merges them).
 */
export function containerEnv(s: ClusterSettings, spec: RevisionSpec): EnvVar[] {
  const contract: [string, string][] = [
    ['MODEL_NAME', spec.model],
    ['MODEL_VERSION', String(spec.version)],
    ['MODEL_TYPE', spec.modelType],
    ['ARTIFACT_URI', spec.artifactUri],
    ['MODEL_FILE', spec.modelFile],
    ['PORT', String(MODEL_SERVER_PORT)],
    ['MODEL_CACHE_DIR', MODEL_CACHE_DIR],
  ];
  const { batching, requestTimeoutMs } = spec.serving;
  if (batching) {
    contract.push(['BATCH_MAX_SIZE', String(batching.maxBatchSize)]);
    contract.push(['BATCH_MAX_LATENCY_MS', String(batching.maxLatencyMs)]);
  }
  if (requestTimeoutMs !== undefined) contract.push(['REQUEST_TIMEOUT_MS', String(requestTimeoutMs)]);
  if (spec.modelType === 'custom') contract.push(['CUSTOM_PROTOCOL', spec.custom?.protocol ?? 'v2']);

  const taken = new Set(contract.map(([n]) => n));
  const out: EnvVar[] = contract.map(([name, value]) => ({ name, value }));
  const secretName = secretNameOf(spec.name);
  for (const name of Object.keys(spec.secretEnv).sort()) {
    if (taken.has(name)) continue;
    taken.add(name);
    out.push({ name, valueFrom: { secretKeyRef: { name: secretName, key: name } } });
  }
  for (const name of Object.keys(spec.env).sort()) {
    if (taken.has(name)) continue;
    taken.add(name);
    out.push({ name, value: spec.env[name]! });
  }
  if (s.artifactRegion && !taken.has('AWS_REGION')) out.push({ name: 'AWS_REGION', value: s.artifactRegion });
  return out;
}

/** The project's namespace, labelled so that a Gateway listener can admit its routes by selector. */
export function buildNamespace(s: ClusterSettings, project: string): Typed<INamespace> {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespaceOf(s, project),
      labels: { [LABEL.managedBy]: MANAGED_BY, [LABEL.managed]: 'true', [LABEL.project]: project },
    },
  };
}

/** The revision's secrets by variable name; undefined when the endpoint has none. Values base64 in `data`. */
export function buildSecret(s: ClusterSettings, spec: RevisionSpec): Typed<ISecret> | undefined {
  const names = Object.keys(spec.secretEnv).sort();
  if (names.length === 0) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretNameOf(spec.name), namespace: namespaceOf(s, spec.project), labels: revisionLabels(spec) },
    type: 'Opaque',
    data: Object.fromEntries(names.map((n) => [n, Buffer.from(spec.secretEnv[n]!, 'utf8').toString('base64')])),
  };
}

const replicasOf = (spec: RevisionSpec) => {
  const min = Math.max(1, spec.resources.minReplicas);
  return { min, max: Math.max(min, spec.resources.maxReplicas) };
};

/** The model-server Deployment of a revision. Throws when there is no image to run. */
export function buildDeployment(s: ClusterSettings, spec: RevisionSpec): Typed<IDeployment> {
  const image = imageOf(s, spec);
  if (!image) {
    throw new TypeError(
      spec.modelType === 'custom'
        ? `revision ${spec.name} is a custom model without an image`
        : "no model-server image: set the environment's cluster.modelServerImage or the functions' MODEL_SERVER_IMAGE",
    );
  }
  const custom = spec.modelType === 'custom';
  const protocol = spec.custom?.protocol ?? 'v2';
  const readyPath = custom && protocol === 'v1' ? `/v1/models/${spec.model}` : '/v2/health/ready';
  const labels = revisionLabels(spec);
  const { cpu, memory } = spec.resources;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, namespace: namespaceOf(s, spec.project), labels },
    spec: {
      replicas: replicasOf(spec).min,
      revisionHistoryLimit: 1,
      selector: { matchLabels: revisionSelector(spec) },
      template: {
        metadata: {
          labels,
          ...(!custom && {
            annotations: {
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': String(MODEL_SERVER_PORT),
              'prometheus.io/path': '/metrics',
            },
          }),
        },
        spec: {
          ...(s.serviceAccountName && { serviceAccountName: s.serviceAccountName }),
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: CONTAINER_NAME,
              image,
              ports: [{ name: 'http', containerPort: MODEL_SERVER_PORT, protocol: 'TCP' }],
              env: containerEnv(s, spec),
              resources: {
                requests: { cpu, memory },
                limits: { cpu, memory: doubleQuantity(memory) },
              },
              readinessProbe: {
                httpGet: { path: readyPath, port: 'http' },
                periodSeconds: 5,
                timeoutSeconds: 3,
                failureThreshold: 3,
              },
              // Merlin gives custom predictors no liveness probe: their servers need not answer /v2/health/live.
              ...(!custom && {
                livenessProbe: {
                  httpGet: { path: '/v2/health/live', port: 'http' },
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                  failureThreshold: 3,
                },
              }),
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'model-cache', mountPath: MODEL_CACHE_DIR }],
            },
          ],
          volumes: [{ name: 'model-cache', emptyDir: {} }],
        },
      },
    },
  };
}

const httpPort = { name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' as const };

/** A Service in front of one revision's pods (direct access for diagnosis; routing uses the version Service). */
export function buildRevisionService(s: ClusterSettings, r: RevisionIdentity): Typed<IService> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: r.name, namespace: namespaceOf(s, r.project), labels: revisionLabels(r) },
    spec: { type: 'ClusterIP', selector: revisionSelector(r), ports: [httpPort] },
  };
}

/** CPU autoscaling between the revision's min and max replicas (target 50% of the CPU request). */
export function buildAutoscaler(s: ClusterSettings, spec: RevisionSpec): Typed<IHorizontalPodAutoscaler> {
  const { min, max } = replicasOf(spec);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: spec.name, namespace: namespaceOf(s, spec.project), labels: revisionLabels(spec) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name },
      minReplicas: min,
      maxReplicas: max,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
      ],
    },
  };
}

/** Keeps one pod through voluntary disruptions when there are several; otherwise lets a node drain. */
export function buildDisruptionBudget(s: ClusterSettings, spec: RevisionSpec): Typed<IPodDisruptionBudget> {
  const { min } = replicasOf(spec);
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: spec.name, namespace: namespaceOf(s, spec.project), labels: revisionLabels(spec) },
    spec: {
      selector: { matchLabels: revisionSelector(spec) },
      ...(min > 1 ? { minAvailable: 1 } : { maxUnavailable: 1 }),
    },
  };
}

/** Everything applyRevision applies, in order: namespace, secret (if any), deployment, service, autoscaler, budget. */
export function buildRevision(s: ClusterSettings, spec: RevisionSpec): Manifest[] {
  const secret = buildSecret(s, spec);
  return [
    buildNamespace(s, spec.project),
    ...(secret ? [secret] : []),
    buildDeployment(s, spec),
    buildRevisionService(s, spec),
    buildAutoscaler(s, spec),
    buildDisruptionBudget(s, spec),
  ];
}

/** The stable Service of a version endpoint, selecting the pods of `revision`. */
export function buildVersionService(s: ClusterSettings, v: VersionKey, revision: RevisionIdentity): Typed<IService> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: versionNameOf(v),
      namespace: namespaceOf(s, v.project),
      labels: versionLabels(v),
      annotations: { [ROUTED_REVISION_ANNOTATION]: revision.name },
    },
    spec: { type: 'ClusterIP', selector: revisionSelector(revision), ports: [httpPort] },
  };
}

// ---- Gateway API ---------------------------------------------------------------------------------------------

/** The subset of gateway.networking.k8s.io/v1 HTTPRoute the platform writes, typed. */
export interface HTTPRoute {
  apiVersion: 'gateway.networking.k8s.io/v1';
  kind: 'HTTPRoute';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    parentRefs: {
      group: 'gateway.networking.k8s.io';
      kind: 'Gateway';
      name: string;
      namespace: string;
      sectionName?: string;
    }[];
    hostnames?: string[];
    rules: HTTPRouteRule[];
  };
}
export interface BackendRef {
  group: '';
  kind: 'Service';
  name: string;
  port: number;
  weight?: number;
}
export type HTTPRouteFilter =
  | { type: 'URLRewrite'; urlRewrite: { path: { type: 'ReplacePrefixMatch'; replacePrefixMatch: string } } }
  | {
      type: 'RequestMirror';
      requestMirror: {
        backendRef: Omit<BackendRef, 'weight'>;
        percent?: number;
        fraction?: { numerator: number; denominator: number };
      };
    };
export interface HTTPRouteRule {
  matches: { path: { type: 'PathPrefix'; value: string } }[];
  filters: HTTPRouteFilter[];
  backendRefs: BackendRef[];
}

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  .max(63);
const dnsSubdomain = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/)
  .max(253);
const portNumber = z.number().int().min(1).max(65535);
const backendRef = z.strictObject({
  group: z.literal(''),
  kind: z.literal('Service'),
  name: dnsLabel,
  port: portNumber,
  weight: z.number().int().min(0).max(1_000_000).optional(),
});
const pathValue = z.string().min(1).max(1024).startsWith('/');

/**
 * The constraints of the Gateway API v1 HTTPRoute CRD (standard channel, v1.3+) on the fields the platform uses:
 * lengths, patterns, ranges and the one-of of a mirror's `percent`/`fraction`. kubernetes-models has no Gateway API
 * models (that is the separate @kubernetes-models/gateway-api package), so this stands in for `.validate()`.
 */
export const httpRouteSchema = z.strictObject({
  apiVersion: z.literal('gateway.networking.k8s.io/v1'),
  kind: z.literal('HTTPRoute'),
  metadata: z.strictObject({
    name: dnsSubdomain,
    namespace: dnsLabel,
    labels: z.record(
      z.string().max(317),
      z
        .string()
        .max(63)
        .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/),
    ),
  }),
  spec: z.strictObject({
    parentRefs: z
      .array(
        z.strictObject({
          group: z.literal('gateway.networking.k8s.io'),
          kind: z.literal('Gateway'),
          name: z.string().min(1).max(253),
          namespace: dnsLabel,
          sectionName: dnsSubdomain.optional(),
        }),
      )
      .min(1)
      .max(32),
    hostnames: z.array(z.string().regex(HOSTNAME).max(253)).max(16).optional(),
    rules: z
      .array(
        z.strictObject({
          matches: z
            .array(z.strictObject({ path: z.strictObject({ type: z.literal('PathPrefix'), value: pathValue }) }))
            .max(64),
          filters: z
            .array(
              z.discriminatedUnion('type', [
                z.strictObject({
                  type: z.literal('URLRewrite'),
                  urlRewrite: z.strictObject({
                    path: z.strictObject({ type: z.literal('ReplacePrefixMatch'), replacePrefixMatch: pathValue }),
                  }),
                }),
                z.strictObject({
                  type: z.literal('RequestMirror'),
                  requestMirror: z
                    .strictObject({
                      backendRef: backendRef.omit({ weight: true }),
                      percent: z.number().int().min(0).max(100).optional(),
                      fraction: z
                        .strictObject({ numerator: z.number().int().min(0), denominator: z.number().int().min(1) })
                        .refine(
                          (f) => f.numerator <= f.denominator,
                          'numerator must be less than or equal to denominator',
                        )
                        .optional(),
                    })
                    .refine(
                      (m) => !(m.percent !== undefined && m.fraction !== undefined),
                      'only one of percent or fraction',
                    ),
                }),
              ]),
            )
            .max(16)
            .refine((f) => f.filter((x) => x.type === 'URLRewrite').length <= 1, 'at most one URLRewrite filter'),
          backendRefs: z.array(backendRef).min(1).max(16),
        }),
      )
      .min(1)
      .max(16),
  }),
});

/** Throws a TypeError naming every field of the route that breaks the CRD's constraints. */
export function validateHttpRoute(route: HTTPRoute): HTTPRoute {
  const parsed = httpRouteSchema.safeParse(route);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new TypeError(`invalid HTTPRoute ${route.metadata.namespace}/${route.metadata.name}: ${problems}`);
  }
  return route;
}

function routeBase(s: ClusterSettings, namespace: string, name: string, labels: Record<string, string>) {
  const g = s.gateway;
  if (!g) {
    throw new TypeError(
      'the environment declares no cluster.gateway: name the Gateway API Gateway the HTTPRoutes attach to',
    );
  }
  return {
    apiVersion: 'gateway.networking.k8s.io/v1' as const,
    kind: 'HTTPRoute' as const,
    metadata: { name, namespace, labels },
    parentRefs: [
      {
        group: 'gateway.networking.k8s.io' as const,
        kind: 'Gateway' as const,
        name: g.name,
        namespace: g.namespace,
        ...(g.sectionName && { sectionName: g.sectionName }),
      },
    ],
    ...(s.servingHost && { hostnames: [s.servingHost] }),
  };
}

const service = (name: string): Omit<BackendRef, 'weight'> => ({
  group: '',
  kind: 'Service',
  name,
  port: SERVICE_PORT,
});
/** The matched prefix is replaced by `/`: `{prefix}/v2/models/m/infer` reaches the model server as `/v2/models/m/infer`. */
const stripPrefix: HTTPRouteFilter = {
  type: 'URLRewrite',
  urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } },
};

/** `{servingPath}/{project}/{model}/versions/{v}` → the stable Service of the version. */
export function buildVersionRoute(s: ClusterSettings, v: VersionKey): HTTPRoute {
  const { parentRefs, hostnames, ...base } = routeBase(s, namespaceOf(s, v.project), versionNameOf(v), {
    ...versionLabels(v),
    [LABEL.component]: 'version-endpoint',
  });
  return validateHttpRoute({
    ...base,
    spec: {
      parentRefs,
      ...(hostnames && { hostnames }),
      rules: [
        {
          matches: [
            { path: { type: 'PathPrefix', value: `${s.servingPath}/${v.project}/${v.model}/versions/${v.version}` } },
          ],
          filters: [stripPrefix],
          backendRefs: [{ ...service(versionNameOf(v)), weight: 1 }],
        },
      ],
    },
  });
}

/**
 * A mirror share as the Gateway API says it: whole percents as `percent`, anything finer as a `fraction` over a
 * power of ten (0.5 → 5/1000); both are standard since Gateway API v1.3. 100% is the filter without either.
 */
export function mirrorShare(percent: number): {
  percent?: number;
  fraction?: { numerator: number; denominator: number };
} {
  if (percent >= 100) return {};
  if (Number.isInteger(percent)) return { percent };
  let denominator = 100;
  let numerator = percent;
  while (!Number.isInteger(Number(numerator.toFixed(9))) && denominator < 100_000_000) {
    numerator *= 10;
    denominator *= 10;
  }
  return { fraction: { numerator: Math.round(numerator), denominator } };
}

/** `{servingPath}/{project}/{model}` → weighted version Services, optionally mirroring a share to another. */
export function buildModelRoute(s: ClusterSettings, m: ModelKey, rule: RouteRule): HTTPRoute {
  const { parentRefs, hostnames, ...base } = routeBase(s, namespaceOf(s, m.project), modelRouteNameOf(m), {
    [LABEL.name]: m.model,
    [LABEL.managedBy]: MANAGED_BY,
    [LABEL.project]: m.project,
    [LABEL.model]: m.model,
    [LABEL.component]: 'model-endpoint',
  });
  const filters: HTTPRouteFilter[] = [stripPrefix];
  if (rule.mirror && rule.mirror.percent > 0) {
    filters.push({
      type: 'RequestMirror',
      requestMirror: {
        backendRef: service(versionNameOf({ model: m.model, version: rule.mirror.version })),
        ...mirrorShare(rule.mirror.percent),
      },
    });
  }
  return validateHttpRoute({
    ...base,
    spec: {
      parentRefs,
      ...(hostnames && { hostnames }),
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: `${s.servingPath}/${m.project}/${m.model}` } }],
          filters,
          backendRefs: rule.destinations.map((d) => ({
            ...service(versionNameOf({ model: m.model, version: d.version })),
            weight: d.weight,
          })),
        },
      ],
    },
  });
}

/** A manifest typed with its kubernetes-models interface, with the name the client needs. */
export type Typed<T> = T & Manifest;
