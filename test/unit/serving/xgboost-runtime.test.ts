/**
 * The xgboost Runtime (serving/runtimes/xgboost.ts): loading, metadata, inference on the fixtures, and missing values
 * as JSON `null` through the request parsers (TensorMetadata.nullable in tensors.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../serving/config.js';
import { BadRequestError } from '../../../serving/errors.js';
import { parsePredictRequest } from '../../../serving/protocols/v1.js';
import { ModelLoadError } from '../../../serving/runtimes/runtime.js';
import { XGBoostRuntime } from '../../../serving/runtimes/xgboost.js';
import {
  parseTensorData,
  type Tensor,
  type TensorMetadata,
  tensorFromRows,
  toJsonRows,
  zeros,
} from '../../../serving/tensors.js';
import { expectClose, features, readReference, xgboostFixturesDir } from './xgboost-fixtures.js';

const loadFixture = (name: string) =>
  XGBoostRuntime.load({
    modelPath: path.join(xgboostFixturesDir, name, 'model.json'),
    artifactDir: path.join(xgboostFixturesDir, name),
  });

function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    return (err as Error).message;
  }
  throw new Error('expected a BadRequestError');
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'xgboost-runtime-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('MODEL_TYPE=xgboost', () => {
  const base = { MODEL_NAME: 'm', MODEL_VERSION: '1', ARTIFACT_URI: 'file:///models/m/', MODEL_TYPE: 'xgboost' };

  it('should be accepted, with model.json as the default MODEL_FILE', () => {
    expect(parseConfig(base)).toMatchObject({ modelType: 'xgboost', modelFile: 'model.json' });
    expect(parseConfig({ ...base, MODEL_FILE: 'boosters/v2.json' }).modelFile).toBe('boosters/v2.json');
  });
});

describe('XGBoostRuntime', () => {
  it('should describe a multi:softprob model: input FP32 [-1, num_feature] (nullable), predictions [-1, num_class]', async () => {
    const runtime = await loadFixture('iris-softprob');
    expect(runtime.platform).toBe('xgboost_json');
    expect(runtime.batchable).toBe(true);
    expect(runtime.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 4], nullable: true }]);
    expect(runtime.outputs).toEqual([{ name: 'predictions', datatype: 'FP32', shape: [-1, 3] }]);
  });

  it.each([
    ['iris-softmax', 4],
    ['cancer-logistic', 30],
    ['diabetes-poisson', 10],
  ])('should give %s one FP32 prediction per row', async (name, numFeature) => {
    const runtime = await loadFixture(name);
    expect(runtime.inputs[0]?.shape).toEqual([-1, numFeature]);
    expect(runtime.outputs).toEqual([{ name: 'predictions', datatype: 'FP32', shape: [-1] }]);
  });

  it("should answer what xgboost answered, shaped like Booster.predict's result", async () => {
    const runtime = await loadFixture('iris-softprob');
    const ref = readReference('iris-softprob');
    const input: Tensor = { datatype: 'FP32', shape: [ref.instances.length, 4], data: features(ref.instances) };
    const out = await runtime.infer(new Map([['input', input]]));
    const predictions = out.get('predictions') as Tensor;
    expect(predictions.datatype).toBe('FP32');
    expect(predictions.shape).toEqual([ref.instances.length, 3]);
    expectClose(predictions.data as Float32Array, ref.predictions.flat());
    expect([...out.keys()]).toEqual(['predictions']);
  });

  it('should run the warm-up inference (zeros shaped like the input)', async () => {
    const runtime = await loadFixture('diabetes-dart');
    const input = runtime.inputs[0] as TensorMetadata;
    const out = await runtime.infer(new Map([[input.name, zeros(input)]]));
    const predictions = out.get('predictions') as Tensor;
    expect(predictions.shape).toEqual([1]);
    expect(Number.isFinite((predictions.data as Float32Array)[0])).toBe(true);
  });

  it('should answer a batch of zero rows with zero predictions', async () => {
    const runtime = await loadFixture('iris-softprob');
    const out = await runtime.infer(
      new Map([['input', { datatype: 'FP32', shape: [0, 4], data: new Float32Array(0) }]]),
    );
    expect(out.get('predictions')?.shape).toEqual([0, 3]);
  });

  it('should fail to load a file it cannot read, a file that is not JSON, and an unsupported model', async () => {
    await expect(XGBoostRuntime.load({ modelPath: path.join(tmp, 'absent.json'), artifactDir: tmp })).rejects.toThrow(
      /^xgboost: cannot read absent\.json: ENOENT/,
    );
    writeFileSync(path.join(tmp, 'model.bin'), Buffer.from([0x7b, 0x4c, 0x00, 0x00, 0x00, 0x07]));
    const notJson = XGBoostRuntime.load({ modelPath: path.join(tmp, 'model.bin'), artifactDir: tmp });
    await expect(notJson).rejects.toBeInstanceOf(ModelLoadError);
    await expect(notJson).rejects.toThrow(/^xgboost: the model file is not JSON/);
    await expect(
      XGBoostRuntime.load({
        modelPath: path.join(xgboostFixturesDir, 'unsupported', 'gblinear.json'),
        artifactDir: path.join(xgboostFixturesDir, 'unsupported'),
      }),
    ).rejects.toThrow('xgboost: booster gblinear is not supported (supported: gbtree, dart)');
  });
});

describe('Missing values as JSON null (TensorMetadata.nullable)', () => {
  const nullable: TensorMetadata = { name: 'input', datatype: 'FP32', shape: [-1, 3], nullable: true };
  const strict: TensorMetadata = { name: 'input', datatype: 'FP32', shape: [-1, 3] };

  it('should read null as NaN in V1 rows of a nullable input', () => {
    const t = tensorFromRows(
      nullable,
      [
        [1, null, 3],
        [null, null, null],
        [4, 5, 6],
      ],
      (i) => `instances[${i}]`,
    );
    expect(t.shape).toEqual([3, 3]);
    expect(Array.from(t.data as Float32Array)).toEqual([1, Number.NaN, 3, Number.NaN, Number.NaN, Number.NaN, 4, 5, 6]);
  });

  it('should read null as NaN in V2 data, flat and nested, when the input is nullable', () => {
    expect(Array.from(parseTensorData('input', 'FP32', [1, 3], [null, 2, 3], true) as Float32Array)).toEqual([
      Number.NaN,
      2,
      3,
    ]);
    expect(Array.from(parseTensorData('input', 'FP64', [2, 1], [[1], [null]], true) as Float64Array)).toEqual([
      1,
      Number.NaN,
    ]);
  });

  it('should still refuse null where the input is not nullable (every other model)', () => {
    expect(badRequest(() => tensorFromRows(strict, [[1, null, 3]], (i) => `instances[${i}]`))).toBe(
      "input 'input': instances[0][1] is null, expected a number (FP32)",
    );
    expect(badRequest(() => parseTensorData('input', 'FP32', [1, 3], [1, null, 3]))).toBe(
      "input 'input': data[1] is null, expected a number (FP32)",
    );
  });

  it('should still refuse strings, booleans and ragged rows for a nullable input, saying null is allowed', () => {
    expect(badRequest(() => tensorFromRows(nullable, [[1, 'x', 3]], (i) => `instances[${i}]`))).toBe(
      `input 'input': instances[0][1] is "x", expected a number or null (FP32; null = missing)`,
    );
    expect(badRequest(() => parseTensorData('input', 'FP32', [1, 3], [1, true, 3], true))).toBe(
      "input 'input': data[1] is true, expected a number or null (FP32; null = missing)",
    );
    expect(
      badRequest(() =>
        tensorFromRows(
          nullable,
          [
            [1, null, 3],
            [1, null],
          ],
          (i) => `instances[${i}]`,
        ),
      ),
    ).toMatch(/^input 'input': instances\[1\] has 2 elements, expected 3 elements/);
    expect(badRequest(() => tensorFromRows(nullable, [null], (i) => `instances[${i}]`))).toMatch(
      /^input 'input': instances\[0\] has shape \[\], expected each instance to have shape \[3\]/,
    );
  });

  it('should accept nulls in a V1 predict request for an xgboost model and predict what xgboost predicted', async () => {
    const runtime = await loadFixture('cancer-logistic');
    const ref = readReference('cancer-logistic');
    const inputs = parsePredictRequest({ instances: ref.instances }, runtime);
    const out = await runtime.infer(inputs);
    const rows = toJsonRows(out.get('predictions') as Tensor) as number[];
    expectClose(rows, ref.predictions as number[]);
  });
});
