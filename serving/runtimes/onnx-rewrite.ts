/**
 * Load-time rewrite of ONNX classifiers whose graph outputs are ZipMap results, as skl2onnx and onnxmltools write
 * them: TreeEnsembleClassifier / LinearClassifier / SVMClassifier / … → probabilities FP32 [N, C] → `ZipMap` →
 * `seq(map(int64 | string, float))`. onnxruntime-node returns tensors only ("Non tensor type is temporarily not
 * supported"), so each such ZipMap node becomes an `Identity`: the graph output keeps its name and becomes the FP32
 * [N, C] tensor the ZipMap read, and the ZipMap's class labels (`classlabels_int64s` or `classlabels_strings`, in
 * column order) are returned for the protocols to present.
 *
 * The bytes are edited in place at the protobuf wire level: only the ZipMap nodes, the graph outputs they produce
 * (and `value_info` entries for those names, which are dropped) are re-encoded, plus a default-domain opset import
 * when the model has none (for the Identity). Every other field is copied byte for byte, so fields that onnx-proto's
 * schema (ONNX 1.10) does not know survive the rewrite.
 *
 * A ZipMap is rewritten only when its output is a graph output (listed once) that no node reads, including nodes of
 * subgraphs, and it has exactly one of the two label attributes. Anything else is left as it is (onnxruntime then
 * reports that output as a non-tensor, which the runtime refuses).
 */
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/** A class label: a number for `classlabels_int64s` (exact up to 2^53), a string for `classlabels_strings`. */
export type ClassLabel = string | number;

export interface ZipMapOutput {
  /** The graph output's name (unchanged by the rewrite). */
  readonly name: string;
  /** The ZipMap's input, now read by the Identity that produces the output. */
  readonly probabilities: string;
  /** One label per column of the [N, C] probabilities, in column order. */
  readonly labels: readonly ClassLabel[];
}

export interface ZipMapRewrite {
  /** The rewritten model (ModelProto bytes). */
  readonly model: Uint8Array;
  /** The rewritten outputs, in graph-output order. */
  readonly outputs: readonly ZipMapOutput[];
}

// ModelProto and GraphProto field numbers (onnx.proto).
const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const GRAPH_VALUE_INFO = 13;
const WIRE_LENGTH_DELIMITED = 2;
/** Opset version declared for the Identity when the model imports no default-domain opset (Identity-13 exists). */
const DEFAULT_OPSET_VERSION = 13;

/** One field of a protobuf message: its bytes are `buf[start, end)`; `body` is the payload of a length-delimited field. */
interface Field {
  readonly number: number;
  readonly wire: number;
  readonly start: number;
  readonly end: number;
  readonly body: Uint8Array | undefined;
}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let p = pos; p < buf.length && p < pos + 10; p++) {
    const b = buf[p] as number;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, p + 1];
    scale *= 128;
  }
  throw new Error(`malformed protobuf: bad varint at byte ${pos}`);
}

/** The top-level fields of one protobuf message, in order. */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    let body: Uint8Array | undefined;
    switch (wire) {
      case 0:
        pos = readVarint(buf, afterTag)[1];
        break;
      case 1:
        pos = afterTag + 8;
        break;
      case 5:
        pos = afterTag + 4;
        break;
      case WIRE_LENGTH_DELIMITED: {
        const [length, afterLength] = readVarint(buf, afterTag);
        pos = afterLength + length;
        body = buf.subarray(afterLength, pos);
        break;
      }
      default:
        throw new Error(`malformed protobuf: unsupported wire type ${wire} at byte ${start}`);
    }
    if (number === 0 || pos > buf.length) throw new Error(`malformed protobuf: truncated field at byte ${start}`);
    out.push({ number, wire, start, end: pos, body });
  }
  return out;
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** A length-delimited field: tag, length, payload. */
function lengthDelimited(number: number, body: Uint8Array): Uint8Array {
  const head = [...varintBytes(number * 8 + WIRE_LENGTH_DELIMITED), ...varintBytes(body.length)];
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** `buf` with some fields replaced (by new bytes, or removed with `null`) and `extra` fields appended. */
function rebuild(
  buf: Uint8Array,
  all: readonly Field[],
  replaced: ReadonlyMap<Field, Uint8Array | null>,
  extra: readonly Uint8Array[] = [],
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of all) {
    const r = replaced.get(f);
    if (r === undefined) parts.push(buf.subarray(f.start, f.end));
    else if (r !== null) parts.push(r);
  }
  return concat([...parts, ...extra]);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function toNumber(v: number | { toString(): string }): number {
  return typeof v === 'number' ? v : Number(v.toString());
}

/** The ZipMap's labels: exactly one of classlabels_int64s / classlabels_strings, non-empty. */
function labelsOf(node: OnnxTypes.INodeProto): ClassLabel[] | undefined {
  const attrs = node.attribute ?? [];
  const ints = attrs.find((a) => a.name === 'classlabels_int64s');
  const strings = attrs.find((a) => a.name === 'classlabels_strings');
  if ((ints === undefined) === (strings === undefined)) return undefined;
  const labels = ints ? (ints.ints ?? []).map(toNumber) : (strings?.strings ?? []).map((s) => utf8.decode(s));
  return labels.length > 0 ? labels : undefined;
}

/** Every name read by the graph's nodes or listed as a subgraph output, subgraphs included (outer-scope reads). */
function namesRead(graph: { node?: OnnxTypes.INodeProto[] | null }, into: Set<string>): void {
  for (const node of graph.node ?? []) {
    for (const name of node.input ?? []) into.add(name);
    for (const attr of node.attribute ?? []) {
      for (const sub of [...(attr.g ? [attr.g] : []), ...(attr.graphs ?? [])]) {
        namesRead(sub, into);
        for (const out of sub.output ?? []) if (out.name) into.add(out.name);
      }
    }
  }
}

/**
 * Replaces the ZipMap nodes that produce graph outputs by Identity nodes (see the module comment). Returns undefined
 * when the model has no such ZipMap (nothing to change). Throws on bytes that are not a protobuf message.
 */
export function rewriteZipMapOutputs(model: Uint8Array): ZipMapRewrite | undefined {
  const top = fields(model);
  const graphFields = top.filter((f) => f.number === MODEL_GRAPH && f.wire === WIRE_LENGTH_DELIMITED);
  const graphField = graphFields[0];
  if (graphFields.length !== 1 || !graphField?.body) return undefined;
  const graphBytes = graphField.body;
  const graph = fields(graphBytes);

  const nodes = graph
    .filter((f) => f.number === GRAPH_NODE && f.wire === WIRE_LENGTH_DELIMITED)
    .map((f) => ({ field: f, node: onnx.NodeProto.decode(f.body as Uint8Array) }));
  const outputs = graph
    .filter((f) => f.number === GRAPH_OUTPUT && f.wire === WIRE_LENGTH_DELIMITED)
    .map((f) => ({ field: f, info: onnx.ValueInfoProto.decode(f.body as Uint8Array) }));
  const valueInfos = graph
    .filter((f) => f.number === GRAPH_VALUE_INFO && f.wire === WIRE_LENGTH_DELIMITED)
    .map((f) => ({ field: f, info: onnx.ValueInfoProto.decode(f.body as Uint8Array) }));
  const read = new Set<string>();
  namesRead({ node: nodes.map((n) => n.node) }, read);

  const replaced = new Map<Field, Uint8Array | null>();
  const found = new Map<string, ZipMapOutput>();
  for (const { field, node } of nodes) {
    if (node.opType !== 'ZipMap' || node.domain !== 'ai.onnx.ml') continue;
    const input = node.input?.[0];
    const output = node.output?.[0];
    if (node.input?.length !== 1 || node.output?.length !== 1 || !input || !output) continue;
    if (outputs.filter((o) => o.info.name === output).length !== 1 || read.has(output) || found.has(output)) continue;
    const labels = labelsOf(node);
    if (!labels) continue;
    const identity = onnx.NodeProto.encode({
      input: [input],
      output: [output],
      ...(node.name ? { name: node.name } : {}),
      opType: 'Identity',
      domain: '',
      docString: `was ZipMap (${labels.length} class labels); rewritten at load by the model server`,
    }).finish();
    replaced.set(field, lengthDelimited(GRAPH_NODE, identity));
    found.set(output, { name: output, probabilities: input, labels });
  }
  if (found.size === 0) return undefined;

  for (const { field, info } of outputs) {
    const zipMap = found.get(info.name ?? '');
    if (!zipMap) continue;
    // The probabilities' own value_info when the graph has one (a FLOAT tensor), else FLOAT [?, C].
    const known = valueInfos.find((v) => v.info.name === zipMap.probabilities)?.info.type;
    const type =
      known?.tensorType?.elemType === onnx.TensorProto.DataType.FLOAT
        ? known
        : {
            tensorType: {
              elemType: onnx.TensorProto.DataType.FLOAT,
              shape: { dim: [{}, { dimValue: zipMap.labels.length }] },
            },
          };
    const tensor = onnx.ValueInfoProto.encode({
      name: zipMap.name,
      type,
      ...(info.docString ? { docString: info.docString } : {}),
    }).finish();
    replaced.set(field, lengthDelimited(GRAPH_OUTPUT, tensor));
  }
  for (const { field, info } of valueInfos) {
    if (found.has(info.name ?? '')) replaced.set(field, null);
  }

  const opsets = top
    .filter((f) => f.number === MODEL_OPSET_IMPORT && f.wire === WIRE_LENGTH_DELIMITED)
    .map((f) => onnx.OperatorSetIdProto.decode(f.body as Uint8Array));
  const extra: Uint8Array[] = [];
  if (!opsets.some((o) => !o.domain || o.domain === 'ai.onnx')) {
    const opset = onnx.OperatorSetIdProto.encode({ domain: '', version: DEFAULT_OPSET_VERSION }).finish();
    extra.push(lengthDelimited(MODEL_OPSET_IMPORT, opset));
  }

  const newGraph = rebuild(graphBytes, graph, replaced);
  const newModel = rebuild(model, top, new Map([[graphField, lengthDelimited(MODEL_GRAPH, newGraph)]]), extra);
  const order = outputs.map((o) => o.info.name ?? '');
  const rewritten = [...found.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { model: newModel, outputs: rewritten };
}
