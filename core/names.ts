import type { EndpointKey, ModelKey, RevisionIdentity, VersionKey } from './ports.js';
import type { Environment } from './schemas/environment.js';
import type { ModelType } from './schemas/model.js';

/** Kubernetes-style name of a version endpoint revision: `{model}-{version}-r{n}` (Merlin's isvc naming). */
export const revisionName = (model: string, version: number, n: number): string => `${model}-${version}-r${n}`;

export const revisionIdentity = (key: VersionKey, n: number): RevisionIdentity => ({
  namespace: key.project,
  name: revisionName(key.model, key.version, n),
  project: key.project,
  model: key.model,
  version: key.version,
  number: n,
});

/** Model endpoint: `{servingUrl}/{project}/{model}`. */
export const modelEndpointUrl = (env: Environment, key: ModelKey): string =>
  `${env.servingUrl}/${key.project}/${key.model}`;

/** Version endpoint: `{servingUrl}/{project}/{model}/versions/{v}`. */
export const versionEndpointUrl = (env: Environment, key: VersionKey): string =>
  `${modelEndpointUrl(env, key)}/versions/${key.version}`;

/** Artifact files of a version live under this prefix of the platform bucket. */
export const artifactPrefix = (key: VersionKey): string => `artifacts/${key.project}/${key.model}/${key.version}/`;

/** The runtime's model file when the version does not name one. */
export const DEFAULT_MODEL_FILE: Record<ModelType, string> = {
  onnx: 'model.onnx',
  xgboost: 'model.json',
  function: 'index.mjs',
  custom: '',
};

/** Model types the platform can deploy (every type has a runtime in the model server). */
export const DEPLOYABLE_TYPES: readonly ModelType[] = ['onnx', 'xgboost', 'function', 'custom'];

export const describeVersion = (k: VersionKey): string => `${k.project}/${k.model} version ${k.version}`;
export const describeEndpoint = (k: EndpointKey): string => `${describeVersion(k)} in environment "${k.environment}"`;
