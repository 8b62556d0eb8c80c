/**
 * KServe V1 (TF-Serving style, Merlin's HTTP_JSON): `{"instances": [...]}` or `{"inputs": ...}` → `{"predictions"}`.
 *
 * Request forms (for `instances` and `inputs` alike):
 * - rows as arrays (or scalars for rank-1 inputs): one row per instance, for single-input models;
 * - rows as objects keyed by input name: `{"x": [1, 2], "k": 3}`, for any model;
 * - `inputs` only: an object of columns, `{"x": [[1, 2], ...], "k": [3, ...]}` (TF-Serving's columnar form).
 * Each row must have the model's shape without its batch dimension; all rows the same shape.
 *
 * Response: for one output, `predictions[i]` is row i of that output; for several, `predictions[i]` is
 * `{outputName: row_i, ...}`. 64-bit integers become JSON numbers. A row of an output with class labels (an ONNX
 * ZipMap output) is the object `{"<label>": probability, ...}`.
 */
import { BadRequestError } from '../errors.js';
import type { Runtime } from '../runtimes/runtime.js';
import {
  type JsonNested,
  type JsonScalar,
  type Tensor,
  type TensorMetadata,
  tensorFromRows,
  toJsonRows,
  toLabeledRows,
} from '../tensors.js';
import { isObject, type JsonObject, names, requireObject } from './common.js';

/** One row of one output in `predictions`: nested JSON, or an object keyed by class label. */
type Row = JsonNested | Record<string, JsonScalar>;

/** Validates a predict request against the model's inputs and builds one tensor per input. */
export function parsePredictRequest(body: unknown, runtime: Runtime): Map<string, Tensor> {
  const { key, value } = requestRows(body);
  if (key === 'inputs' && isObject(value)) return fromColumns(value, runtime);
  if (!Array.isArray(value)) throw new BadRequestError(`${key} must be a list of rows`);
  if (value.length === 0) throw new BadRequestError(`${key} must not be empty`);
  return isObject(value[0]) ? fromObjectRows(key, value, runtime) : fromArrayRows(key, value, runtime);
}

/** The request object, and which of `instances` / `inputs` it carries (exactly one). */
function requestRows(body: unknown): { req: JsonObject; key: 'instances' | 'inputs'; value: unknown } {
  const req = requireObject(body, 'request body');
  const hasInstances = req.instances !== undefined;
  const hasInputs = req.inputs !== undefined;
  if (hasInstances && hasInputs) throw new BadRequestError('send either "instances" or "inputs", not both');
  if (!hasInstances && !hasInputs) {
    throw new BadRequestError('request body must have "instances" (a list of rows) or "inputs"');
  }
  return hasInstances ? { req, key: 'instances', value: req.instances } : { req, key: 'inputs', value: req.inputs };
}

/**
 * For models of any JSON (function models, `Runtime.predictJson`): the rows exactly as sent (`instances` or
 * `inputs`, a non-empty list of any JSON) and the request's optional `parameters` object.
 */
export function parseJsonPredictRequest(body: unknown): { rows: unknown[]; parameters: JsonObject | undefined } {
  const { req, key, value } = requestRows(body);
  if (!Array.isArray(value)) throw new BadRequestError(`${key} must be a list of rows`);
  if (value.length === 0) throw new BadRequestError(`${key} must not be empty`);
  if (req.parameters !== undefined && !isObject(req.parameters)) {
    throw new BadRequestError('parameters must be a JSON object');
  }
  return { rows: value, parameters: req.parameters };
}

function fromArrayRows(key: string, rows: unknown[], runtime: Runtime): Map<string, Tensor> {
  const [meta, ...more] = runtime.inputs;
  if (!meta) throw new BadRequestError('the model has no inputs');
  if (more.length > 0) {
    throw new BadRequestError(
      `the model has ${runtime.inputs.length} inputs (${names(runtime.inputs)}); ` +
        `each of ${key} must be an object keyed by input name`,
    );
  }
  return new Map([[meta.name, tensorFromRows(meta, rows, (i) => `${key}[${i}]`)]]);
}

function fromObjectRows(key: string, rows: unknown[], runtime: Runtime): Map<string, Tensor> {
  const columns = new Map<string, unknown[]>(runtime.inputs.map((m) => [m.name, new Array(rows.length)]));
  rows.forEach((row, i) => {
    if (!isObject(row)) {
      throw new BadRequestError(`${key}[${i}] must be an object keyed by input name, like ${key}[0]`);
    }
    for (const name of Object.keys(row)) {
      if (!columns.has(name)) {
        throw new BadRequestError(
          `${key}[${i}] has unknown input '${name}'; the model's inputs are: ${names(runtime.inputs)}`,
        );
      }
    }
    for (const [name, column] of columns) {
      const v = row[name];
      if (v === undefined) throw new BadRequestError(`${key}[${i}] is missing input '${name}'`);
      column[i] = v;
    }
  });
  const tensors = new Map<string, Tensor>();
  for (const meta of runtime.inputs) {
    const column = columns.get(meta.name) as unknown[];
    tensors.set(
      meta.name,
      tensorFromRows(meta, column, (i) => `${key}[${i}].${meta.name}`),
    );
  }
  return tensors;
}

function fromColumns(columns: Record<string, unknown>, runtime: Runtime): Map<string, Tensor> {
  for (const name of Object.keys(columns)) {
    if (!runtime.inputs.some((m) => m.name === name)) {
      throw new BadRequestError(`inputs has unknown input '${name}'; the model's inputs are: ${names(runtime.inputs)}`);
    }
  }
  const tensors = new Map<string, Tensor>();
  let batch: number | undefined;
  for (const meta of runtime.inputs) {
    const column = columns[meta.name];
    if (column === undefined) throw new BadRequestError(`inputs is missing input '${meta.name}'`);
    if (!Array.isArray(column)) throw new BadRequestError(`inputs.${meta.name} must be a list of rows`);
    if (column.length === 0) throw new BadRequestError(`inputs.${meta.name} must not be empty`);
    if (batch !== undefined && column.length !== batch) {
      throw new BadRequestError(`inputs.${meta.name} has ${column.length} rows, but other inputs have ${batch}`);
    }
    batch = column.length;
    tensors.set(
      meta.name,
      tensorFromRows(meta, column, (i) => `inputs.${meta.name}[${i}]`),
    );
  }
  return tensors;
}

/**
 * `outputsMeta`: the model's outputs (`Runtime.outputs`); an output with class `labels` has each row presented as
 * `{"<label>": value, …}` (an ONNX ZipMap output).
 */
export function predictResponse(
  modelName: string,
  modelVersion: string,
  outputs: ReadonlyMap<string, Tensor>,
  outputsMeta: readonly TensorMetadata[] = [],
) {
  const rowsOf = (name: string, t: Tensor): Row[] => {
    const labels = outputsMeta.find((m) => m.name === name)?.labels;
    return labels ? toLabeledRows(t, labels) : toJsonRows(t);
  };
  let predictions: unknown[];
  if (outputs.size === 1) {
    const [name, t] = outputs.entries().next().value as [string, Tensor];
    predictions = rowsOf(name, t);
  } else {
    const rowsByOutput: [string, Row[]][] = [];
    for (const [name, t] of outputs) rowsByOutput.push([name, rowsOf(name, t)]);
    const n = rowsByOutput[0]?.[1].length ?? 0;
    predictions = new Array(n);
    for (let i = 0; i < n; i++) {
      const row: Record<string, Row | undefined> = {};
      for (const [name, rows] of rowsByOutput) row[name] = rows[i];
      predictions[i] = row;
    }
  }
  return { predictions, model_name: modelName, model_version: modelVersion };
}
