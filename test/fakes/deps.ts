import { Environments } from '../../core/environments.js';
import type { Deps } from '../../core/ports.js';
import type { EnvironmentConfig } from '../../core/schemas/index.js';
import { MemoryArtifactStore } from './artifact-store.js';
import { FixedClock } from './clock.js';
import { FakeClusters } from './cluster.js';
import { MemoryIdempotencyStore } from './idempotency.js';
import { SequentialIds } from './ids.js';
import { MemoryImageRegistry } from './images.js';
import { MemoryLeases } from './leases.js';
import {
  type MemoryDeploymentRepository,
  type MemoryEndpointRepository,
  type MemoryModelEndpointRepository,
  type MemoryModelRepository,
  type MemoryProjectRepository,
  type MemoryVersionRepository,
  memoryRepositories,
} from './repositories.js';
import { FakeCipher, MemorySecretRepository } from './secrets.js';
import { RecordingWorkflows } from './workflows.js';

export const LOCAL_SERVING_URL = 'http://127.0.0.1:8080/serving';
export const STAGING_SERVING_URL = 'https://staging.models.example.com/serving';

/**
 * Two environments: `local` (the default; Merlin's limit of 2 active versions, 300 s timeout) and `staging`
 * (an EKS cluster with other defaults, a limit of 1 active version and a 60 s timeout).
 */
export const TEST_ENVIRONMENTS: EnvironmentConfig[] = [
  { name: 'local', isDefault: true, cluster: { kind: 'local' }, servingUrl: LOCAL_SERVING_URL },
  {
    name: 'staging',
    cluster: { kind: 'eks', eksClusterName: 'merlin-staging', region: 'eu-west-1' },
    servingUrl: `${STAGING_SERVING_URL}/`,
    defaults: { cpu: '1', memory: '1Gi', minReplicas: 2, maxReplicas: 3 },
    maxActiveVersionsPerModel: 1,
    deploymentTimeoutSeconds: 60,
  },
];

/** Deps made only of fakes, typed as the fakes so tests can arrange and inspect them. */
export interface FakeDeps extends Deps {
  projects: MemoryProjectRepository;
  models: MemoryModelRepository;
  versions: MemoryVersionRepository;
  endpoints: MemoryEndpointRepository;
  modelEndpoints: MemoryModelEndpointRepository;
  deployments: MemoryDeploymentRepository;
  secrets: MemorySecretRepository;
  cipher: FakeCipher;
  artifacts: MemoryArtifactStore;
  workflows: RecordingWorkflows;
  clusters: FakeClusters;
  images: MemoryImageRegistry;
  clock: FixedClock;
  ids: SequentialIds;
  idempotency: MemoryIdempotencyStore;
  leases: MemoryLeases;
}

export interface DepsOverrides extends Partial<FakeDeps> {
  /** Environment configs to validate into `environments` (default TEST_ENVIRONMENTS). */
  environmentConfigs?: EnvironmentConfig[];
}

export function makeDeps(overrides: DepsOverrides = {}): FakeDeps {
  const { environmentConfigs, ...rest } = overrides;
  const environments = rest.environments ?? new Environments(environmentConfigs ?? TEST_ENVIRONMENTS);
  const clock = rest.clock ?? new FixedClock();
  return {
    ...memoryRepositories(),
    secrets: new MemorySecretRepository(),
    cipher: new FakeCipher(),
    idempotency: new MemoryIdempotencyStore(() => clock.now()),
    leases: new MemoryLeases(() => clock.now().getTime()),
    artifacts: new MemoryArtifactStore(),
    workflows: new RecordingWorkflows(),
    clusters: new FakeClusters(environments),
    images: new MemoryImageRegistry(),
    clock,
    ids: new SequentialIds(),
    ...rest,
    environments,
  };
}
