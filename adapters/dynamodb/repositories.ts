import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, DependencyError, NotFoundError, ValidationError } from '../../core/errors.js';
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
  SecretKey,
  SecretRepository,
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
  StoredSecret,
  VersionEndpoint,
} from '../../core/schemas/index.js';
import {
  deploymentHistoryPartition,
  deploymentKeys,
  endpointKeys,
  type ItemKeys,
  modelEndpointKeys,
  modelKeys,
  modelPartition,
  projectKeys,
  secretKeys,
  versionKeys,
} from './keys.js';

const KEY_ATTRIBUTES = ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'entity'] as const;

/** Translates SDK failures at the boundary: nothing above adapters/ sees an SDK error type. */
async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) throw e;
    if (e instanceof ConflictError || e instanceof NotFoundError || e instanceof ValidationError) throw e;
    const err = e as { name?: string; message?: string };
    throw new DependencyError(`DynamoDB ${what} failed: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`);
  }
}

/** The key of an item as DynamoDB's LastEvaluatedKey would give it (base keys, plus the index's when queried). */
const keysAfter = (item: Record<string, unknown>, index: 'GSI1' | undefined): Record<string, unknown> => ({
  PK: item.PK,
  SK: item.SK,
  ...(index && { GSI1PK: item.GSI1PK, GSI1SK: item.GSI1SK }),
});

const strip = <T>(item: Record<string, unknown>): T => {
  const copy: Record<string, unknown> = { ...item };
  for (const k of KEY_ATTRIBUTES) delete copy[k];
  return copy as T;
};

/** Cursors are the opaque, base64url-encoded LastEvaluatedKey, bound to the partition they came from. */
export const encodeCursor = (key: Record<string, unknown> | undefined): string | null =>
  key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;

export function decodeCursor(cursor: string | undefined, partition: { name: string; value: string }) {
  if (cursor === undefined) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('cursor is not valid: pass the nextCursor of the previous page unchanged');
  }
  if (!key || typeof key !== 'object' || (key as Record<string, unknown>)[partition.name] !== partition.value) {
    throw new ValidationError(
      'cursor does not belong to this list: pass the nextCursor of the previous page unchanged',
    );
  }
  return key as Record<string, unknown>;
}

abstract class DynamoRepository<K, T extends { revision: number }> implements Repository<K, T> {
  protected abstract readonly entity: string;
  constructor(
    protected readonly db: DynamoDBDocumentClient,
    protected readonly table: string,
  ) {}

  protected abstract keysOf(key: K): ItemKeys;
  protected abstract keyOfItem(item: T): K;
  /** Extra index keys some items carry (deployment history). */
  protected extraKeys(_item: T): Partial<ItemKeys> {
    return {};
  }

  async get(key: K): Promise<T | undefined> {
    const { PK, SK } = this.keysOf(key);
    const out = await call(`get ${this.entity}`, () =>
      this.db.send(new GetCommand({ TableName: this.table, Key: { PK, SK }, ConsistentRead: true })),
    );
    return out.Item ? strip<T>(out.Item) : undefined;
  }

  async put(item: T, expected: Expected): Promise<void> {
    const keys = { ...this.keysOf(this.keyOfItem(item)), ...this.extraKeys(item) };
    try {
      await call(`put ${this.entity}`, () =>
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...item, ...keys, entity: this.entity },
            ...(expected === 'absent'
              ? { ConditionExpression: 'attribute_not_exists(PK)' }
              : {
                  ConditionExpression: '#revision = :expected',
                  ExpressionAttributeNames: { '#revision': 'revision' },
                  ExpressionAttributeValues: { ':expected': expected },
                }),
          }),
        ),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        throw expected === 'absent'
          ? new ConflictError(`${this.entity} already exists`, undefined, 'ALREADY_EXISTS')
          : new ConflictError(`${this.entity} was changed concurrently`, undefined, 'REVISION_MISMATCH');
      }
      throw e;
    }
  }

  async delete(key: K, expected?: number): Promise<void> {
    const { PK, SK } = this.keysOf(key);
    try {
      await call(`delete ${this.entity}`, () =>
        this.db.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { PK, SK },
            ...(expected !== undefined && {
              ConditionExpression: '#revision = :expected',
              ExpressionAttributeNames: { '#revision': 'revision' },
              ExpressionAttributeValues: { ':expected': expected },
            }),
          }),
        ),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        throw new ConflictError(`${this.entity} was changed concurrently`, undefined, 'REVISION_MISMATCH');
      }
      throw e;
    }
  }

  /**
   * One page of a query on the table (PK) or on GSI1 (GSI1PK), optionally restricted to a sort-key prefix and
   * filtered by `equals` (attribute path → value). A filtered page is refilled until it is full or the partition ends,
   * and its cursor points after its last item, so pages never come back short or skip items.
   */
  protected async page(
    q: {
      index?: 'GSI1';
      partition: string;
      prefix?: string;
      newestFirst?: boolean;
      equals?: { path: string[]; value: string }[];
    },
    query: { limit: number; cursor?: string | undefined },
  ): Promise<Page<T>> {
    const pk = q.index ? 'GSI1PK' : 'PK';
    const sk = q.index ? 'GSI1SK' : 'SK';
    const names: Record<string, string> = { '#pk': pk, ...(q.prefix && { '#sk': sk }) };
    const values: Record<string, unknown> = { ':pk': q.partition, ...(q.prefix && { ':prefix': q.prefix }) };
    const filters = (q.equals ?? []).map((f, i) => {
      const path = f.path.map((part, j) => {
        names[`#f${i}_${j}`] = part;
        return `#f${i}_${j}`;
      });
      values[`:f${i}`] = f.value;
      return `${path.join('.')} = :f${i}`;
    });
    const input: QueryCommandInput = {
      TableName: this.table,
      ...(q.index && { IndexName: q.index }),
      KeyConditionExpression: q.prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
      ...(filters.length > 0 && { FilterExpression: filters.join(' AND ') }),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: !q.newestFirst,
    };
    // One item more than the page tells whether there is a next page without a second query; the cursor is then the
    // key of the page's last item.
    const want = query.limit + 1;
    const items: Record<string, unknown>[] = [];
    let start = decodeCursor(query.cursor, { name: pk, value: q.partition });
    let more: Record<string, unknown> | undefined;
    do {
      const out = await call(`query ${this.entity}`, () =>
        this.db.send(
          new QueryCommand({
            ...input,
            Limit: filters.length > 0 ? want : want - items.length,
            ExclusiveStartKey: start,
          }),
        ),
      );
      items.push(...(out.Items ?? []));
      more = out.LastEvaluatedKey;
      start = more;
    } while (more && items.length < want);
    let next: Record<string, unknown> | undefined;
    if (items.length > query.limit) {
      items.length = query.limit;
      next = keysAfter(items[items.length - 1]!, q.index);
    }
    return { items: items.map((i) => strip<T>(i)), nextCursor: encodeCursor(next) };
  }

  /** Every item of a partition (for bounded collections). */
  protected async all(q: { index?: 'GSI1'; partition: string; prefix?: string }): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const p = await this.page(q, { limit: 100, ...(cursor && { cursor }) });
      items.push(...p.items);
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
    return items;
  }
}

export class DynamoProjectRepository extends DynamoRepository<ProjectKey, Project> implements ProjectRepository {
  protected readonly entity = 'project';
  protected keysOf = projectKeys;
  protected keyOfItem = (p: Project) => ({ project: p.name });
  list(query: ListQuery) {
    return this.page({ index: 'GSI1', partition: 'PROJECTS', ...(query.search && { prefix: query.search }) }, query);
  }
}

export class DynamoModelRepository extends DynamoRepository<ModelKey, Model> implements ModelRepository {
  protected readonly entity = 'model';
  protected keysOf = modelKeys;
  protected keyOfItem = (m: Model) => ({ project: m.project, model: m.name });
  list(key: ProjectKey, query: ListQuery) {
    return this.page({ partition: `P#${key.project}`, prefix: `M#${query.search ?? ''}` }, query);
  }
  /** `ADD latestVersion 1` (and the revision, so a concurrent full-item write cannot roll the counter back). */
  async allocateVersion(key: ModelKey): Promise<number> {
    try {
      const out = await call('allocate version', () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { PK: modelKeys(key).PK, SK: modelKeys(key).SK },
            UpdateExpression: 'ADD latestVersion :one, #revision :one',
            ConditionExpression: 'attribute_exists(PK)',
            ExpressionAttributeNames: { '#revision': 'revision' },
            ExpressionAttributeValues: { ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      return Number(out.Attributes?.latestVersion);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        throw new NotFoundError(`model "${key.model}" not found in project "${key.project}"`);
      }
      throw e;
    }
  }
}

export class DynamoVersionRepository extends DynamoRepository<VersionKey, ModelVersion> implements VersionRepository {
  protected readonly entity = 'version';
  protected keysOf = versionKeys;
  protected keyOfItem = (v: ModelVersion) => ({ project: v.project, model: v.model, version: v.version });
  list(key: ModelKey, query: { limit: number; cursor?: string; labels?: Record<string, string> }) {
    const equals = Object.entries(query.labels ?? {}).map(([k, value]) => ({ path: ['labels', k], value }));
    return this.page({ partition: modelPartition(key), prefix: 'V#', newestFirst: true, equals }, query);
  }
}

export class DynamoEndpointRepository
  extends DynamoRepository<EndpointKey, VersionEndpoint>
  implements EndpointRepository
{
  protected readonly entity = 'versionEndpoint';
  protected keysOf = endpointKeys;
  protected keyOfItem = (e: VersionEndpoint) => ({
    project: e.project,
    model: e.model,
    version: e.version,
    environment: e.environment,
  });
  listForVersion(key: VersionKey, query: ListQuery) {
    const prefix = endpointKeys({ ...key, environment: '' }).SK;
    return this.page({ partition: modelPartition(key), prefix }, query);
  }
  async listForModel(key: ModelKey, environment: string) {
    const items = await this.all({ partition: modelPartition(key), prefix: 'VE#' });
    return items.filter((e) => e.environment === environment);
  }
  listForEnvironment(environment: string) {
    return this.all({ index: 'GSI1', partition: `ENV#${environment}#VE` });
  }
}

export class DynamoModelEndpointRepository
  extends DynamoRepository<ModelEndpointKey, ModelEndpoint>
  implements ModelEndpointRepository
{
  protected readonly entity = 'modelEndpoint';
  protected keysOf = modelEndpointKeys;
  protected keyOfItem = (m: ModelEndpoint) => ({ project: m.project, model: m.model, environment: m.environment });
  listForModel(key: ModelKey, query: ListQuery) {
    return this.page({ partition: modelPartition(key), prefix: 'ME#' }, query);
  }
  listForEnvironment(environment: string) {
    return this.all({ index: 'GSI1', partition: `ENV#${environment}#ME` });
  }
}

export class DynamoDeploymentRepository
  extends DynamoRepository<DeploymentKey, Deployment>
  implements DeploymentRepository
{
  protected readonly entity = 'deployment';
  protected keysOf = deploymentKeys;
  protected keyOfItem = (d: Deployment) => ({ id: d.id });
  protected override extraKeys(d: Deployment) {
    const key =
      d.kind === 'route' || d.version === undefined
        ? { project: d.project, model: d.model, environment: d.environment }
        : { project: d.project, model: d.model, version: d.version, environment: d.environment };
    return { GSI1PK: deploymentHistoryPartition(key), GSI1SK: d.id };
  }
  listForEndpoint(key: EndpointKey | ModelEndpointKey, query: ListQuery) {
    return this.page({ index: 'GSI1', partition: deploymentHistoryPartition(key), newestFirst: true }, query);
  }
}

/** Secrets of a project, by name; items hold only the encrypted value. */
export class DynamoSecretRepository extends DynamoRepository<SecretKey, StoredSecret> implements SecretRepository {
  protected readonly entity = 'secret';
  protected keysOf = secretKeys;
  protected keyOfItem = (s: StoredSecret) => ({ project: s.project, name: s.name });
  list(key: ProjectKey, query: ListQuery) {
    return this.page({ partition: `P#${key.project}`, prefix: `S#${query.search ?? ''}` }, query);
  }
}

export interface DynamoRepositories {
  projects: ProjectRepository;
  models: ModelRepository;
  versions: VersionRepository;
  endpoints: EndpointRepository;
  modelEndpoints: ModelEndpointRepository;
  deployments: DeploymentRepository;
  secrets: SecretRepository;
}

export const dynamoRepositories = (db: DynamoDBDocumentClient, table: string): DynamoRepositories => ({
  projects: new DynamoProjectRepository(db, table),
  models: new DynamoModelRepository(db, table),
  versions: new DynamoVersionRepository(db, table),
  endpoints: new DynamoEndpointRepository(db, table),
  modelEndpoints: new DynamoModelEndpointRepository(db, table),
  deployments: new DynamoDeploymentRepository(db, table),
  secrets: new DynamoSecretRepository(db, table),
});
