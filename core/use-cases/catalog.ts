/** Projects, models and versions: create, get, list. */
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { artifactPrefix, DEFAULT_MODEL_FILE, describeVersion } from '../names.js';
import type { Deps, ModelKey, ProjectKey, VersionKey } from '../ports.js';
import type {
  CreateModelBody,
  CreateProjectBody,
  CreateVersionBody,
  ListQuery,
  Model,
  ModelVersion,
  Page,
  PatchModelBody,
  PatchProjectBody,
  PatchVersionBody,
  Project,
  VersionListQuery,
} from '../schemas/index.js';
import { isoNow } from '../time.js';
import { updateItem } from '../update.js';

type CatalogDeps = Pick<Deps, 'projects' | 'models' | 'versions' | 'artifacts' | 'clock'>;

export async function createProject(deps: Pick<Deps, 'projects' | 'clock'>, body: CreateProjectBody): Promise<Project> {
  const now = isoNow(deps.clock);
  const project: Project = {
    name: body.name,
    ...(body.description !== undefined && { description: body.description }),
    labels: body.labels ?? {},
    createdAt: now,
    updatedAt: now,
    revision: 1,
  };
  try {
    await deps.projects.put(project, 'absent');
  } catch (e) {
    if (e instanceof ConflictError) {
      throw new ConflictError(`project "${body.name}" already exists`, { project: body.name }, 'ALREADY_EXISTS');
    }
    throw e;
  }
  return project;
}

export async function getProject(deps: Pick<Deps, 'projects'>, key: ProjectKey): Promise<Project> {
  const project = await deps.projects.get(key);
  if (!project) throw new NotFoundError(`project "${key.project}" not found`, { project: key.project });
  return project;
}

export const listProjects = (deps: Pick<Deps, 'projects'>, query: ListQuery): Promise<Page<Project>> =>
  deps.projects.list(query);

export async function createModel(
  deps: Pick<Deps, 'projects' | 'models' | 'clock'>,
  key: ProjectKey,
  body: CreateModelBody,
): Promise<Model> {
  await getProject(deps, key);
  const now = isoNow(deps.clock);
  const model: Model = {
    project: key.project,
    name: body.name,
    type: body.type,
    ...(body.description !== undefined && { description: body.description }),
    labels: body.labels ?? {},
    latestVersion: 0,
    createdAt: now,
    updatedAt: now,
    revision: 1,
  };
  try {
    await deps.models.put(model, 'absent');
  } catch (e) {
    if (e instanceof ConflictError) {
      throw new ConflictError(
        `model "${body.name}" already exists in project "${key.project}"`,
        { project: key.project, model: body.name },
        'ALREADY_EXISTS',
      );
    }
    throw e;
  }
  return model;
}

export async function getModel(deps: Pick<Deps, 'models'>, key: ModelKey): Promise<Model> {
  const model = await deps.models.get(key);
  if (!model) {
    throw new NotFoundError(`model "${key.model}" not found in project "${key.project}"`, {
      project: key.project,
      model: key.model,
    });
  }
  return model;
}

export async function listModels(
  deps: Pick<Deps, 'projects' | 'models'>,
  key: ProjectKey,
  query: ListQuery,
): Promise<Page<Model>> {
  await getProject(deps, key);
  return deps.models.list(key, query);
}

/** Creates the next version of a model; its number comes from an atomic counter (no duplicates, no reuse). */
export async function createVersion(deps: CatalogDeps, key: ModelKey, body: CreateVersionBody): Promise<ModelVersion> {
  const model = await getModel(deps, key);
  if (model.type !== 'custom' && body.custom) {
    throw new ValidationError(
      `body.custom: only versions of custom models run a command or image (this model is ${model.type})`,
    );
  }
  const number = await deps.models.allocateVersion(key);
  const vkey: VersionKey = { ...key, version: number };
  const now = isoNow(deps.clock);
  const version: ModelVersion = {
    project: key.project,
    model: key.model,
    version: number,
    labels: body.labels ?? {},
    params: body.params ?? {},
    metrics: body.metrics ?? {},
    tags: body.tags ?? {},
    properties: body.properties ?? {},
    modelFile: body.modelFile ?? DEFAULT_MODEL_FILE[model.type],
    // A custom model always says how it runs; what an environment needs of it is checked at deploy.
    ...(model.type === 'custom' && { custom: body.custom ?? { protocol: 'v2' } }),
    artifact: { uri: deps.artifacts.uri(artifactPrefix(vkey)), status: 'pending', files: [] },
    createdAt: now,
    updatedAt: now,
    revision: 1,
  };
  await deps.versions.put(version, 'absent');
  return version;
}

export async function getVersion(deps: Pick<Deps, 'versions'>, key: VersionKey): Promise<ModelVersion> {
  const version = await deps.versions.get(key);
  if (!version) {
    throw new NotFoundError(`${describeVersion(key)} not found`, {
      project: key.project,
      model: key.model,
      version: key.version,
    });
  }
  return version;
}

export async function listVersions(
  deps: Pick<Deps, 'models' | 'versions'>,
  key: ModelKey,
  query: VersionListQuery,
): Promise<Page<ModelVersion>> {
  await getModel(deps, key);
  return deps.versions.list(key, {
    limit: query.limit,
    ...(query.cursor !== undefined && { cursor: query.cursor }),
    ...(query.label !== undefined && { labels: query.label }),
  });
}

/** `description: null` removes it; absent fields stay as they are. */
const applyDescription = <T extends { description?: string }>(item: T, d: string | null | undefined): T => {
  if (d === undefined) return item;
  const { description: _old, ...rest } = item;
  return (d === null ? rest : { ...rest, description: d }) as T;
};

export async function updateProject(
  deps: Pick<Deps, 'projects' | 'clock'>,
  key: ProjectKey,
  body: PatchProjectBody,
  ifMatch: number | undefined,
): Promise<Project> {
  const what = `project "${key.project}"`;
  return updateItem(
    deps.projects,
    key,
    (p) => ({
      ...applyDescription(p, body.description),
      labels: body.labels ?? p.labels,
      updatedAt: isoNow(deps.clock),
    }),
    { current: await getProject(deps, key), what, ifMatch },
  );
}

export async function updateModel(
  deps: Pick<Deps, 'models' | 'clock'>,
  key: ModelKey,
  body: PatchModelBody,
  ifMatch: number | undefined,
): Promise<Model> {
  const what = `model "${key.model}" of project "${key.project}"`;
  return updateItem(
    deps.models,
    key,
    (m) => ({
      ...applyDescription(m, body.description),
      labels: body.labels ?? m.labels,
      updatedAt: isoNow(deps.clock),
    }),
    { current: await getModel(deps, key), what, ifMatch },
  );
}

export async function updateVersion(
  deps: Pick<Deps, 'versions' | 'clock'>,
  key: VersionKey,
  body: PatchVersionBody,
  ifMatch: number | undefined,
): Promise<ModelVersion> {
  const what = describeVersion(key);
  return updateItem(
    deps.versions,
    key,
    (v) => ({
      ...v,
      labels: body.labels ?? v.labels,
      params: body.params ?? v.params,
      metrics: body.metrics ?? v.metrics,
      tags: body.tags ?? v.tags,
      properties: body.properties ?? v.properties,
      updatedAt: isoNow(deps.clock),
    }),
    { current: await getVersion(deps, key), what, ifMatch },
  );
}
