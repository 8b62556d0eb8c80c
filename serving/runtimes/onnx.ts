/**
 * The onnx runtime: onnxruntime-node on the CPU. Platform `onnx_onnxv1`.
 *
 * Classifiers whose probability output is a ZipMap (`seq(map(label, float))`, as skl2onnx writes them) are served
 * from a rewritten graph in which that output is the FP32 [N, C] tensor the ZipMap read, with the class labels in its
 * metadata (onnx-rewrite.ts): the protocols turn its rows back into `{"<label>": probability}` objects (V1) or add the
 * labels as an output parameter (V2).
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { BadRequestError } from '../errors.js';
import { errorMessage } from '../log.js';
import type { Datatype, Tensor, TensorMetadata } from '../tensors.js';
import { type ClassLabel, rewriteZipMapOutputs } from './onnx-rewrite.js';
import { ModelLoadError, type Runtime, type RuntimeOptions } from './runtime.js';

export interface OnnxOptions extends RuntimeOptions {
  readonly intraOpNumThreads?: number | undefined;
  readonly interOpNumThreads?: number | undefined;
  /** onnxruntime's own stderr logging, 0 (verbose) … 4 (fatal). */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

const FROM_ORT: Partial<Record<ort.Tensor.Type, Datatype>> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

const TO_ORT: Record<Datatype, ort.Tensor.Type> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

function toMetadata(
  kind: 'input' | 'output',
  m: ort.InferenceSession.ValueMetadata,
  labels?: readonly ClassLabel[],
): TensorMetadata {
  if (!m.isTensor) {
    throw new ModelLoadError(
      `${kind} '${m.name}' is not a tensor: sequences and maps are supported only as the ZipMap output of a classifier`,
    );
  }
  const datatype = FROM_ORT[m.type];
  if (!datatype) throw new ModelLoadError(`${kind} '${m.name}' has element type ${m.type}, which is not supported`);
  // Symbolic ('N') and unknown ('') dimensions are variable: -1 in OIP metadata.
  const shape = m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  return labels ? { name: m.name, datatype, shape, labels } : { name: m.name, datatype, shape };
}

/** A symbolic dimension (e.g. `N`) that several inputs share: their sizes there must agree. */
interface SharedDimension {
  readonly symbol: string;
  /** [input name, axis] pairs. */
  readonly uses: readonly (readonly [string, number])[];
}

function sharedDimensions(inputs: readonly ort.InferenceSession.ValueMetadata[]): SharedDimension[] {
  const uses = new Map<string, [string, number][]>();
  for (const m of inputs) {
    if (!m.isTensor) continue;
    m.shape.forEach((d, axis) => {
      if (typeof d !== 'string' || d === '') return;
      const list = uses.get(d) ?? [];
      list.push([m.name, axis]);
      uses.set(d, list);
    });
  }
  return [...uses].filter(([, list]) => list.length > 1).map(([symbol, list]) => ({ symbol, uses: list }));
}

/**
 * Requests can be merged along dimension 0 when every input starts with the same variable dimension (one symbol,
 * so the inputs' rows line up) and every output starts with a variable dimension. The batcher still checks each
 * result's first dimension before splitting it.
 */
function isBatchable(
  inputs: readonly ort.InferenceSession.ValueMetadata[],
  outputs: readonly TensorMetadata[],
): boolean {
  if (inputs.length === 0 || outputs.length === 0) return false;
  const first = inputs.map((m) => (m.isTensor ? m.shape[0] : undefined));
  const variable = (d: unknown) => d !== undefined && !(typeof d === 'number' && d >= 0);
  if (!first.every(variable)) return false;
  if (first.length > 1 && !first.every((d) => typeof d === 'string' && d !== '' && d === first[0])) return false;
  return outputs.every((m) => m.shape.length > 0 && m.shape[0] === -1);
}

export class OnnxRuntime implements Runtime {
  readonly platform = 'onnx_onnxv1';
  readonly batchable: boolean;
  private readonly shared: readonly SharedDimension[];

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputs: readonly TensorMetadata[],
    readonly outputs: readonly TensorMetadata[],
  ) {
    this.shared = sharedDimensions(session.inputMetadata);
    this.batchable = isBatchable(session.inputMetadata, outputs);
  }

  static async load(options: OnnxOptions): Promise<OnnxRuntime> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      logSeverityLevel: options.logSeverityLevel ?? 4,
    };
    if (options.intraOpNumThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpNumThreads;
    if (options.interOpNumThreads !== undefined) sessionOptions.interOpNumThreads = options.interOpNumThreads;
    const create = async (model: string | Uint8Array) => {
      try {
        return typeof model === 'string'
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
      } catch (err) {
        throw new ModelLoadError(`onnxruntime: ${errorMessage(err)}`);
      }
    };
    // From the path (not bytes), so external data files are found next to the model.
    let session = await create(options.modelPath);
    const labels = new Map<string, readonly ClassLabel[]>();
    try {
      if (session.outputMetadata.some((m) => !m.isTensor)) {
        // Read the bytes only for models that need the rewrite (classifiers with ZipMap outputs are small).
        const rewrite = rewriteZipMapOutputs(new Uint8Array(await readFile(options.modelPath)));
        if (rewrite) {
          await session.release().catch(() => undefined);
          session = await create(rewrite.model);
          for (const o of rewrite.outputs) labels.set(o.name, o.labels);
        }
      }
      const inputs = session.inputMetadata.map((m) => toMetadata('input', m));
      const outputs = session.outputMetadata.map((m) => toMetadata('output', m, labels.get(m.name)));
      return new OnnxRuntime(session, inputs, outputs);
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err instanceof ModelLoadError ? err : new ModelLoadError(`onnxruntime: ${errorMessage(err)}`);
    }
  }

  async infer(inputs: ReadonlyMap<string, Tensor>, outputs?: readonly string[]): Promise<Map<string, Tensor>> {
    if (this.shared.length > 0) this.checkSharedDimensions(inputs);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of inputs) {
      feeds[name] = new ort.Tensor(TO_ORT[t.datatype], t.data as ort.Tensor.DataType, t.shape);
    }
    const results = outputs ? await this.session.run(feeds, outputs) : await this.session.run(feeds);
    const names = outputs ?? this.session.outputNames;
    const out = new Map<string, Tensor>();
    for (const name of names) {
      const value = results[name];
      if (!value) throw new Error(`onnxruntime returned no output '${name}'`);
      const datatype = FROM_ORT[value.type];
      if (!datatype) throw new Error(`output '${name}' has element type ${value.type}, which is not supported`);
      out.set(name, { datatype, shape: value.dims, data: value.data as Tensor['data'] });
    }
    return out;
  }

  /** Inputs that share a symbolic dimension must agree on its size (400 rather than an onnxruntime failure). */
  private checkSharedDimensions(inputs: ReadonlyMap<string, Tensor>): void {
    for (const { symbol, uses } of this.shared) {
      let size: number | undefined;
      let from = '';
      for (const [name, axis] of uses) {
        const d = inputs.get(name)?.shape[axis];
        if (d === undefined) continue;
        if (size === undefined) {
          size = d;
          from = name;
        } else if (d !== size) {
          throw new BadRequestError(
            `inputs '${from}' and '${name}' must have the same size in dimension '${symbol}': ${size} and ${d}`,
          );
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
