/**
 * In-memory repositories with DynamoDB's conditional-write semantics (adapters/dynamodb/repositories.ts):
 * `put(item, 'absent')` fails with ConflictError ALREADY_EXISTS when the item exists, `put(item, n)` and
 * `delete(key, n)` fail with ConflictError REVISION_MISMATCH unless the stored revision is n. Items are copied
 * in and out, so a caller never aliases what is stored. Lists page by an opaque cursor bound to the list it came from.
 */
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import type {
  DeploymentKey,
  DeploymentRepository,
  EndpointKey,
  EndpointRepository,
  Expected,
  ModelEndpointKey,
  ModelEndpointRepository,
  ModelKey,
  ModelRepository,
  ProjectKey,
  ProjectRepository,
  Repository,
  VersionKey,
  VersionRepository,
} from '../../core/ports.js';
import type {
  Deployment,
  ListQuery,
  Model,
  ModelEndpoint,
  ModelVersion,
  Page,
  Project,
  VersionEndpoint,
} from '../../core/schemas/index.js';

export type RepositoryOperation = 'get' | 'put' | 'delete' | 'list' | 'allocateVersion';

/** Runs before an operation; may throw (the operation fails) or change the store (a concurrent writer). */
export type Interceptor = () => void | Promise<void>;

const pad = (n: number): string => n.toString().padStart(10, '0');
const copy = <T>(value: T): T => structuredClone(value);

interface ListSpec<T> {
  /** Which list the cursor belongs to (a cursor from another list is refused, as DynamoDB's adapter does). */
  scope: string;
  filter: (item: T) => boolean;
  sortKey: (item: T) => string;
  newestFirst?: boolean;
  /** Prefix filter on the sort key (`?search=`). */
  prefix?: string | undefined;
}

export class MemoryRepository<K, T extends { revision: number }> implements Repository<K, T> {
  protected readonly items = new Map<string, T>();
  /** Every operation, in order (`put`, `get`…), for "nothing was written" assertions. */
  readonly log: RepositoryOperation[] = [];
  private readonly interceptors: { op: RepositoryOperation; fn: Interceptor; remaining: number }[] = [];

  constructor(
    readonly entity: string,
    private readonly keyOf: (key: K) => string,
    private readonly keyOfItem: (item: T) => string,
  ) {}

  async get(key: K): Promise<T | undefined> {
    await this.before('get');
    const item = this.items.get(this.keyOf(key));
    return item && copy(item);
  }

  async put(item: T, expected: Expected): Promise<void> {
    await this.before('put');
    const id = this.keyOfItem(item);
    const stored = this.items.get(id);
    if (expected === 'absent') {
      if (stored) throw new ConflictError(`${this.entity} already exists`, undefined, 'ALREADY_EXISTS');
    } else if (!stored || stored.revision !== expected) {
      throw new ConflictError(`${this.entity} was changed concurrently`, undefined, 'REVISION_MISMATCH');
    }
    this.items.set(id, copy(item));
  }

  async delete(key: K, expected?: number): Promise<void> {
    await this.before('delete');
    const id = this.keyOf(key);
    const stored = this.items.get(id);
    if (expected !== undefined && (!stored || stored.revision !== expected)) {
      throw new ConflictError(`${this.entity} was changed concurrently`, undefined, 'REVISION_MISMATCH');
    }
    this.items.delete(id);
  }

  // ---- test helpers (not part of the port) ----

  /** Stores items unconditionally (arrange step). */
  seed(...items: T[]): this {
    for (const item of items) this.items.set(this.keyOfItem(item), copy(item));
    return this;
  }

  /** A copy of the stored item, without logging an operation. */
  peek(key: K): T | undefined {
    const item = this.items.get(this.keyOf(key));
    return item && copy(item);
  }

  /** Copies of every stored item. */
  all(): T[] {
    return [...this.items.values()].map(copy);
  }

  get size(): number {
    return this.items.size;
  }

  /** How many times an operation ran. */
  count(op: RepositoryOperation): number {
    return this.log.filter((o) => o === op).length;
  }

  /** Runs `fn` before the next `times` calls of `op`. */
  intercept(op: RepositoryOperation, fn: Interceptor, times = 1): this {
    this.interceptors.push({ op, fn, remaining: times });
    return this;
  }

  /** The next `times` calls of `op` throw `error` (without touching the store). */
  failNext(op: RepositoryOperation, error: Error, times = 1): this {
    return this.intercept(
      op,
      () => {
        throw error;
      },
      times,
    );
  }

  protected async before(op: RepositoryOperation): Promise<void> {
    this.log.push(op);
    const i = this.interceptors.findIndex((x) => x.op === op && x.remaining > 0);
    if (i < 0) return;
    const interceptor = this.interceptors[i]!;
    interceptor.remaining -= 1;
    if (interceptor.remaining === 0) this.interceptors.splice(i, 1);
    await interceptor.fn();
  }

  protected async page(spec: ListSpec<T>, query: ListQuery): Promise<Page<T>> {
    await this.before('list');
    const sorted = [...this.items.values()]
      .filter(spec.filter)
      .map((item) => ({ key: spec.sortKey(item), item }))
      .filter((e) => spec.prefix === undefined || e.key.startsWith(spec.prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (spec.newestFirst) sorted.reverse();
    const after = decodeCursor(query.cursor, spec.scope);
    const start = after === undefined ? 0 : sorted.findIndex((e) => (spec.newestFirst ? e.key < after : e.key > after));
    const rest = start < 0 ? [] : sorted.slice(start);
    const items = rest.slice(0, query.limit);
    const last = items[items.length - 1];
    const nextCursor = rest.length > items.length && last ? encodeCursor(spec.scope, last.key) : null;
    return { items: items.map((e) => copy(e.item)), nextCursor };
  }

  protected async every(filter: (item: T) => boolean): Promise<T[]> {
    await this.before('list');
    return [...this.items.values()].filter(filter).map(copy);
  }
}

const encodeCursor = (scope: string, after: string): string =>
  Buffer.from(JSON.stringify({ scope, after })).toString('base64url');

function decodeCursor(cursor: string | undefined, scope: string): string | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('cursor is not valid: pass the nextCursor of the previous page unchanged');
  }
  const c = parsed as { scope?: unknown; after?: unknown } | null;
  if (!c || typeof c !== 'object' || c.scope !== scope || typeof c.after !== 'string') {
    throw new ValidationError(
      'cursor does not belong to this list: pass the nextCursor of the previous page unchanged',
    );
  }
  return c.after;
}

const projectId = (k: ProjectKey) => k.project;
const modelId = (k: ModelKey) => `${k.project}/${k.model}`;
const versionId = (k: VersionKey) => `${modelId(k)}/${pad(k.version)}`;
const endpointId = (k: EndpointKey) => `${versionId(k)}/${k.environment}`;
const modelEndpointId = (k: ModelEndpointKey) => `${modelId(k)}/${k.environment}`;
const sameModel = (a: ModelKey) => (b: ModelKey) => a.project === b.project && a.model === b.model;

export class MemoryProjectRepository extends MemoryRepository<ProjectKey, Project> implements ProjectRepository {
  constructor() {
    super('project', projectId, (p) => p.name);
  }
  list(query: ListQuery): Promise<Page<Project>> {
    return this.page({ scope: 'projects', filter: () => true, sortKey: (p) => p.name, prefix: query.search }, query);
  }
}

export class MemoryModelRepository extends MemoryRepository<ModelKey, Model> implements ModelRepository {
  constructor() {
    super('model', modelId, (m) => modelId({ project: m.project, model: m.name }));
  }
  list(key: ProjectKey, query: ListQuery): Promise<Page<Model>> {
    return this.page(
      {
        scope: `models:${key.project}`,
        filter: (m) => m.project === key.project,
        sortKey: (m) => m.name,
        prefix: query.search,
      },
      query,
    );
  }
  /** Like DynamoDB's `ADD latestVersion 1, revision 1`: atomic, and bumps the revision. */
  async allocateVersion(key: ModelKey): Promise<number> {
    await this.before('allocateVersion');
    const id = modelId(key);
    const stored = this.items.get(id);
    if (!stored) throw new NotFoundError(`model "${key.model}" not found in project "${key.project}"`);
    const next = { ...stored, latestVersion: stored.latestVersion + 1, revision: stored.revision + 1 };
    this.items.set(id, next);
    return next.latestVersion;
  }
}

export class MemoryVersionRepository extends MemoryRepository<VersionKey, ModelVersion> implements VersionRepository {
  constructor() {
    super('version', versionId, versionId);
  }
  /** Newest first; `search` does not apply to versions (as on DynamoDB). */
  list(
    key: ModelKey,
    query: { limit: number; cursor?: string; labels?: Record<string, string> },
  ): Promise<Page<ModelVersion>> {
    const labels = Object.entries(query.labels ?? {});
    return this.page(
      {
        scope: `versions:${modelId(key)}`,
        filter: (v) => sameModel(key)(v) && labels.every(([k, value]) => v.labels[k] === value),
        sortKey: (v) => pad(v.version),
        newestFirst: true,
      },
      query,
    );
  }
}

export class MemoryEndpointRepository
  extends MemoryRepository<EndpointKey, VersionEndpoint>
  implements EndpointRepository
{
  constructor() {
    super('versionEndpoint', endpointId, endpointId);
  }
  listForVersion(key: VersionKey, query: ListQuery): Promise<Page<VersionEndpoint>> {
    return this.page(
      {
        scope: `endpoints:${versionId(key)}`,
        filter: (e) => sameModel(key)(e) && e.version === key.version,
        sortKey: (e) => e.environment,
      },
      query,
    );
  }
  listForModel(key: ModelKey, environment: string): Promise<VersionEndpoint[]> {
    return this.every((e) => sameModel(key)(e) && e.environment === environment);
  }
  listForEnvironment(environment: string): Promise<VersionEndpoint[]> {
    return this.every((e) => e.environment === environment);
  }
}

export class MemoryModelEndpointRepository
  extends MemoryRepository<ModelEndpointKey, ModelEndpoint>
  implements ModelEndpointRepository
{
  constructor() {
    super('modelEndpoint', modelEndpointId, modelEndpointId);
  }
  listForModel(key: ModelKey, query: ListQuery): Promise<Page<ModelEndpoint>> {
    return this.page(
      { scope: `model-endpoints:${modelId(key)}`, filter: sameModel(key), sortKey: (m) => m.environment },
      query,
    );
  }
  listForEnvironment(environment: string): Promise<ModelEndpoint[]> {
    return this.every((m) => m.environment === environment);
  }
}

/** Deployment history partitions as in adapters/dynamodb/keys.ts: route deployments belong to the model endpoint. */
const historyOf = (k: EndpointKey | ModelEndpointKey): string =>
  'version' in k ? `VE:${endpointId(k)}` : `ME:${modelEndpointId(k)}`;
const historyOfDeployment = (d: Deployment): string =>
  d.kind === 'route' || d.version === undefined
    ? historyOf({ project: d.project, model: d.model, environment: d.environment })
    : historyOf({ project: d.project, model: d.model, version: d.version, environment: d.environment });

export class MemoryDeploymentRepository
  extends MemoryRepository<DeploymentKey, Deployment>
  implements DeploymentRepository
{
  constructor() {
    super(
      'deployment',
      (k) => k.id,
      (d) => d.id,
    );
  }
  /** Newest first (ids are ULIDs). */
  listForEndpoint(key: EndpointKey | ModelEndpointKey, query: ListQuery): Promise<Page<Deployment>> {
    const partition = historyOf(key);
    return this.page(
      {
        scope: `deployments:${partition}`,
        filter: (d) => historyOfDeployment(d) === partition,
        sortKey: (d) => d.id,
        newestFirst: true,
      },
      query,
    );
  }
}

export interface MemoryRepositories {
  projects: MemoryProjectRepository;
  models: MemoryModelRepository;
  versions: MemoryVersionRepository;
  endpoints: MemoryEndpointRepository;
  modelEndpoints: MemoryModelEndpointRepository;
  deployments: MemoryDeploymentRepository;
}

export const memoryRepositories = (): MemoryRepositories => ({
  projects: new MemoryProjectRepository(),
  models: new MemoryModelRepository(),
  versions: new MemoryVersionRepository(),
  endpoints: new MemoryEndpointRepository(),
  modelEndpoints: new MemoryModelEndpointRepository(),
  deployments: new MemoryDeploymentRepository(),
});
