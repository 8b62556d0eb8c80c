/**
 * The contract between the protocol layer and a model runtime (onnx now; xgboost and function later).
 * The protocols validate requests against `inputs` before calling `infer`, so a runtime receives exactly one tensor
 * per declared input, with the declared datatype and a shape that fits.
 */
import type { Tensor, TensorMetadata } from '../tensors.js';

export interface Runtime {
  /** OIP platform string, `<framework>_<format>`, e.g. `onnx_onnxv1`. */
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /**
   * True when requests may be merged into one call (adaptive batching, `batching.ts`): inputs concatenated along
   * dimension 0 and each output split back by rows. That needs a variable first dimension on every input and output
   * and rows that do not influence each other. Absent or false: the server never merges requests for this runtime.
   */
  readonly batchable?: boolean;
  /**
   * Runs the model. `outputs` names the outputs wanted, in the order wanted (all, in `this.outputs` order, when
   * omitted). Throws on runtime failures; the server answers those with 500. Input the metadata could not rule out
   * but the model cannot take (e.g. inputs disagreeing on a shared dimension) throws `BadRequestError` (errors.ts): 400.
   */
  infer(
    inputs: ReadonlyMap<string, Tensor>,
    outputs?: readonly string[],
    options?: InferOptions,
  ): Promise<Map<string, Tensor>>;
  /**
   * Optional, for models that take and return any JSON (function models): a V1 predict with the rows exactly as sent
   * (`instances` or `inputs`), answered with one prediction per row; the server skips tensor conversion. An
   * `HttpError` it throws keeps its status (e.g. 504 when the model's own time limit passes).
   */
  predictJson?(rows: readonly unknown[], options?: InferOptions): Promise<unknown[]>;
  /** Optional: why this model cannot answer V2 inference (400 with this message), e.g. no tensor metadata. */
  readonly v2Unavailable?: string | undefined;
  /** Optional: the runtime's own warm-up, instead of one inference on zeros shaped like `inputs`. */
  warmUp?(): Promise<void>;
  /** Releases native resources. */
  close(): Promise<void>;
}

/** Per-request extras a runtime may use. */
export interface InferOptions {
  /** The request's `parameters` object, when it has one (function models see it as `context.parameters`). */
  readonly parameters?: Readonly<Record<string, unknown>> | undefined;
}

export interface RuntimeOptions {
  /** Absolute path of the model file (inside `artifactDir`). */
  readonly modelPath: string;
  /** Absolute path of the artifact root (external data files, function modules' siblings, ...). */
  readonly artifactDir: string;
}

/**
 * The model cannot be loaded. The message is precise and user-facing; the server logs it as
 * `model failed to load: <message>` and the platform shows it as the deployment's failure reason.
 */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}
