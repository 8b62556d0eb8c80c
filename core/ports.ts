/**
 * Ports: what core/ needs from the outside world. Adapters (adapters/*) implement them; unit tests use the
 * in-memory fakes in test/fakes. Nothing here names AWS, Kubernetes or a process.
 */
import type { Environments } from './environments.js';
import type {
  CustomPredictor,
  Deployment,
  EncryptedValue,
  ListQuery,
  Model,
  ModelEndpoint,
  ModelType,
  ModelVersion,
  Page,
  Project,
  ResolvedResources,
  RouteRule,
  ServingOptions,
  StoredSecret,
  VersionEndpoint,
} from './schemas/index.js';

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  /** A new, time-ordered deployment id (ULID). */
  deploymentId(): string;
}

export interface ProjectKey {
  project: string;
}
export interface ModelKey extends ProjectKey {
  model: string;
}
export interface VersionKey extends ModelKey {
  version: number;
}
export interface EndpointKey extends VersionKey {
  environment: string;
}
export interface ModelEndpointKey extends ModelKey {
  environment: string;
}
export interface DeploymentKey {
  id: string;
}
export interface SecretKey extends ProjectKey {
  name: string;
}

/** `'absent'`: the item must not exist yet; a number: the stored item must have this revision. */
export type Expected = 'absent' | number;

/**
 * Single-item conditional storage (DESIGN: no transactions). `put` throws ConflictError (code REVISION_MISMATCH
 * or ALREADY_EXISTS) when the expectation does not hold, so concurrent writers never overwrite each other.
 */
export interface Repository<K, T> {
  get(key: K): Promise<T | undefined>;
  put(item: T, expected: Expected): Promise<void>;
  delete(key: K, expected?: number): Promise<void>;
}

export interface ProjectRepository extends Repository<ProjectKey, Project> {
  list(query: ListQuery): Promise<Page<Project>>;
}
export interface ModelRepository extends Repository<ModelKey, Model> {
  list(key: ProjectKey, query: ListQuery): Promise<Page<Model>>;
  /** Atomically hands out the next version number of a model (never reused). NotFoundError if the model is gone. */
  allocateVersion(key: ModelKey): Promise<number>;
}
export interface VersionRepository extends Repository<VersionKey, ModelVersion> {
  /** Newest first; with `labels`, only versions carrying every one of them (pages stay full). */
  list(
    key: ModelKey,
    query: { limit: number; cursor?: string; labels?: Record<string, string> },
  ): Promise<Page<ModelVersion>>;
}
export interface EndpointRepository extends Repository<EndpointKey, VersionEndpoint> {
  listForVersion(key: VersionKey, query: ListQuery): Promise<Page<VersionEndpoint>>;
  /** Every endpoint of one model in one environment (bounded by the active-version limit plus history). */
  listForModel(key: ModelKey, environment: string): Promise<VersionEndpoint[]>;
  /** Every endpoint in an environment, for recovery after a restart of the local platform. */
  listForEnvironment(environment: string): Promise<VersionEndpoint[]>;
}
export interface ModelEndpointRepository extends Repository<ModelEndpointKey, ModelEndpoint> {
  listForModel(key: ModelKey, query: ListQuery): Promise<Page<ModelEndpoint>>;
  listForEnvironment(environment: string): Promise<ModelEndpoint[]>;
}
export interface DeploymentRepository extends Repository<DeploymentKey, Deployment> {
  /** Newest first. */
  listForEndpoint(key: EndpointKey | ModelEndpointKey, query: ListQuery): Promise<Page<Deployment>>;
}

/** Project secrets, stored encrypted (the plaintext never reaches the repository). */
export interface SecretRepository extends Repository<SecretKey, StoredSecret> {
  /** By name; `search` is a name prefix. */
  list(key: ProjectKey, query: ListQuery): Promise<Page<StoredSecret>>;
}

/** What a ciphertext is bound to: decrypting it under another project or name fails. */
export interface SecretContext {
  project: string;
  name: string;
}

/**
 * Encrypts secret values at rest (a KMS data key on AWS, a key file under the data dir locally). `decrypt` fails
 * unless given the context the value was encrypted with, so a ciphertext cannot be moved to another secret.
 */
export interface SecretCipher {
  encrypt(plaintext: string, context: SecretContext): Promise<EncryptedValue>;
  decrypt(value: EncryptedValue, context: SecretContext): Promise<string>;
}

/** Artifact storage (S3 on AWS, s3rver locally). Keys are relative to the platform's bucket. */
export interface ArtifactStore {
  /** The URI model servers load from, e.g. `s3://bucket/artifacts/p/m/1/`. */
  uri(prefix: string): string;
  presignPut(
    key: string,
    options: { contentType?: string; contentLength?: number; expiresInSeconds: number },
  ): Promise<{ url: string; headers: Record<string, string> }>;
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
  /** Size of the object, or undefined when it is missing. */
  stat(key: string): Promise<{ size: number } | undefined>;
  /** Hex SHA-256 of the object's bytes. */
  sha256(key: string): Promise<string>;
  /** Removes every object under a prefix (no error when there is none). */
  deletePrefix(prefix: string): Promise<void>;
}

export const WORKFLOWS = ['deploy-version', 'undeploy-version', 'update-route'] as const;
export type WorkflowName = (typeof WORKFLOWS)[number];

/** The workflow engine (Step Functions on AWS, aws-local-stepfunctions locally). */
export interface WorkflowPort {
  /** The execution's ARN, known before it starts (executions are named by deployment id). */
  executionArn(workflow: WorkflowName, name: string): string;
  /** Starts an execution; starting the same name with the same input twice is a no-op. */
  start(workflow: WorkflowName, name: string, input: { deploymentId: string }): Promise<void>;
}

/** Identity of one revision of a version endpoint: `{model}-{version}-r{n}` in namespace `{project}`. */
export interface RevisionIdentity {
  namespace: string;
  name: string;
  project: string;
  model: string;
  version: number;
  number: number;
}

export interface RevisionSpec extends RevisionIdentity {
  modelType: ModelType;
  /** Where the model server loads the artifact from (`s3://…/` or `file:///…/`). */
  artifactUri: string;
  /** The runtime's model file, relative to the artifact root. */
  modelFile: string;
  resources: ResolvedResources;
  env: Record<string, string>;
  /**
   * Plaintext values of the endpoint's secrets by environment variable name. Held in memory only: never stored,
   * logged or put into workflow state; a cluster passes them to the model server like `env`.
   */
  secretEnv: Record<string, string>;
  /** Batching and time limits of the model server. */
  serving: ServingOptions;
  /** What a `custom` model runs (from its version). */
  custom?: CustomPredictor;
  /**
   * The container image this revision runs, when it is not the platform's model server: the image built from the
   * artifact's Dockerfile (core/use-cases/images.ts), else a `custom` version's own `custom.image`. Absent ⇒ the
   * environment's model server image. Local clusters run processes and ignore it.
   */
  image?: string;
}

export type RevisionState =
  | { state: 'starting'; reason?: string }
  | { state: 'ready' }
  | { state: 'failed'; reason: string }
  | { state: 'absent' };

/**
 * A cluster an environment maps to. The workflow handlers reach clusters only through this port: the local
 * process cluster and the EKS adapter both implement it. Every method is idempotent.
 */
export interface ClusterGateway {
  /** Creates (or keeps) the revision's workload. Returns as soon as it is submitted, not when ready. */
  applyRevision(spec: RevisionSpec): Promise<void>;
  /** Readiness of a revision; may wait up to `waitMs` for a change before answering. */
  revisionStatus(revision: RevisionIdentity, options?: { waitMs?: number }): Promise<RevisionState>;
  /** Removes the revision's workload (no error when already gone). */
  deleteRevision(revision: RevisionIdentity): Promise<void>;
  /** Points the version endpoint's stable address at a revision. */
  routeVersion(version: VersionKey, revision: RevisionIdentity): Promise<void>;
  /** Removes the version endpoint's address. */
  unrouteVersion(version: VersionKey): Promise<void>;
  /** Carries out a model endpoint rule (weights and mirror over version endpoints). */
  applyModelRoute(model: ModelKey, rule: RouteRule): Promise<void>;
  /** Removes the model endpoint's address. */
  deleteModelRoute(model: ModelKey): Promise<void>;
  /** Recent output of a revision's model server (newest last). */
  revisionLogs(revision: RevisionIdentity, options: { tail: number }): Promise<string[]>;
}

/** Maps an environment to its cluster. */
export interface ClusterGateways {
  forEnvironment(environment: string): ClusterGateway;
}

/**
 * Container images built from artifacts (ECR on AWS). Tags are digests of the artifact manifest, so an existing tag
 * is a finished build of exactly those files and is never built again.
 */
export interface ImageRegistry {
  /** The full reference of the image with this tag, e.g. `<registry>/<repository>:<tag>`. */
  reference(tag: string): string;
  /** Whether an image with this tag has been pushed. */
  exists(tag: string): Promise<boolean>;
}

/** A POST answered once under an `Idempotency-Key`, kept so that a retry gets the same answer. */
export interface IdempotencyRecord {
  key: string;
  /** SHA-256 of method, path and body: the same key with another request is refused. */
  fingerprint: string;
  state: 'in-progress' | 'done';
  response?: { status: number; body?: string; headers: Record<string, string> };
  createdAt: string;
  /** After this the key may be used again (DynamoDB TTL on AWS). */
  expiresAt: string;
}

export interface IdempotencyStore {
  get(key: string): Promise<IdempotencyRecord | undefined>;
  /** Claims the key; false when a record for it exists already. */
  claim(record: IdempotencyRecord): Promise<boolean>;
  complete(key: string, response: NonNullable<IdempotencyRecord['response']>): Promise<void>;
  /** Releases a claimed key (the request failed in a way a retry may fix). */
  release(key: string): Promise<void>;
}

/**
 * Short leases that serialize a check-then-write across requests where one conditional write cannot express the rule
 * (e.g. "at most N active versions of a model in an environment"). A lease expires by itself, so a crashed holder
 * never blocks others for long.
 */
export interface Leases {
  /** Takes the named lease for `ttlMs`, or answers undefined when someone else holds it. */
  acquire(name: string, ttlMs: number): Promise<{ release(): Promise<void> } | undefined>;
}

/** Everything the use cases need, built once per runtime by a composition root. */
export interface Deps {
  projects: ProjectRepository;
  models: ModelRepository;
  versions: VersionRepository;
  endpoints: EndpointRepository;
  modelEndpoints: ModelEndpointRepository;
  deployments: DeploymentRepository;
  secrets: SecretRepository;
  cipher: SecretCipher;
  artifacts: ArtifactStore;
  workflows: WorkflowPort;
  clusters: ClusterGateways;
  images: ImageRegistry;
  environments: Environments;
  clock: Clock;
  ids: IdGenerator;
  idempotency: IdempotencyStore;
  leases: Leases;
}
