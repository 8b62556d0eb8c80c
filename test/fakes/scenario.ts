/** Arrange helpers: build catalog entries and endpoints through the real use cases, on fake deps. */
import { artifactPrefix } from '../../core/names.js';
import type { EndpointKey, ModelEndpointKey, ModelKey, VersionKey } from '../../core/ports.js';
import type { Deployment, ModelType, ModelVersion, RouteRule, VersionEndpoint } from '../../core/schemas/index.js';
import { completeArtifact } from '../../core/use-cases/artifacts.js';
import { createModel, createProject, createVersion } from '../../core/use-cases/catalog.js';
import { deployVersion, undeployVersion } from '../../core/use-cases/endpoints.js';
import { putModelEndpoint } from '../../core/use-cases/model-endpoints.js';
import type { FakeDeps } from './deps.js';
import { runWorkflow, type WorkflowOutcome } from './workflow-driver.js';

export const PROJECT = 'fraud-detection';
export const MODEL = 'iris';
export const MODEL_KEY: ModelKey = { project: PROJECT, model: MODEL };
export const versionKey = (version: number, model: ModelKey = MODEL_KEY): VersionKey => ({ ...model, version });
export const endpointKey = (version: number, environment = 'local', model: ModelKey = MODEL_KEY): EndpointKey => ({
  ...model,
  version,
  environment,
});
export const modelEndpointKey = (environment = 'local', model: ModelKey = MODEL_KEY): ModelEndpointKey => ({
  ...model,
  environment,
});

/** The bytes of a tiny "model" (content does not matter to the control plane). */
export const MODEL_BYTES = 'ONNX\u0000fake-model-bytes';

/** Creates the project and model when missing. */
export async function givenModel(
  deps: FakeDeps,
  options: { model?: ModelKey; type?: ModelType } = {},
): Promise<ModelKey> {
  const key = options.model ?? MODEL_KEY;
  if (!deps.projects.peek({ project: key.project })) await createProject(deps, { name: key.project });
  if (!deps.models.peek(key)) await createModel(deps, key, { name: key.model, type: options.type ?? 'onnx' });
  return key;
}

/** Uploads files into the fake bucket under a version's prefix, as a client does with the presigned URLs. */
export function uploadFiles(deps: FakeDeps, key: VersionKey, files: Record<string, string>) {
  return Object.entries(files).map(([path, content]) => ({
    path,
    ...deps.artifacts.putObject(artifactPrefix(key) + path, content),
  }));
}

/** Creates the next version of the model; by default with a complete artifact holding `model.onnx`. */
export async function givenVersion(
  deps: FakeDeps,
  options: { model?: ModelKey; type?: ModelType; files?: Record<string, string>; complete?: boolean } = {},
): Promise<ModelVersion> {
  const model = await givenModel(deps, options);
  const version = await createVersion(deps, model, {});
  if (options.complete === false) return version;
  const key = versionKey(version.version, model);
  const files = uploadFiles(deps, key, options.files ?? { [version.modelFile]: MODEL_BYTES });
  return completeArtifact(deps, key, { files });
}

/** Deploys a version and runs its workflow to the end. */
export async function deployAndRun(
  deps: FakeDeps,
  key: EndpointKey,
): Promise<{ deployment: Deployment; outcome: WorkflowOutcome; endpoint: VersionEndpoint }> {
  const deployment = await deployVersion(deps, key, { environment: key.environment });
  const outcome = await runWorkflow(deps, deployment.id);
  return { deployment, outcome, endpoint: deps.endpoints.peek(key)! };
}

/** A version with a complete artifact and a running endpoint in `environment`. */
export async function givenRunningVersion(
  deps: FakeDeps,
  options: { environment?: string; model?: ModelKey } = {},
): Promise<VersionEndpoint> {
  const version = await givenVersion(deps, options);
  const key = endpointKey(version.version, options.environment ?? 'local', options.model ?? MODEL_KEY);
  const { outcome, endpoint } = await deployAndRun(deps, key);
  if (outcome.status !== 'succeeded' || endpoint.status !== 'running') {
    throw new Error(`arrange failed: deploy ${JSON.stringify(outcome.error)}`);
  }
  return endpoint;
}

/** Undeploys a version endpoint and runs the workflow. */
export async function undeployAndRun(deps: FakeDeps, key: EndpointKey) {
  const deployment = await undeployVersion(deps, key);
  const outcome = await runWorkflow(deps, deployment.id);
  return { deployment, outcome, endpoint: deps.endpoints.peek(key)! };
}

/** Sets a model endpoint rule and runs the update-route workflow. */
export async function routeAndRun(deps: FakeDeps, key: ModelEndpointKey, rule: RouteRule) {
  const deployment = await putModelEndpoint(deps, key, { rule });
  const outcome = await runWorkflow(deps, deployment.id);
  return { deployment, outcome, modelEndpoint: deps.modelEndpoints.peek(key)! };
}
