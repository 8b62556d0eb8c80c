/**
 * Tensors as the protocols see them: OIP datatypes, shapes, validation of JSON data against a model's input
 * metadata, and conversion of results back to JSON. Runtime-neutral: the ONNX, XGBoost and function runtimes all
 * speak in these types.
 *
 * Validation is strict and happens before any compute. Every error names the input and what was expected:
 * the datatype must equal the model's, the rank must match, fixed dimensions must match (-1 = any), and
 * `product(shape)` must equal the number of data elements. Data may be flat or nested; nested data must follow the
 * shape exactly (no ragged rows).
 */
import { BadRequestError } from './errors.js';

/** OIP tensor datatypes this server can carry (BF16 has no JSON form and no onnxruntime-node type). */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && (DATATYPES as readonly string[]).includes(value);
}

/**
 * Element storage per datatype: BOOL as 0/1 bytes, FP16 as raw IEEE half bits, BYTES as strings,
 * 64-bit integers as BigInt arrays (what onnxruntime takes and returns).
 */
export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | string[];

export interface Tensor {
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** An input or output of a model. `-1` marks a variable (symbolic) dimension. */
export interface TensorMetadata {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  /**
   * FP32/FP64 inputs only: JSON `null` elements are accepted and read as NaN, a missing value (JSON has no NaN; the
   * xgboost runtime treats NaN as missing). Absent or false: `null` is refused like any other non-number.
   */
  readonly nullable?: boolean | undefined;
  /**
   * Outputs only: one class label per column of a [N, C] output whose rows are class probabilities (an ONNX ZipMap
   * output that the onnx runtime turned back into the tensor it read). V1 presents row i as `{"<label>": value, …}`
   * ({@link toLabeledRows}); V2 keeps the tensor and adds `parameters.labels`, the labels JSON-encoded. Numbers for
   * integer labels, strings otherwise.
   */
  readonly labels?: readonly (string | number)[] | undefined;
}

export function allocate(datatype: Datatype, size: number): TensorData {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(size);
    case 'INT8':
      return new Int8Array(size);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(size);
    case 'INT16':
      return new Int16Array(size);
    case 'UINT32':
      return new Uint32Array(size);
    case 'INT32':
      return new Int32Array(size);
    case 'UINT64':
      return new BigUint64Array(size);
    case 'INT64':
      return new BigInt64Array(size);
    case 'FP32':
      return new Float32Array(size);
    case 'FP64':
      return new Float64Array(size);
    case 'BYTES':
      return new Array<string>(size).fill('');
  }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A zero tensor for warm-up: variable dimensions become 1. */
export function zeros(meta: TensorMetadata): Tensor {
  const shape = meta.shape.map((d) => (d < 0 ? 1 : d));
  return { datatype: meta.datatype, shape, data: allocate(meta.datatype, shapeSize(shape)) };
}

/**
 * Checks a request shape against the model's: every dimension a non-negative integer, the same rank, fixed
 * dimensions equal.
 */
export function checkShape(meta: TensorMetadata, shape: readonly number[]): void {
  let ok = shape.length === meta.shape.length;
  for (let i = 0; ok && i < shape.length; i++) {
    const expected = meta.shape[i] as number;
    ok = expected < 0 || shape[i] === expected;
  }
  if (!ok) {
    throw new BadRequestError(
      `input '${meta.name}' has shape ${formatShape(shape)}, expected ${formatShape(meta.shape)} (-1 = any size)`,
    );
  }
}

/** Parses an OIP `shape`: an array of non-negative integers. */
export function parseShape(name: string, value: unknown): number[] {
  if (!Array.isArray(value) || !value.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new BadRequestError(
      `input '${name}': shape must be an array of non-negative integers, got ${preview(value)}`,
    );
  }
  return value as number[];
}

// ---- writing JSON elements into typed storage ------------------------------------------------------------------
// Module-level functions, no per-request closures: this is the request hot path.

const INT_RANGES: Partial<Record<Datatype, readonly [number, number]>> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  UINT16: [0, 65535],
  INT16: [-32768, 32767],
  UINT32: [0, 4294967295],
  INT32: [-2147483648, 2147483647],
  // Upper bounds of the 64-bit types are exclusive: 2^63 and 2^64 are the first values that do not fit.
  UINT64: [0, 2 ** 64],
  INT64: [-(2 ** 63), 2 ** 63],
};

/** What a datatype accepts, for error messages. */
export function expectedElement(datatype: Datatype, nullable = false): string {
  if (nullable && (datatype === 'FP32' || datatype === 'FP64')) return `a number or null (${datatype}; null = missing)`;
  switch (datatype) {
    case 'FP16':
    case 'FP32':
    case 'FP64':
      return `a number (${datatype})`;
    case 'BOOL':
      return 'true or false (BOOL)';
    case 'BYTES':
      return 'a string (BYTES)';
    case 'UINT64':
      return 'an integer in [0, 18446744073709551615] (UINT64)';
    case 'INT64':
      return 'an integer in [-9223372036854775808, 9223372036854775807] (INT64)';
    default: {
      const [lo, hi] = INT_RANGES[datatype] as readonly [number, number];
      return `an integer in [${lo}, ${hi}] (${datatype})`;
    }
  }
}

/** Writes one JSON element at `target[i]`; false when it does not fit the datatype. */
function writeElement(datatype: Datatype, target: TensorData, i: number, v: unknown): boolean {
  switch (datatype) {
    case 'FP32':
    case 'FP64':
      if (typeof v !== 'number') return false;
      (target as Float32Array)[i] = v;
      return true;
    case 'BOOL':
      if (typeof v !== 'boolean') return false;
      (target as Uint8Array)[i] = v ? 1 : 0;
      return true;
    case 'BYTES':
      if (typeof v !== 'string') return false;
      (target as string[])[i] = v;
      return true;
    case 'INT64':
    case 'UINT64': {
      const [lo, hi] = INT_RANGES[datatype] as readonly [number, number];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v >= hi) return false;
      (target as BigInt64Array)[i] = BigInt(v);
      return true;
    }
    case 'FP16':
      return false; // no standard JSON form (OIP); refused before data is read
    default: {
      const [lo, hi] = INT_RANGES[datatype] as readonly [number, number];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) return false;
      (target as Int32Array)[i] = v;
      return true;
    }
  }
}

/** Writes `null` as NaN (a missing value) for nullable FP32/FP64 inputs; false otherwise. */
function writeMissing(nullable: boolean | undefined, datatype: Datatype, target: TensorData, i: number, v: unknown) {
  if (v !== null || !nullable || (datatype !== 'FP32' && datatype !== 'FP64')) return false;
  (target as Float32Array)[i] = Number.NaN;
  return true;
}

function preview(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Where nested data is, for error messages; `path` is allocated once per tensor, not per row. */
interface Cursor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly target: TensorData;
  /** `null` elements are missing values (NaN); see {@link TensorMetadata.nullable}. */
  readonly nullable?: boolean | undefined;
  /** e.g. `data` or `instances[3]`. */
  where: string;
  readonly path: number[];
}

function locate(c: Cursor, depth: number): string {
  let s = c.where;
  for (let i = 0; i < depth; i++) s += `[${c.path[i]}]`;
  return s;
}

/**
 * Writes nested JSON `node`, which must follow `shape` exactly, into `c.target` from `offset`; returns the next
 * offset. Throws {@link BadRequestError} naming the input and the position.
 */
function writeNested(c: Cursor, node: unknown, shape: readonly number[], depth: number, offset: number): number {
  if (depth === shape.length) {
    if (
      !writeElement(c.datatype, c.target, offset, node) &&
      !writeMissing(c.nullable, c.datatype, c.target, offset, node)
    ) {
      throw new BadRequestError(
        `input '${c.name}': ${locate(c, depth)} is ${preview(node)}, expected ${expectedElement(c.datatype, c.nullable)}`,
      );
    }
    return offset + 1;
  }
  const expected = shape[depth] as number;
  if (!Array.isArray(node) || node.length !== expected) {
    const got = Array.isArray(node) ? `${node.length} elements` : preview(node);
    throw new BadRequestError(
      `input '${c.name}': ${locate(c, depth)} has ${got}, expected ${expected} elements ` +
        `(ragged or mis-shaped data; expected shape ${formatShape(shape)})`,
    );
  }
  let off = offset;
  for (let i = 0; i < expected; i++) {
    c.path[depth] = i;
    off = writeNested(c, node[i], shape, depth + 1, off);
  }
  return off;
}

function refuseFp16(name: string, datatype: Datatype): void {
  if (datatype === 'FP16') {
    throw new BadRequestError(`input '${name}': FP16 has no JSON representation; FP16 inputs are not supported`);
  }
}

/**
 * Reads OIP `data` (flat or nested, row-major) for an input whose datatype and shape were already checked against
 * the model. Flat data needs exactly `product(shape)` elements; nested data must follow the shape. `nullable`: the
 * input's {@link TensorMetadata.nullable}.
 */
export function parseTensorData(
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  data: unknown,
  nullable?: boolean,
): TensorData {
  refuseFp16(name, datatype);
  if (!Array.isArray(data)) {
    throw new BadRequestError(`input '${name}': data must be an array, got ${preview(data)}`);
  }
  const size = shapeSize(shape);
  const target = allocate(datatype, size);
  if (shape.length > 1 && data.length > 0 && Array.isArray(data[0])) {
    const cursor: Cursor = { name, datatype, target, nullable, where: 'data', path: new Array(shape.length).fill(0) };
    writeNested(cursor, data, shape, 0, 0);
    return target;
  }
  if (data.length !== size) {
    throw new BadRequestError(
      `input '${name}': shape ${formatShape(shape)} needs ${size} elements, got ${data.length} ` +
        `(data must have product(shape) elements)`,
    );
  }
  for (let i = 0; i < size; i++) {
    if (!writeElement(datatype, target, i, data[i]) && !writeMissing(nullable, datatype, target, i, data[i])) {
      throw new BadRequestError(
        `input '${name}': data[${i}] is ${preview(data[i])}, expected ${expectedElement(datatype, nullable)}`,
      );
    }
  }
  return target;
}

/**
 * Builds one input tensor from V1 rows (one JSON value per instance). The row shape is read from the first row and
 * must fit the model's dimensions after the batch dimension; every other row must have the same shape.
 * `rowWhere(i)` names row i in errors (e.g. `instances[2]`); it is only called on errors.
 */
export function tensorFromRows(
  meta: TensorMetadata,
  rows: readonly unknown[],
  rowWhere: (i: number) => string,
): Tensor {
  refuseFp16(meta.name, meta.datatype);
  if (meta.shape.length === 0) {
    throw new BadRequestError(`input '${meta.name}' is a scalar (shape []); the V1 protocol needs a batch dimension`);
  }
  const rowRank = meta.shape.length - 1;
  const rowShape: number[] = [];
  let node: unknown = rows[0];
  for (let d = 0; d < rowRank; d++) {
    if (!Array.isArray(node)) break;
    rowShape.push(node.length);
    node = node[0];
  }
  let fits = rowShape.length === rowRank;
  for (let i = 0; fits && i < rowRank; i++) {
    const expected = meta.shape[i + 1] as number;
    fits = expected < 0 || rowShape[i] === expected;
  }
  if (!fits) {
    throw new BadRequestError(
      `input '${meta.name}': ${rowWhere(0)} has shape ${formatShape(rowShape)}, expected each instance to have shape ` +
        `${formatShape(meta.shape.slice(1))} (model input shape ${formatShape(meta.shape)}, -1 = any size)`,
    );
  }
  const n = rows.length;
  const rowSize = shapeSize(rowShape);
  const data = allocate(meta.datatype, n * rowSize);
  const shape = [n, ...rowShape];
  checkShape(meta, shape);
  if (rowRank === 1 && (meta.datatype === 'FP32' || meta.datatype === 'FP64')) {
    // Fast path for the common case (a batch of feature vectors): plain loops, no recursion.
    const target = data as Float32Array | Float64Array;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      if (Array.isArray(row) && row.length === rowSize) {
        let j = 0;
        for (; j < rowSize; j++) {
          const v = row[j];
          if (typeof v !== 'number') break;
          target[k++] = v;
        }
        if (j === rowSize) continue;
      }
      // Invalid row (or nulls of a nullable input): the generic walk writes it or throws the precise error.
      const c: Cursor = {
        name: meta.name,
        datatype: meta.datatype,
        target,
        nullable: meta.nullable,
        where: rowWhere(i),
        path: [0],
      };
      writeNested(c, row, rowShape, 0, i * rowSize);
      k = (i + 1) * rowSize; // the walk wrote the whole row
    }
    return { datatype: meta.datatype, shape, data };
  }
  const c: Cursor = {
    name: meta.name,
    datatype: meta.datatype,
    target: data,
    nullable: meta.nullable,
    where: '',
    path: new Array(rowRank),
  };
  for (let i = 0; i < n; i++) {
    if (rowRank === 0) {
      if (writeElement(meta.datatype, data, i, rows[i])) continue;
    }
    c.where = rowWhere(i);
    writeNested(c, rows[i], rowShape, 0, i * rowSize);
  }
  return { datatype: meta.datatype, shape, data };
}

// ---- reading results back to JSON ------------------------------------------------------------------------------

/** IEEE 754 half (raw bits) to number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

export type JsonScalar = number | boolean | string;

/**
 * Elements `[start, end)` as JSON values: 64-bit integers become numbers (exact up to 2^53), BOOL becomes
 * true/false, FP16 becomes numbers. Non-finite floats become `null` in JSON, as `JSON.stringify` does.
 */
export function toJsonArray(datatype: Datatype, data: TensorData, start = 0, end = data.length): JsonScalar[] {
  if (Array.isArray(data)) return data.slice(start, end);
  const out: JsonScalar[] = new Array(end - start);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = start; i < end; i++) out[i - start] = Number(data[i]);
  } else if (datatype === 'BOOL') {
    for (let i = start; i < end; i++) out[i - start] = data[i] !== 0;
  } else if (datatype === 'FP16') {
    for (let i = start; i < end; i++) out[i - start] = halfToNumber(data[i] as number);
  } else {
    for (let i = start; i < end; i++) out[i - start] = data[i] as number;
  }
  return out;
}

export type JsonNested = JsonScalar | JsonNested[];

function nest(c: { datatype: Datatype; data: TensorData }, shape: readonly number[], depth: number, offset: number) {
  const size = shape[depth] as number;
  if (depth === shape.length - 1) return toJsonArray(c.datatype, c.data, offset, offset + size);
  const stride = shapeSize(shape.slice(depth + 1));
  const out: JsonNested[] = new Array(size);
  for (let i = 0; i < size; i++) out[i] = nest(c, shape, depth + 1, offset + i * stride);
  return out;
}

/**
 * Splits a tensor along its first dimension: row i as nested JSON (a scalar for rank-1 tensors).
 * A rank-0 tensor is one row holding its value.
 */
export function toJsonRows(tensor: Tensor): JsonNested[] {
  if (tensor.shape.length <= 1) return toJsonArray(tensor.datatype, tensor.data);
  const n = tensor.shape[0] as number;
  const rowShape = tensor.shape.slice(1);
  const rowSize = shapeSize(rowShape);
  const rows: JsonNested[] = new Array(n);
  if (rowShape.length === 1) {
    for (let i = 0; i < n; i++) rows[i] = toJsonArray(tensor.datatype, tensor.data, i * rowSize, (i + 1) * rowSize);
  } else {
    for (let i = 0; i < n; i++) rows[i] = nest(tensor, rowShape, 0, i * rowSize);
  }
  return rows;
}

/**
 * A [N, C] tensor whose columns are named by `labels` (see {@link TensorMetadata.labels}): row i as the JSON object
 * `{"<label i>": value, …}`. Keys are the labels as strings (JSON object keys must be); objects have no prototype, so
 * any label, `__proto__` included, is an ordinary key.
 */
export function toLabeledRows(tensor: Tensor, labels: readonly (string | number)[]): Record<string, JsonScalar>[] {
  const c = labels.length;
  if (tensor.shape.length !== 2 || tensor.shape[1] !== c) {
    throw new Error(
      `a tensor of shape ${formatShape(tensor.shape)} cannot be keyed by ${c} labels (expected [N, ${c}])`,
    );
  }
  const keys = labels.map(String);
  const values = toJsonArray(tensor.datatype, tensor.data);
  const n = tensor.shape[0] as number;
  const rows: Record<string, JsonScalar>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = Object.create(null) as Record<string, JsonScalar>;
    for (let j = 0; j < c; j++) row[keys[j] as string] = values[i * c + j] as JsonScalar;
    rows[i] = row;
  }
  return rows;
}
