/**
 * Composition root of every function: builds the adapters once per runtime (module scope, reused across
 * invocations) from the environment contract in env.ts. The local platform runs the same handlers in one process
 * and supplies the two parts that have no AWS form there (the workflow runner and the process cluster) through
 * `provideLocal`.
 */

import { KmsCipher, kmsClient } from '../../adapters/crypto/kms-cipher.js';
import { LocalKeyCipher, unconfiguredCipher } from '../../adapters/crypto/local-key-cipher.js';
import { DynamoIdempotencyStore } from '../../adapters/dynamodb/idempotency.js';
import { DynamoLeases } from '../../adapters/dynamodb/leases.js';
import { dynamoRepositories } from '../../adapters/dynamodb/repositories.js';
import { documentClient } from '../../adapters/dynamodb/table.js';
import { EcrImageRegistry, ecrClient, noImageRegistry } from '../../adapters/ecr/image-registry.js';
import { EksGateways, type EksOverrides } from '../../adapters/eks/gateways.js';
import { S3ArtifactStore, s3Client } from '../../adapters/s3/artifact-store.js';
import { StepFunctionsWorkflows, sfnClient } from '../../adapters/sfn/workflow.js';
import { systemClock, ulidIds } from '../../adapters/system.js';
import { Environments } from '../../core/environments.js';
import { DependencyError } from '../../core/errors.js';
import type {
  ClusterGateway,
  ClusterGateways,
  Deps,
  ImageRegistry,
  SecretCipher,
  WorkflowName,
  WorkflowPort,
} from '../../core/ports.js';
import { type FunctionEnv, readEnv, STATE_MACHINE_ENV } from './env.js';
import { traced } from './observability.js';

/**
 * The optional AWS clients a Lambda bundle leaves out. Unbundled (the local platform, tests) every client is there.
 * infra's esbuild `define`s these to `true` for a function whose routes or task never use the client
 * (infra/constructs/merlin-function.ts `awsClients`, set from the same declarations as its IAM permissions), so the
 * branch that builds it is dead code and esbuild drops the adapter and its SDK package: about 140 KB per bundle.
 */
declare global {
  var MERLIN_WITHOUT_EKS: boolean | undefined;
  var MERLIN_WITHOUT_KMS: boolean | undefined;
  var MERLIN_WITHOUT_ECR: boolean | undefined;
}

const leftOut = (client: string, name: string): string =>
  `this function was bundled without the ${client} client (infra awsClients), yet ${name} needs it: declare the route's use in functions/api/routes.ts`;

export interface LocalProviders {
  workflows: WorkflowPort;
  /** The cluster of each environment whose cluster kind is `local`. */
  localCluster: (environment: string) => ClusterGateway;
}

let local: LocalProviders | undefined;
let deps: Deps | undefined;

/** Called by the local platform before the first request. */
export function provideLocal(providers: LocalProviders): void {
  local = providers;
  deps = undefined;
}

let eksOverrides: EksOverrides | undefined;

/**
 * Test seam for `eks` environments: DescribeCluster and the token's STS URL go to the given endpoints (loopback
 * stubs) instead of the regional AWS ones, signed with the given credentials, polling readiness at the given
 * interval. Deployed functions never call it; `undefined` restores the defaults. Takes effect on the next getDeps().
 */
export function provideEks(overrides: EksOverrides | undefined): void {
  eksOverrides = overrides;
  deps = undefined;
}

/** Maps each environment to its cluster adapter by the cluster kind declared in the environments config. */
class ClusterRegistry implements ClusterGateways {
  readonly #eks: EksGateways | undefined;
  constructor(
    private readonly environments: Environments,
    env: FunctionEnv,
  ) {
    this.#eks = globalThis.MERLIN_WITHOUT_EKS
      ? undefined
      : new EksGateways({ modelServerImage: env.MODEL_SERVER_IMAGE, artifactRegion: env.AWS_REGION }, eksOverrides);
  }
  forEnvironment(name: string): ClusterGateway {
    const env = this.environments.get(name);
    if (env.cluster.kind === 'local') {
      if (!local) {
        throw new DependencyError(`environment "${name}" is a local cluster, which only the local platform can run`);
      }
      return local.localCluster(name);
    }
    if (!this.#eks) throw new DependencyError(leftOut('EKS', `environment "${name}"`));
    return this.#eks.forEnvironment(env);
  }
}

/** KMS envelope encryption where infra bound the secrets key; the key file locally; otherwise none. */
function secretCipher(env: FunctionEnv): SecretCipher {
  if (env.SECRETS_KEY_ID) {
    // A constant condition in a bundle: esbuild keeps one branch (a ternary folds; code after a throw would stay).
    return globalThis.MERLIN_WITHOUT_KMS
      ? unconfiguredCipher(leftOut('KMS', 'SECRETS_KEY_ID'))
      : new KmsCipher({ keyId: env.SECRETS_KEY_ID, client: traced(kmsClient({ region: env.AWS_REGION })) });
  }
  if (env.MERLIN_SECRETS_KEY_FILE) return new LocalKeyCipher(env.MERLIN_SECRETS_KEY_FILE);
  return unconfiguredCipher('this function has no secrets key (SECRETS_KEY_ID or MERLIN_SECRETS_KEY_FILE)');
}

/**
 * ECR where infra bound the image repository (the deploy tasks). Elsewhere none: the local platform never builds
 * images (local clusters run commands), and other functions never ask.
 */
function imageRegistry(env: FunctionEnv): ImageRegistry {
  if (env.IMAGE_REPOSITORY_URI) {
    return globalThis.MERLIN_WITHOUT_ECR
      ? noImageRegistry(leftOut('ECR', 'IMAGE_REPOSITORY_URI'))
      : new EcrImageRegistry(env.IMAGE_REPOSITORY_URI, traced(ecrClient({ region: env.AWS_REGION })));
  }
  return noImageRegistry(
    local
      ? 'the local platform builds no images (local clusters run a command); deploy images to EKS from AWS'
      : 'this function has no image repository (IMAGE_REPOSITORY_URI)',
  );
}

function build(): Deps {
  const env = readEnv();
  const environments = new Environments(JSON.parse(env.MERLIN_ENVIRONMENTS));
  // X-Ray subsegments per AWS call on Lambda (traced() returns the client unchanged elsewhere).
  const db = traced(documentClient({ region: env.AWS_REGION }));
  const s3 = traced(s3Client({ region: env.AWS_REGION, forcePathStyle: !!process.env.AWS_ENDPOINT_URL_S3 }));
  const arns = Object.fromEntries(
    Object.entries(STATE_MACHINE_ENV).map(([workflow, name]) => [workflow, env[name]]),
  ) as Record<WorkflowName, string>;
  return {
    ...dynamoRepositories(db, env.TABLE_NAME),
    cipher: secretCipher(env),
    artifacts: new S3ArtifactStore(s3, env.ARTIFACT_BUCKET),
    workflows: local?.workflows ?? new StepFunctionsWorkflows(traced(sfnClient()), arns),
    clusters: new ClusterRegistry(environments, env),
    images: imageRegistry(env),
    environments,
    clock: systemClock,
    ids: ulidIds,
    idempotency: new DynamoIdempotencyStore(db, env.TABLE_NAME),
    leases: new DynamoLeases(db, env.TABLE_NAME),
  };
}

/** Tests run handlers against in-memory fakes: `useDeps(fakes)` before, `useDeps(undefined)` after. */
export function useDeps(replacement: Deps | undefined): void {
  deps = replacement;
}

export function getDeps(): Deps {
  deps ??= build();
  return deps;
}
