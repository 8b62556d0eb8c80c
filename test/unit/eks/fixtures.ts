import type { ClusterSettings } from '../../../adapters/eks/manifests.js';
import type { RevisionSpec } from '../../../core/ports.js';

/** The settings of an EKS environment with every option set. */
export const SETTINGS: ClusterSettings = {
  namespacePrefix: 'ml-',
  gateway: { name: 'merlin', namespace: 'gateway-system', sectionName: 'https' },
  servingHost: 'models.example.com',
  servingPath: '/serving',
  serviceAccountName: 'model-server',
  modelServerImage: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/merlin/model-server:1.4.0',
  artifactRegion: 'eu-west-1',
};

/** An onnx revision with env, secrets, batching and two to four replicas. */
export const ONNX_SPEC: RevisionSpec = {
  namespace: 'fraud',
  name: 'iris-3-r2',
  project: 'fraud',
  model: 'iris',
  version: 3,
  number: 2,
  modelType: 'onnx',
  artifactUri: 's3://merlin-artifacts/artifacts/fraud/iris/3/',
  modelFile: 'model.onnx',
  resources: { cpu: '500m', memory: '512Mi', minReplicas: 2, maxReplicas: 4 },
  env: { LOG_LEVEL: 'debug', MODEL_NAME: 'ignored: the contract wins', FEATURE_FLAG: 'on' },
  secretEnv: { DB_PASSWORD: 's3cr3t value', API_TOKEN: 'tok-123' },
  serving: { batching: { maxBatchSize: 32, maxLatencyMs: 5 }, requestTimeoutMs: 2000 },
};

/** A custom model running its own image, speaking V1, one replica, no secrets. */
export const CUSTOM_SPEC: RevisionSpec = {
  namespace: 'fraud',
  name: 'scorer-1-r1',
  project: 'fraud',
  model: 'scorer',
  version: 1,
  number: 1,
  modelType: 'custom',
  artifactUri: 's3://merlin-artifacts/artifacts/fraud/scorer/1/',
  modelFile: '',
  resources: { cpu: '1', memory: '1.5Gi', minReplicas: 0, maxReplicas: 1 },
  env: {},
  secretEnv: {},
  serving: {},
  custom: { image: 'ghcr.io/acme/scorer:2.0', protocol: 'v1' },
};
