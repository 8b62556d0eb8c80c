/**
 * Deleting projects, models and versions (DESIGN §4). Refused with a 409 that names them while endpoints are active
 * (pending or running, which includes serving); otherwise everything below goes too: versions, endpoint records,
 * model endpoints, deployment history and artifact files. Version numbers are never reused (the counter lives on the
 * model, and a deleted model's name starts again from a fresh model).
 */
import { ConflictError } from '../errors.js';
import { artifactPrefix, describeVersion } from '../names.js';
import type { Deps, EndpointKey, ModelEndpointKey, ModelKey, ProjectKey, VersionKey } from '../ports.js';
import type { ModelEndpoint, Page, VersionEndpoint } from '../schemas/index.js';
import { checkIfMatch } from '../update.js';
import { getModel, getProject, getVersion } from './catalog.js';
import { deleteProjectSecrets } from './secrets.js';

type DeletionDeps = Pick<
  Deps,
  | 'projects'
  | 'models'
  | 'versions'
  | 'endpoints'
  | 'modelEndpoints'
  | 'deployments'
  | 'artifacts'
  | 'environments'
  | 'secrets'
>;

/** Every item of a paginated list. */
async function collect<T>(list: (cursor: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

const isActive = (e: VersionEndpoint) => e.status === 'pending' || e.status === 'running';

function refuseActive(what: string, endpoints: VersionEndpoint[], inFlight: ModelEndpoint[] = []): void {
  if (endpoints.length === 0 && inFlight.length === 0) return;
  const names = endpoints.map(
    (e) => `${e.project}/${e.model} version ${e.version} in "${e.environment}" (${e.status})`,
  );
  const routes = inFlight.map(
    (m) => `the model endpoint ${m.project}/${m.model} in "${m.environment}" (routing change ${m.deploymentId})`,
  );
  throw new ConflictError(
    `${what} still has active endpoints: ${[...names, ...routes].join(', ')}; undeploy them (and route traffic away) first`,
    {
      endpoints: endpoints.map(({ project, model, version, environment, status }) => ({
        project,
        model,
        version,
        environment,
        status,
      })),
      ...(inFlight.length > 0 && {
        modelEndpoints: inFlight.map((m) => ({ environment: m.environment, deploymentId: m.deploymentId })),
      }),
    },
    'ACTIVE_ENDPOINTS',
  );
}

const endpointsOfVersion = (deps: DeletionDeps, key: VersionKey) =>
  collect((cursor) => deps.endpoints.listForVersion(key, { limit: 100, ...(cursor && { cursor }) }));

const endpointsOfModel = async (deps: DeletionDeps, key: ModelKey) =>
  (await Promise.all(deps.environments.all.map((env) => deps.endpoints.listForModel(key, env.name)))).flat();

const modelEndpointsOf = (deps: DeletionDeps, key: ModelKey) =>
  collect((cursor) => deps.modelEndpoints.listForModel(key, { limit: 100, ...(cursor && { cursor }) }));

async function deleteHistory(deps: DeletionDeps, key: EndpointKey | ModelEndpointKey): Promise<void> {
  const deployments = await collect((cursor) =>
    deps.deployments.listForEndpoint(key, { limit: 100, ...(cursor && { cursor }) }),
  );
  for (const d of deployments) await deps.deployments.delete({ id: d.id });
}

/** Removes a version whose endpoints are all inactive: their records and history, its files, itself. */
async function purgeVersion(deps: DeletionDeps, key: VersionKey, endpoints: VersionEndpoint[], revision?: number) {
  for (const e of endpoints) {
    const ek: EndpointKey = { ...key, environment: e.environment };
    await deleteHistory(deps, ek);
    await deps.endpoints.delete(ek);
  }
  await deps.artifacts.deletePrefix(artifactPrefix(key));
  await deps.versions.delete(key, revision);
}

async function purgeModel(deps: DeletionDeps, key: ModelKey, revision: number): Promise<void> {
  const versions = await collect((cursor) => deps.versions.list(key, { limit: 100, ...(cursor && { cursor }) }));
  for (const v of versions) {
    const vk: VersionKey = { ...key, version: v.version };
    await purgeVersion(deps, vk, await endpointsOfVersion(deps, vk));
  }
  for (const me of await modelEndpointsOf(deps, key)) {
    const mk: ModelEndpointKey = { ...key, environment: me.environment };
    await deleteHistory(deps, mk);
    await deps.modelEndpoints.delete(mk);
  }
  // Conditional on the revision read at the start: a version created meanwhile (it bumps the model's revision) makes
  // this a 409 rather than an orphan.
  await deps.models.delete(key, revision);
}

export async function deleteVersion(deps: DeletionDeps, key: VersionKey, ifMatch: number | undefined): Promise<void> {
  const version = await getVersion(deps, key);
  checkIfMatch(version, ifMatch, describeVersion(key));
  const endpoints = await endpointsOfVersion(deps, key);
  refuseActive(describeVersion(key), endpoints.filter(isActive));
  await purgeVersion(deps, key, endpoints, version.revision);
}

export async function deleteModel(deps: DeletionDeps, key: ModelKey, ifMatch: number | undefined): Promise<void> {
  const model = await getModel(deps, key);
  const what = `model ${key.project}/${key.model}`;
  checkIfMatch(model, ifMatch, what);
  const [endpoints, modelEndpoints] = await Promise.all([endpointsOfModel(deps, key), modelEndpointsOf(deps, key)]);
  refuseActive(
    what,
    endpoints.filter(isActive),
    modelEndpoints.filter((m) => m.status === 'pending'),
  );
  await purgeModel(deps, key, model.revision);
}

export async function deleteProject(deps: DeletionDeps, key: ProjectKey, ifMatch: number | undefined): Promise<void> {
  const project = await getProject(deps, key);
  const what = `project "${key.project}"`;
  checkIfMatch(project, ifMatch, what);
  const models = await collect((cursor) => deps.models.list(key, { limit: 100, ...(cursor && { cursor }) }));
  const active: VersionEndpoint[] = [];
  const inFlight: ModelEndpoint[] = [];
  for (const m of models) {
    const mk = { project: key.project, model: m.name };
    active.push(...(await endpointsOfModel(deps, mk)).filter(isActive));
    inFlight.push(...(await modelEndpointsOf(deps, mk)).filter((me) => me.status === 'pending'));
  }
  refuseActive(what, active, inFlight);
  for (const m of models) await purgeModel(deps, { project: key.project, model: m.name }, m.revision);
  // A project created again under this name must not find the old secret values.
  await deleteProjectSecrets(deps, key);
  await deps.projects.delete(key, project.revision);
}
