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
  const ok =
    shape.length === meta.shape.length &&
    shape.every((d, i) => {
      const expected = meta.shape[i] as number;
      return expected < 0 || d === expected;
    });
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

/** Writes one JSON element at an index; returns false when the element does not fit the datatype. */
type ElementWriter = (value: unknown, index: number) => boolean;

const INT_RANGES: Partial<Record<Datatype, readonly [number, number]>> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  UINT16: [0, 65535],
  INT16: [-32768, 32767],
  UINT32: [0, 4294967295],
  INT32: [-2147483648, 2147483647],
  UINT64: [0, 2 ** 64],
  INT64: [-(2 ** 63), 2 ** 63],
};

/** What a datatype accepts, for error messages. */
export function expectedElement(datatype: Datatype): string {
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

function writerFor(datatype: Datatype, target: TensorData): ElementWriter {
  switch (datatype) {
    case 'FP32':
    case 'FP64': {
      const t = target as Float32Array | Float64Array;
      return (v, i) => {
        if (typeof v !== 'number') return false;
        t[i] = v;
        return true;
      };
    }
    case 'BOOL': {
      const t = target as Uint8Array;
      return (v, i) => {
        if (typeof v !== 'boolean') return false;
        t[i] = v ? 1 : 0;
        return true;
      };
    }
    case 'BYTES': {
      const t = target as string[];
      return (v, i) => {
        if (typeof v !== 'string') return false;
        t[i] = v;
        return true;
      };
    }
    case 'INT64':
    case 'UINT64': {
      const t = target as BigInt64Array | BigUint64Array;
      const [lo, hi] = INT_RANGES[datatype] as readonly [number, number];
      return (v, i) => {
        // hi is exclusive: 2^63 and 2^64 are the first values that do not fit.
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v >= hi) return false;
        t[i] = BigInt(v);
        return true;
      };
    }
    case 'FP16':
      // No standard JSON form (OIP): such inputs are refused before data is read, see parseTensorData.
      return () => false;
    default: {
      const t = target as Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;
      const [lo, hi] = INT_RANGES[datatype] as readonly [number, number];
      return (v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) return false;
        t[i] = v;
        return true;
      };
    }
  }
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

function locate(base: string, path: readonly number[], depth: number): string {
  let s = base;
  for (let i = 0; i < depth; i++) s += `[${path[i]}]`;
  return s;
}

/**
 * Writes nested JSON `node` (which must follow `shape` exactly) into storage from `offset`; returns the next offset.
 * `where` names the data in error messages, e.g. `input 'x': data` or `input 'x': instances[3]`.
 */
function writeNested(
  node: unknown,
  shape: readonly number[],
  write: ElementWriter,
  offset: number,
  inputName: string,
  datatype: Datatype,
  where: string,
): number {
  const path: number[] = new Array(shape.length).fill(0);
  const walk = (n: unknown, depth: number, off: number): number => {
    if (depth === shape.length) {
      if (!write(n, off)) {
        throw new BadRequestError(
          `input '${inputName}': ${locate(where, path, depth)} is ${preview(n)}, expected ${expectedElement(datatype)}`,
        );
      }
      return off + 1;
    }
    const expected = shape[depth] as number;
    if (!Array.isArray(n) || n.length !== expected) {
      const got = Array.isArray(n) ? `${n.length} elements` : preview(n);
      throw new BadRequestError(
        `input '${inputName}': ${locate(where, path, depth)} has ${got}, expected ${expected} elements ` +
          `(ragged or mis-shaped data; expected shape ${formatShape(shape)})`,
      );
    }
    for (let i = 0; i < expected; i++) {
      path[depth] = i;
      off = walk(n[i], depth + 1, off);
    }
    return off;
  };
  return walk(node, 0, offset);
}

/**
 * Reads OIP `data` (flat or nested, row-major) for an input whose datatype and shape were already checked against
 * the model. Flat data needs exactly `product(shape)` elements; nested data must follow the shape.
 */
export function parseTensorData(name: string, datatype: Datatype, shape: readonly number[], data: unknown): TensorData {
  if (datatype === 'FP16') {
    throw new BadRequestError(`input '${name}': FP16 has no JSON representation; FP16 inputs are not supported`);
  }
  if (!Array.isArray(data)) {
    throw new BadRequestError(`input '${name}': data must be an array, got ${preview(data)}`);
  }
  const size = shapeSize(shape);
  const target = allocate(datatype, size);
  const write = writerFor(datatype, target);
  const nested = shape.length > 1 && data.length > 0 && Array.isArray(data[0]);
  if (nested) {
    writeNested(data, shape, write, 0, name, datatype, 'data');
    return target;
  }
  if (data.length !== size) {
    throw new BadRequestError(
      `input '${name}': shape ${formatShape(shape)} needs ${size} elements, got ${data.length} ` +
        `(data must have product(shape) elements)`,
    );
  }
  for (let i = 0; i < size; i++) {
    if (!write(data[i], i)) {
      throw new BadRequestError(
        `input '${name}': data[${i}] is ${preview(data[i])}, expected ${expectedElement(datatype)}`,
      );
    }
  }
  return target;
}

/**
 * Builds one input tensor from V1 rows (one JSON value per instance). The row shape is read from the first row and
 * must fit the model's dimensions after the batch dimension; every other row must have the same shape.
 * `rowWhere(i)` names row i in errors (e.g. `instances[2]`).
 */
export function tensorFromRows(
  meta: TensorMetadata,
  rows: readonly unknown[],
  rowWhere: (i: number) => string,
): Tensor {
  if (meta.datatype === 'FP16') {
    throw new BadRequestError(`input '${meta.name}': FP16 has no JSON representation; FP16 inputs are not supported`);
  }
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
  const expectedRow = meta.shape.slice(1);
  const fits =
    rowShape.length === rowRank && rowShape.every((d, i) => (expectedRow[i] as number) < 0 || d === expectedRow[i]);
  if (!fits) {
    throw new BadRequestError(
      `input '${meta.name}': ${rowWhere(0)} has shape ${formatShape(rowShape)}, expected each instance to have shape ` +
        `${formatShape(expectedRow)} (model input shape ${formatShape(meta.shape)}, -1 = any size)`,
    );
  }
  const n = rows.length;
  const rowSize = shapeSize(rowShape);
  const data = allocate(meta.datatype, n * rowSize);
  const write = writerFor(meta.datatype, data);
  for (let i = 0; i < n; i++) {
    writeNested(rows[i], rowShape, write, i * rowSize, meta.name, meta.datatype, rowWhere(i));
  }
  const shape = [n, ...rowShape];
  checkShape(meta, shape);
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
  const view = start === 0 && end === data.length ? data : data.subarray(start, end);
  if (view instanceof BigInt64Array || view instanceof BigUint64Array) return Array.from(view, Number);
  if (datatype === 'BOOL') return Array.from(view as Uint8Array, (v) => v !== 0);
  if (datatype === 'FP16') return Array.from(view as Uint16Array, halfToNumber);
  return Array.from(view as Float32Array);
}

export type JsonNested = JsonScalar | JsonNested[];

function nest(flat: readonly JsonScalar[], shape: readonly number[], depth: number, offset: number): JsonNested {
  if (depth === shape.length) return flat[offset] as JsonScalar;
  if (depth === shape.length - 1) return flat.slice(offset, offset + (shape[depth] as number));
  const stride = shapeSize(shape.slice(depth + 1));
  const out: JsonNested[] = new Array(shape[depth] as number);
  for (let i = 0; i < out.length; i++) out[i] = nest(flat, shape, depth + 1, offset + i * stride);
  return out;
}

/**
 * Splits a tensor along its first dimension: row i as nested JSON (a scalar for rank-1 tensors).
 * A rank-0 tensor is one row holding its value.
 */
export function toJsonRows(tensor: Tensor): JsonNested[] {
  const flat = toJsonArray(tensor.datatype, tensor.data);
  if (tensor.shape.length === 0) return flat;
  const n = tensor.shape[0] as number;
  const rowShape = tensor.shape.slice(1);
  if (rowShape.length === 0) return flat;
  const rowSize = shapeSize(rowShape);
  const rows: JsonNested[] = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = nest(flat, rowShape, 0, i * rowSize);
  return rows;
}
