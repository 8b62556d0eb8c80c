/**
 * The load-time ZipMap rewrite (serving/runtimes/onnx-rewrite.ts) on graphs built here with onnx-proto, and the onnx
 * runtime's load of what it leaves alone. The served results of rewritten skl2onnx-style classifiers are checked
 * against scikit-learn in test/integration/serving/onnx-ml.test.ts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { OnnxRuntime } from '../../../serving/runtimes/onnx.js';
import { rewriteZipMapOutputs } from '../../../serving/runtimes/onnx-rewrite.js';
import { ModelLoadError } from '../../../serving/runtimes/runtime.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

const floatTensor = (name: string, dims: OnnxTypes.TensorShapeProto.IDimension[]): OnnxTypes.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: FLOAT, shape: { dim: dims } } },
});
const seqOfMap = (name: string): OnnxTypes.IValueInfoProto => ({
  name,
  type: {
    sequenceType: {
      elemType: {
        mapType: { keyType: onnx.TensorProto.DataType.INT64, valueType: { tensorType: { elemType: FLOAT } } },
      },
    },
  },
});

/** X FP32 [N, 3] → Softmax → P → ZipMap(labels) → Z; graph outputs P? and Z. */
function classifier(
  options: {
    zipMapAttributes?: OnnxTypes.IAttributeProto[];
    extraNodes?: OnnxTypes.INodeProto[];
    opsets?: OnnxTypes.IOperatorSetIdProto[];
    valueInfo?: OnnxTypes.IValueInfoProto[];
  } = {},
): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: options.opsets ?? [
      { domain: '', version: 15 },
      { domain: 'ai.onnx.ml', version: 1 },
    ],
    graph: {
      name: 'g',
      node: [
        { input: ['X'], output: ['P'], opType: 'Softmax', domain: '', name: 'softmax' },
        {
          input: ['P'],
          output: ['Z'],
          opType: 'ZipMap',
          domain: 'ai.onnx.ml',
          name: 'zipmap',
          attribute: options.zipMapAttributes ?? [
            { name: 'classlabels_int64s', type: onnx.AttributeProto.AttributeType.INTS, ints: [10, 20, 30] },
          ],
        },
        ...(options.extraNodes ?? []),
      ],
      input: [floatTensor('X', [{ dimParam: 'N' }, { dimValue: 3 }])],
      output: [seqOfMap('Z')],
      valueInfo: options.valueInfo ?? [],
    },
  }).finish();
}

function decode(bytes: Uint8Array) {
  return onnx.ModelProto.decode(bytes);
}

/** OnnxRuntime.load's options for a model file written from `bytes`. */
function modelFile(bytes: Uint8Array): { artifactDir: string; modelPath: string } {
  const artifactDir = mkdtempSync(path.join(tmpdir(), 'onnx-rewrite-'));
  const modelPath = path.join(artifactDir, 'model.onnx');
  writeFileSync(modelPath, bytes);
  return { artifactDir, modelPath };
}

describe('rewriteZipMapOutputs', () => {
  it('should turn a ZipMap graph output into an Identity of the probabilities, with its labels', () => {
    const result = rewriteZipMapOutputs(classifier());
    expect(result?.outputs).toEqual([{ name: 'Z', probabilities: 'P', labels: [10, 20, 30] }]);
    const model = decode(result?.model as Uint8Array);
    const zipMap = model.graph?.node?.[1];
    expect(zipMap).toMatchObject({ opType: 'Identity', domain: '', input: ['P'], output: ['Z'], name: 'zipmap' });
    expect(zipMap?.attribute ?? []).toEqual([]);
    const tensorType = model.graph?.output?.[0]?.type?.tensorType;
    expect(tensorType?.elemType).toBe(FLOAT);
    const dims = tensorType?.shape?.dim ?? [];
    expect(dims.map((d) => [d.dimParam ?? '', Number(d.dimValue ?? -1)])).toEqual([
      ['', -1],
      ['', 3],
    ]);
    expect(model.graph?.node?.[0]?.opType).toBe('Softmax');
  });

  it('should take string labels and the probabilities type from value_info, dropping the output own value_info', () => {
    const result = rewriteZipMapOutputs(
      classifier({
        zipMapAttributes: [
          {
            name: 'classlabels_strings',
            type: onnx.AttributeProto.AttributeType.STRINGS,
            strings: ['cat', 'dög', '__proto__'].map((s) => new TextEncoder().encode(s)),
          },
        ],
        valueInfo: [floatTensor('P', [{ dimParam: 'batch' }, { dimValue: 3 }]), seqOfMap('Z')],
      }),
    );
    expect(result?.outputs[0]?.labels).toEqual(['cat', 'dög', '__proto__']);
    const graph = decode(result?.model as Uint8Array).graph;
    expect(graph?.output?.[0]?.type?.tensorType?.shape?.dim?.[0]).toMatchObject({ dimParam: 'batch' });
    expect(graph?.valueInfo?.map((v) => v.name)).toEqual(['P']);
  });

  it('should keep every other byte: fields its schema does not know survive', () => {
    const original = classifier();
    // Field 99 (varint 7) appended to the model: unknown to ONNX and to onnx-proto.
    const withUnknown = new Uint8Array([...original, 0x98, 0x06, 0x07]);
    const result = rewriteZipMapOutputs(withUnknown);
    const bytes = result?.model as Uint8Array;
    expect([...bytes.subarray(bytes.length - 3)]).toEqual([0x98, 0x06, 0x07]);
    expect(Number(decode(bytes).irVersion)).toBe(8);
  });

  it('should declare a default-domain opset for the Identity when the model imports none', () => {
    const result = rewriteZipMapOutputs(classifier({ opsets: [{ domain: 'ai.onnx.ml', version: 1 }] }));
    const opsets = decode(result?.model as Uint8Array).opsetImport?.map((o) => [o.domain, Number(o.version)]);
    expect(opsets).toEqual([
      ['ai.onnx.ml', 1],
      ['', 13],
    ]);
  });

  it('should leave models without a rewritable ZipMap alone', () => {
    // No ZipMap at all.
    const iris = readFileSync(new URL('../../../examples/iris/model.onnx', import.meta.url));
    expect(rewriteZipMapOutputs(new Uint8Array(iris))).toBeUndefined();
    // Its output read by another node.
    const read = classifier({ extraNodes: [{ input: ['Z'], output: ['Y'], opType: 'Identity', domain: '' }] });
    expect(rewriteZipMapOutputs(read)).toBeUndefined();
    // Both label attributes, or none.
    const both = classifier({
      zipMapAttributes: [
        { name: 'classlabels_int64s', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] },
        { name: 'classlabels_strings', type: onnx.AttributeProto.AttributeType.STRINGS, strings: [] },
      ],
    });
    expect(rewriteZipMapOutputs(both)).toBeUndefined();
    expect(rewriteZipMapOutputs(classifier({ zipMapAttributes: [] }))).toBeUndefined();
  });

  it('should throw on bytes that are not a protobuf message', () => {
    expect(() => rewriteZipMapOutputs(new Uint8Array([0x3a, 0xff, 0xff]))).toThrow(/malformed protobuf/);
  });
});

describe('OnnxRuntime.load with sequence and map outputs', () => {
  it('should serve a rewritten ZipMap output as FP32 [-1, C] with its labels', async () => {
    const runtime = await OnnxRuntime.load(modelFile(classifier()));
    try {
      expect(runtime.outputs).toEqual([{ name: 'Z', datatype: 'FP32', shape: [-1, 3], labels: [10, 20, 30] }]);
      const out = await runtime.infer(new Map([['X', { datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) }]]));
      expect([...((out.get('Z')?.data ?? []) as Float32Array)].map((p) => p.toFixed(6))).toEqual(
        Array(3).fill('0.333333'),
      );
    } finally {
      await runtime.close();
    }
  });

  it('should refuse other non-tensor outputs with a reason that says what is supported', async () => {
    const sequence = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 15 }],
      graph: {
        name: 'g',
        node: [{ input: ['X', 'X'], output: ['S'], opType: 'SequenceConstruct', domain: '' }],
        input: [floatTensor('X', [{ dimValue: 2 }])],
        output: [{ name: 'S', type: { sequenceType: { elemType: { tensorType: { elemType: FLOAT } } } } }],
      },
    }).finish();
    const load = OnnxRuntime.load(modelFile(sequence));
    await expect(load).rejects.toBeInstanceOf(ModelLoadError);
    await expect(load).rejects.toThrow(
      "output 'S' is not a tensor: sequences and maps are supported only as the ZipMap output of a classifier",
    );
  });
});
