/**
 * The Merlin SDK, browser-safe: `fetch` and WebCrypto only, no AWS SDK, no node: modules. In node, import
 * `sdk/node.ts` instead: the same exports plus `createMerlin` (files from disk, SigV4, env configuration).
 *
 * ```ts
 * const merlin = new Merlin({ url: 'http://127.0.0.1:8080' });
 * await merlin.projects.ensure({ name: 'demo' });
 * await merlin.models.ensure('demo', { name: 'iris', type: 'onnx' });
 * const v = await merlin.logModel({ project: 'demo', model: 'iris' }, { files: [fileFromBytes('model.onnx', bytes)] });
 * await merlin.deploy(v, { onProgress: (e) => console.log(e) });
 * await merlin.serveTraffic(v, { weights: { [v.version]: 100 } });
 * const { body } = await merlin.predict({ project: 'demo', model: 'iris' }, { instances: [[5.1, 3.5, 1.4, 0.2]] });
 * ```
 */
export { type Authenticator, bearer, type RequestToSign } from './auth.js';
export {
  DEFAULT_URL,
  type DeployOptions,
  type FollowOptions,
  type LogModelOptions,
  Merlin,
  type MerlinOptions,
  type Prediction,
  type PredictOptions,
  type RedeployOptions,
  type RequestOptions,
  type TensorMetadata,
  type TrafficSplit,
  type V1Request,
  type V1Response,
  type V2Metadata,
  type V2Request,
  type V2Response,
} from './client.js';
export {
  DeploymentFailedError,
  MerlinApiError,
  MerlinConnectionError,
  MerlinError,
  MerlinTimeoutError,
} from './errors.js';
export { formatBytes, formatDuration, formatRule } from './format.js';
export { PagedList } from './pages.js';
export type { RetryPolicy } from './transport.js';
export type * from './types.js';
export { type ArtifactFile, fileFromBytes, type Sha256, type Sha256Factory, type UploadProgress } from './upload.js';
export type { OnProgress, ProgressEvent, StepStatus, WatchOptions } from './watch.js';
