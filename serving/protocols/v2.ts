/**
 * Open Inference Protocol (KServe V2) REST: request parsing and validation, response shapes.
 * Spec: `reference/open-inference-protocol/open_inference_rest.yaml`.
 *
 * Strictness, beyond the spec's own example: `product(shape)` must equal the number of data elements, the datatype
 * must equal the model's (no coercion), nested data must follow `shape` exactly. FP16/BF16 and the binary tensor
 * extension are not supported (400).
 */
import { BadRequestError } from '../errors.js';
import type { Runtime } from '../runtimes/runtime.js';
import {
  checkShape,
  isDatatype,
  parseShape,
  parseTensorData,
  type Tensor,
  type TensorMetadata,
  toJsonArray,
} from '../tensors.js';
import { isObject, type JsonObject, names, requireObject } from './common.js';

export const SERVER_NAME = 'merlin-model-server';
export const SERVER_VERSION = '0.1.0';

export interface V2InferRequest {
  readonly id: string | undefined;
  readonly inputs: Map<string, Tensor>;
  /** Requested outputs in request order; undefined = all. */
  readonly outputs: string[] | undefined;
  /** The request's `parameters` object (function models see it as `context.parameters`). */
  readonly parameters?: JsonObject | undefined;
}

export function serverMetadata(): { name: string; version: string; extensions: string[] } {
  return { name: SERVER_NAME, version: SERVER_VERSION, extensions: [] };
}

export function modelMetadata(name: string, version: string, runtime: Runtime) {
  const tensor = (t: TensorMetadata) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] });
  return {
    name,
    versions: [version],
    platform: runtime.platform,
    inputs: runtime.inputs.map(tensor),
    outputs: runtime.outputs.map(tensor),
  };
}

function parseInput(raw: unknown, index: number, runtime: Runtime, seen: Set<string>): [string, Tensor] {
  const input = requireObject(raw, `inputs[${index}]`);
  const name = input.name;
  if (typeof name !== 'string') throw new BadRequestError(`inputs[${index}].name must be a string`);
  const meta = runtime.inputs.find((m) => m.name === name);
  if (!meta) throw new BadRequestError(`unknown input '${name}'; the model's inputs are: ${names(runtime.inputs)}`);
  if (seen.has(name)) throw new BadRequestError(`input '${name}' appears more than once`);
  seen.add(name);
  if (isObject(input.parameters) && input.parameters.binary_data_size !== undefined) {
    throw new BadRequestError(`input '${name}': binary tensor data is not supported; send data as JSON`);
  }
  const { datatype } = input;
  if (!isDatatype(datatype)) {
    throw new BadRequestError(
      `input '${name}': unknown datatype ${JSON.stringify(datatype) ?? 'undefined'}, expected ${meta.datatype}`,
    );
  }
  if (datatype !== meta.datatype) {
    throw new BadRequestError(`input '${name}' has datatype ${datatype}, expected ${meta.datatype}`);
  }
  const shape = parseShape(name, input.shape);
  checkShape(meta, shape);
  if (input.data === undefined) throw new BadRequestError(`input '${name}': data is required`);
  return [name, { datatype, shape, data: parseTensorData(name, datatype, shape, input.data, meta.nullable) }];
}

/** Validates an inference request against the model's metadata; throws {@link BadRequestError}. */
export function parseInferRequest(body: unknown, runtime: Runtime): V2InferRequest {
  if (runtime.v2Unavailable !== undefined) throw new BadRequestError(runtime.v2Unavailable);
  const req = requireObject(body, 'request body');
  if (req.id !== undefined && typeof req.id !== 'string') throw new BadRequestError('id must be a string');
  if (req.parameters !== undefined && !isObject(req.parameters)) {
    throw new BadRequestError('parameters must be a JSON object');
  }
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) {
    throw new BadRequestError(`inputs must be a non-empty array (the model's inputs are: ${names(runtime.inputs)})`);
  }
  const seen = new Set<string>();
  const inputs = new Map<string, Tensor>();
  for (let i = 0; i < req.inputs.length; i++) {
    const [name, tensor] = parseInput(req.inputs[i], i, runtime, seen);
    inputs.set(name, tensor);
  }
  for (const meta of runtime.inputs) {
    if (!inputs.has(meta.name)) {
      throw new BadRequestError(`missing input '${meta.name}' (the model's inputs are: ${names(runtime.inputs)})`);
    }
  }
  return { id: req.id, inputs, outputs: parseOutputs(req.outputs, runtime), parameters: req.parameters };
}

function parseOutputs(raw: unknown, runtime: Runtime): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw new BadRequestError('outputs must be an array');
  if (raw.length === 0) return undefined;
  const wanted: string[] = [];
  raw.forEach((o, i) => {
    const name = isObject(o) ? o.name : undefined;
    if (typeof name !== 'string') throw new BadRequestError(`outputs[${i}].name must be a string`);
    if (!runtime.outputs.some((m) => m.name === name)) {
      throw new BadRequestError(`unknown output '${name}'; the model's outputs are: ${names(runtime.outputs)}`);
    }
    if (wanted.includes(name)) throw new BadRequestError(`output '${name}' is requested more than once`);
    if (isObject(o) && isObject(o.parameters) && o.parameters.binary_data === true) {
      throw new BadRequestError(`output '${name}': binary tensor data is not supported`);
    }
    wanted.push(name);
  });
  return wanted;
}

/**
 * `outputsMeta`: the model's outputs (`Runtime.outputs`); an output with class `labels` (an ONNX ZipMap output) gets
 * `parameters: {"labels": "<the labels as a JSON array>"}` (OIP parameter values are strings, numbers or booleans).
 */
export function inferResponse(
  modelName: string,
  modelVersion: string,
  id: string | undefined,
  outputs: ReadonlyMap<string, Tensor>,
  outputsMeta: readonly TensorMetadata[] = [],
) {
  const out = [];
  for (const [name, t] of outputs) {
    const data = toJsonArray(t.datatype, t.data);
    const labels = outputsMeta.find((m) => m.name === name)?.labels;
    out.push(
      labels
        ? { name, datatype: t.datatype, shape: t.shape, parameters: { labels: JSON.stringify(labels) }, data }
        : { name, datatype: t.datatype, shape: t.shape, data },
    );
  }
  return id === undefined
    ? { model_name: modelName, model_version: modelVersion, outputs: out }
    : { model_name: modelName, model_version: modelVersion, id, outputs: out };
}
