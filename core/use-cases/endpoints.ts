/** Version endpoints: deploy, undeploy, read. Every change that touches a cluster runs as a workflow. */
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../errors.js';
import { DEPLOYABLE_TYPES, describeEndpoint, describeVersion, revisionName, versionEndpointUrl } from '../names.js';
import type { Deps, EndpointKey, VersionKey } from '../ports.js';
import { parseCpu, parseMemory } from '../quantity.js';
import type {
  DeployBody,
  Deployment,
  Environment,
  ListQuery,
  ModelEndpoint,
  Page,
  PROTOCOLS,
  RedeployBody,
  ResolvedResources,
  Resources,
  RouteRule,
  ServingOptions,
  VersionEndpoint,
} from '../schemas/index.js';
import { isoNow } from '../time.js';
import { checkIfMatch } from '../update.js';
import { getModel, getVersion } from './catalog.js';
import { beginDeployment, concurrentChange, newDeployment } from './deployments.js';
import { DOCKERFILE, hasDockerfile } from './images.js';
import { assertSecretsExist } from './secrets.js';

/** The version endpoint as callers see it: `serving` when the model endpoint routes traffic to it. */
export function presentEndpoint(e: VersionEndpoint, modelEndpoint: ModelEndpoint | undefined): VersionEndpoint {
  if (e.status === 'running' && routesTo(modelEndpoint, e.version)) return { ...e, status: 'serving' };
  return e;
}

const routesTo = (me: ModelEndpoint | undefined, version: number): boolean =>
  !!me && me.status !== 'terminated' && !!me.rule?.destinations.some((d) => d.version === version);

/** Fills unset resources from `base`: the environment's defaults, or on a redeploy the endpoint's current ones. */
export function resolveResources(
  env: Environment,
  asked: Resources | undefined,
  base: ResolvedResources = env.defaults,
): ResolvedResources {
  return {
    cpu: asked?.cpu ?? base.cpu,
    memory: asked?.memory ?? base.memory,
    minReplicas: asked?.minReplicas ?? base.minReplicas,
    maxReplicas: asked?.maxReplicas ?? Math.max(base.maxReplicas, asked?.minReplicas ?? 0),
  };
}

/**
 * Resource requests against the environment's limits, checked before anything starts (Merlin checked them inside the
 * deploy job, with an integer comparison that let "500m" through). The message names the limit.
 */
export function checkResources(env: Environment, r: ResolvedResources): ResolvedResources {
  const cpu = parseCpu(r.cpu) ?? 0;
  const memory = parseMemory(r.memory) ?? 0;
  if (cpu <= 0) throw new ValidationError(`resources.cpu must be more than 0 (got "${r.cpu}")`);
  if (memory <= 0) throw new ValidationError(`resources.memory must be more than 0 (got "${r.memory}")`);
  if (r.minReplicas > r.maxReplicas) {
    throw new ValidationError(
      `resources.minReplicas (${r.minReplicas}) must not be more than resources.maxReplicas (${r.maxReplicas})`,
    );
  }
  const over = (field: string, asked: string | number, limit: string, value: string | number) =>
    new UnprocessableError(
      `resources.${field} ${JSON.stringify(asked)} is more than environment "${env.name}" allows (limits.${limit}: ${JSON.stringify(value)})`,
      { field: `resources.${field}`, limit: `limits.${limit}`, value },
      'RESOURCES_OVER_LIMIT',
    );
  if (cpu > (parseCpu(env.limits.maxCpu) ?? Number.POSITIVE_INFINITY))
    throw over('cpu', r.cpu, 'maxCpu', env.limits.maxCpu);
  if (memory > (parseMemory(env.limits.maxMemory) ?? Number.POSITIVE_INFINITY)) {
    throw over('memory', r.memory, 'maxMemory', env.limits.maxMemory);
  }
  if (r.maxReplicas > env.limits.maxReplicas) {
    throw over('maxReplicas', r.maxReplicas, 'maxReplicas', env.limits.maxReplicas);
  }
  return r;
}

const withoutMessage = (e: VersionEndpoint): VersionEndpoint => {
  const { message: _drop, ...rest } = e;
  return rest;
};

const inProgress = (e: VersionEndpoint): ConflictError =>
  new ConflictError(
    `${describeEndpoint(e)} has a deployment in progress (${e.deploymentId}); wait for it to finish (GET /v1/deployments/${e.deploymentId})`,
    { deploymentId: e.deploymentId },
    'DEPLOYMENT_IN_PROGRESS',
  );

type EndpointDeps = Pick<
  Deps,
  | 'models'
  | 'versions'
  | 'endpoints'
  | 'modelEndpoints'
  | 'deployments'
  | 'workflows'
  | 'environments'
  | 'clock'
  | 'ids'
  | 'secrets'
  | 'leases'
>;

/**
 * Deploys a version into an environment (POST …/endpoints): checks synchronously everything that can be checked,
 * marks the endpoint pending with one conditional write (so of concurrent deploys exactly one wins), records the
 * Deployment and starts the deploy-version workflow. Answers with the Deployment at once.
 */
interface DeploySettings {
  serving: ServingOptions;
  resources: ResolvedResources;
  env: Record<string, string>;
  secrets: Record<string, string> | undefined;
  protocol: (typeof PROTOCOLS)[number];
}

/** What makes a version deployable at all: a runtime for its type and a verified artifact. */
async function checkDeployable(deps: EndpointDeps, key: VersionKey, env: Environment): Promise<void> {
  const [model, version] = await Promise.all([getModel(deps, key), getVersion(deps, key)]);
  if (model.type === 'custom') {
    const local = env.cluster.kind === 'local';
    // On EKS an image is given, or built from a Dockerfile in the artifact (core/use-cases/images.ts).
    if (local ? !version.custom?.command : !version.custom?.image && !hasDockerfile(version.artifact)) {
      throw new UnprocessableError(
        `${describeVersion(key)} is a custom model without ${local ? 'a command' : `an image (or a ${DOCKERFILE} in its artifact to build one from)`}, which environment "${env.name}" (${env.cluster.kind}) needs to run it`,
        { cluster: env.cluster.kind },
        'CUSTOM_PREDICTOR_MISSING',
      );
    }
  }
  if (!DEPLOYABLE_TYPES.includes(model.type)) {
    throw new UnprocessableError(
      `models of type "${model.type}" cannot be deployed yet; deployable types: ${DEPLOYABLE_TYPES.join(', ')}`,
      { type: model.type },
      'TYPE_NOT_DEPLOYABLE',
    );
  }
  if (version.artifact.status !== 'complete') {
    throw new ConflictError(
      `${describeVersion(key)} has no complete artifact: upload its files (POST …/artifact:upload) and verify them (POST …/artifact:complete) before deploying`,
      { artifact: version.artifact.status },
      'ARTIFACT_INCOMPLETE',
    );
  }
}

/**
 * Deploys a version into an environment (POST …/endpoints): checks synchronously everything that can be checked,
 * marks the endpoint pending with one conditional write (so of concurrent deploys exactly one wins), records the
 * Deployment and starts the deploy-version workflow. Answers with the Deployment at once.
 */
export async function deployVersion(deps: EndpointDeps, key: VersionKey, body: DeployBody): Promise<Deployment> {
  assertSecretVariablesUnique(body);
  const env = deps.environments.resolve(body.environment);
  await checkDeployable(deps, key, env);
  const endpointKey: EndpointKey = { ...key, environment: env.name };
  const existing = await deps.endpoints.get(endpointKey);
  if (existing?.status === 'pending') throw inProgress(existing);
  if (existing?.status === 'running') {
    throw new ConflictError(
      `${describeEndpoint(endpointKey)} is already deployed; redeploy with PATCH …/endpoints/${env.name} or undeploy it first`,
      { status: existing.status },
      'ALREADY_DEPLOYED',
    );
  }
  const resources = checkResources(env, resolveResources(env, body.resources));
  await assertSecretsExist(deps, key.project, body.secrets);
  return underModelLease(deps, endpointKey, async () => {
    await assertActiveLimit(deps, env, endpointKey);
    // A deploy sets the whole configuration: what it does not ask for is not carried over from an earlier deploy.
    return startDeploy(deps, env, endpointKey, existing, {
      resources,
      env: body.env ?? {},
      secrets: body.secrets ?? (existing?.secrets ? {} : undefined),
      protocol: body.protocol ?? existing?.protocol ?? 'v1',
      serving: body.serving ?? {},
    });
  });
}

/**
 * Redeploys a version endpoint (PATCH …/endpoints/{env}): a new revision with the changed settings (the others kept)
 * while the current revision keeps serving; only a successful rollout replaces it, a failed one leaves it serving.
 */
export async function redeployVersion(
  deps: EndpointDeps,
  key: EndpointKey,
  body: RedeployBody,
  ifMatch: number | undefined,
): Promise<Deployment> {
  assertSecretVariablesUnique(body);
  const env = deps.environments.get(key.environment);
  const existing = await deps.endpoints.get(key);
  if (!existing) {
    throw new NotFoundError(`${describeEndpoint(key)} has never been deployed; deploy it with POST …/endpoints`, {
      ...key,
    });
  }
  checkIfMatch(existing, ifMatch, describeEndpoint(key));
  if (existing.status === 'pending') throw inProgress(existing);
  if (existing.status === 'terminated') {
    throw new ConflictError(
      `${describeEndpoint(key)} is terminated; deploy it again with POST …/endpoints`,
      undefined,
      'NOT_DEPLOYED',
    );
  }
  await checkDeployable(deps, key, env);
  const resources = checkResources(env, resolveResources(env, body.resources, existing.resources));
  const secrets = body.secrets ?? existing.secrets;
  await assertSecretsExist(deps, key.project, secrets);
  const start = () =>
    startDeploy(deps, env, key, existing, {
      resources,
      env: body.env ?? existing.env,
      secrets,
      protocol: body.protocol ?? existing.protocol,
      serving: body.serving ?? existing.serving ?? {},
    });
  // A running endpoint stays active; a failed one becomes active again and counts against the limit.
  if (existing.status !== 'failed') return start();
  return underModelLease(deps, key, async () => {
    await assertActiveLimit(deps, env, key);
    return start();
  });
}

/** The Deployment of a (re)deploy and the pending endpoint, claimed and started together. */
async function startDeploy(
  deps: EndpointDeps,
  env: Environment,
  endpointKey: EndpointKey,
  existing: VersionEndpoint | undefined,
  settings: DeploySettings,
): Promise<Deployment> {
  const revisionNumber = (existing?.revisionCounter ?? 0) + 1;
  const deployment = newDeployment(deps, {
    kind: 'deploy',
    project: endpointKey.project,
    model: endpointKey.model,
    version: endpointKey.version,
    environment: env.name,
    targetRevision: {
      number: revisionNumber,
      name: revisionName(endpointKey.model, endpointKey.version, revisionNumber),
    },
    ...(existing?.activeRevision && { previousRevision: existing.activeRevision }),
    request: {
      resources: settings.resources,
      env: settings.env,
      ...(settings.secrets && { secrets: settings.secrets }),
      protocol: settings.protocol,
      serving: settings.serving,
    },
  });
  const now = deployment.createdAt;
  const endpoint: VersionEndpoint = existing
    ? {
        ...withoutMessage(existing),
        status: 'pending',
        previousStatus: existing.status,
        revisionCounter: revisionNumber,
        deploymentId: deployment.id,
        updatedAt: now,
        revision: existing.revision + 1,
      }
    : {
        ...endpointKey,
        status: 'pending',
        url: versionEndpointUrl(env, endpointKey),
        activeRevision: null,
        revisionCounter: revisionNumber,
        previousStatus: null,
        deploymentId: deployment.id,
        resources: settings.resources,
        env: settings.env,
        ...(settings.secrets && { secrets: settings.secrets }),
        protocol: settings.protocol,
        serving: settings.serving,
        createdAt: now,
        updatedAt: now,
        revision: 1,
      };
  return beginDeployment(
    deps,
    deployment,
    {
      repo: deps.endpoints,
      item: endpoint,
      expected: existing ? existing.revision : 'absent',
      conflict: async () => {
        const current = await deps.endpoints.get(endpointKey);
        return current?.status === 'pending' ? inProgress(current) : concurrentChange(describeEndpoint(endpointKey));
      },
    },
    () => restoreAfterFailedStart(deps, endpoint, existing),
  );
}

/** A variable is either plain (`env`) or a secret (`secrets`), not both. */
function assertSecretVariablesUnique(body: Pick<DeployBody, 'env' | 'secrets'>): void {
  const both = Object.keys(body.secrets ?? {}).filter((v) => body.env && Object.hasOwn(body.env, v));
  if (both.length > 0) {
    throw new ValidationError(
      `body.secrets: ${both.join(', ')} ${both.length === 1 ? 'is' : 'are'} also set in body.env; set each variable once`,
      { problems: both.map((v) => ({ path: `body.secrets.${v}`, message: 'is also set in body.env' })) },
    );
  }
}

/** When the workflow could not even start, the endpoint returns to where it was (or failed when it is new). */
async function restoreAfterFailedStart(
  deps: Pick<Deps, 'endpoints' | 'clock'>,
  written: VersionEndpoint,
  before: VersionEndpoint | undefined,
): Promise<void> {
  const restored: VersionEndpoint = before
    ? { ...before, revision: written.revision + 1, updatedAt: isoNow(deps.clock) }
    : {
        ...written,
        status: 'failed',
        message: 'the deployment workflow could not be started',
        revision: written.revision + 1,
        updatedAt: isoNow(deps.clock),
      };
  await deps.endpoints.put(restored, written.revision);
}

const LEASE_TTL_MS = 10_000;

/**
 * The active-version limit is a rule over several items, which one conditional write cannot guard: the check and the
 * claim run under a short lease per model and environment, so two deploys of different versions cannot both pass it.
 */
async function underModelLease<T>(deps: Pick<Deps, 'leases'>, key: EndpointKey, fn: () => Promise<T>): Promise<T> {
  const name = `active-versions:${key.project}/${key.model}@${key.environment}`;
  for (let attempt = 1; ; attempt++) {
    const lease = await deps.leases.acquire(name, LEASE_TTL_MS);
    if (lease) {
      try {
        return await fn();
      } finally {
        await lease.release();
      }
    }
    if (attempt >= 60) {
      throw new ConflictError(
        `other deployments of ${key.project}/${key.model} in "${key.environment}" are being started; retry in a moment`,
        undefined,
        'CONCURRENT_CHANGE',
      );
    }
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
  }
}

/** DESIGN §7 / Merlin: at most `maxActiveVersionsPerModel` endpoints of a model pending or running per environment. */
async function assertActiveLimit(deps: EndpointDeps, env: Environment, key: EndpointKey): Promise<void> {
  const all = await deps.endpoints.listForModel(key, env.name);
  const active = all.filter((e) => e.version !== key.version && (e.status === 'pending' || e.status === 'running'));
  if (active.length >= env.maxActiveVersionsPerModel) {
    throw new ConflictError(
      `model ${key.project}/${key.model} already has ${active.length} active version endpoints in environment "${env.name}" (versions ${active.map((e) => e.version).join(', ')}); the limit is ${env.maxActiveVersionsPerModel}: undeploy one first`,
      { active: active.map((e) => e.version), limit: env.maxActiveVersionsPerModel },
      'ACTIVE_LIMIT_REACHED',
    );
  }
}

export async function getEndpoint(
  deps: Pick<Deps, 'endpoints' | 'modelEndpoints'>,
  key: EndpointKey,
): Promise<VersionEndpoint> {
  const [e, me] = await Promise.all([
    deps.endpoints.get(key),
    deps.modelEndpoints.get({ project: key.project, model: key.model, environment: key.environment }),
  ]);
  if (!e) throw new NotFoundError(`${describeEndpoint(key)} has never been deployed`, { ...key });
  return presentEndpoint(e, me);
}

export async function listEndpoints(
  deps: Pick<Deps, 'versions' | 'endpoints' | 'modelEndpoints'>,
  key: VersionKey,
  query: ListQuery,
): Promise<Page<VersionEndpoint>> {
  await getVersion(deps, key);
  const page = await deps.endpoints.listForVersion(key, query);
  const envs = [...new Set(page.items.map((e) => e.environment))];
  const mes = new Map(
    await Promise.all(
      envs.map(async (environment) => [environment, await deps.modelEndpoints.get({ ...key, environment })] as const),
    ),
  );
  return { ...page, items: page.items.map((e) => presentEndpoint(e, mes.get(e.environment))) };
}

/**
 * Undeploys a version endpoint (DELETE …/endpoints/{env}). Refused while a deployment is in flight, when it is
 * already terminated, and while the model endpoint sends it traffic (route traffic elsewhere first).
 */
export async function undeployVersion(deps: EndpointDeps, key: EndpointKey): Promise<Deployment> {
  deps.environments.get(key.environment);
  const [endpoint, me] = await Promise.all([
    deps.endpoints.get(key),
    deps.modelEndpoints.get({ project: key.project, model: key.model, environment: key.environment }),
  ]);
  if (!endpoint) throw new NotFoundError(`${describeEndpoint(key)} has never been deployed`, { ...key });
  if (endpoint.status === 'pending') throw inProgress(endpoint);
  if (endpoint.status === 'terminated') {
    throw new ConflictError(`${describeEndpoint(key)} is already terminated`, undefined, 'ALREADY_TERMINATED');
  }
  const names = (rule: RouteRule | null | undefined) =>
    !!rule && (rule.destinations.some((d) => d.version === key.version) || rule.mirror?.version === key.version);
  if (me?.status === 'pending') {
    const change = await deps.deployments.get({ id: me.deploymentId });
    if (names(change?.request.rule)) {
      throw new ConflictError(
        `${describeEndpoint(key)} is named by the routing change ${me.deploymentId} of the model endpoint, which is in progress; wait for it and route traffic elsewhere first`,
        { deploymentId: me.deploymentId },
        'ENDPOINT_SERVING',
      );
    }
  }
  if (me && me.status !== 'terminated' && names(me.rule)) {
    throw new ConflictError(
      `${describeEndpoint(key)} receives traffic from the model endpoint ${key.project}/${key.model} in "${key.environment}"; route its traffic to another version first (PUT …/models/${key.model}/endpoints/${key.environment})`,
      { modelEndpoint: me.url },
      'ENDPOINT_SERVING',
    );
  }
  const deployment = newDeployment(deps, {
    kind: 'undeploy',
    project: key.project,
    model: key.model,
    version: key.version,
    environment: key.environment,
    ...(endpoint.activeRevision && { targetRevision: endpoint.activeRevision }),
    request: {},
  });
  const pending: VersionEndpoint = {
    ...endpoint,
    status: 'pending',
    previousStatus: endpoint.status,
    deploymentId: deployment.id,
    updatedAt: deployment.createdAt,
    revision: endpoint.revision + 1,
  };
  return beginDeployment(
    deps,
    deployment,
    {
      repo: deps.endpoints,
      item: pending,
      expected: endpoint.revision,
      conflict: async () => concurrentChange(describeEndpoint(key)),
    },
    () => restoreAfterFailedStart(deps, pending, endpoint),
  );
}
