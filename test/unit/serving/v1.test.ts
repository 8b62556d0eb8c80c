import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../serving/errors.js';
import { parsePredictRequest, predictResponse } from '../../../serving/protocols/v1.js';
import type { Tensor } from '../../../serving/tensors.js';
import { iris, multi } from './fake-runtime.js';

function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    return (err as Error).message;
  }
  throw new Error('expected a BadRequestError');
}

describe('V1 parsePredictRequest', () => {
  it('should build one tensor from instances given as arrays', () => {
    const inputs = parsePredictRequest(
      {
        instances: [
          [5.1, 3.5, 1.4, 0.2],
          [6.3, 3.3, 6.0, 2.5],
        ],
      },
      iris,
    );
    const t = inputs.get('input') as Tensor;
    expect(t.shape).toEqual([2, 4]);
    expect(t.datatype).toBe('FP32');
    expect(Array.from(t.data as Float32Array)).toEqual(
      Array.from(Float32Array.from([5.1, 3.5, 1.4, 0.2, 6.3, 3.3, 6, 2.5])),
    );
  });

  it('should accept "inputs" in place of "instances"', () => {
    expect(parsePredictRequest({ inputs: [[1, 2, 3, 4]] }, iris).get('input')?.shape).toEqual([1, 4]);
  });

  it('should accept rows as objects keyed by input name', () => {
    const inputs = parsePredictRequest(
      {
        instances: [
          { x: [1, 2], k: 3 },
          { x: [4, 5], k: -1 },
        ],
      },
      multi,
    );
    expect(inputs.get('x')?.shape).toEqual([2, 2]);
    expect(inputs.get('k')?.data).toEqual(BigInt64Array.from([3n, -1n]));
  });

  it('should accept columnar "inputs" (an object of per-input rows)', () => {
    const inputs = parsePredictRequest({ inputs: { x: [[1, 2]], k: [7] } }, multi);
    expect(inputs.get('x')?.shape).toEqual([1, 2]);
    expect(inputs.get('k')?.data).toEqual(BigInt64Array.from([7n]));
  });

  it.each([
    [{}, 'request body must have "instances" (a list of rows) or "inputs"'],
    [{ instances: [], inputs: [] }, 'send either "instances" or "inputs", not both'],
    [{ instances: [] }, 'instances must not be empty'],
    [{ instances: { a: 1 } }, 'instances must be a list of rows'],
    [[1, 2], 'request body must be a JSON object'],
  ])('should refuse %j', (body, message) => {
    expect(badRequest(() => parsePredictRequest(body, iris))).toBe(message);
  });

  it('should refuse ragged rows, naming the instance', () => {
    expect(
      badRequest(() =>
        parsePredictRequest(
          {
            instances: [
              [1, 2, 3, 4],
              [1, 2, 3],
            ],
          },
          iris,
        ),
      ),
    ).toContain("input 'input': instances[1] has 3 elements, expected 4 elements");
  });

  it('should refuse non-numeric data', () => {
    expect(badRequest(() => parsePredictRequest({ instances: [[1, 2, 3, 'x']] }, iris))).toBe(
      `input 'input': instances[0][3] is "x", expected a number (FP32)`,
    );
  });

  it('should ask for objects when the model has several inputs', () => {
    expect(badRequest(() => parsePredictRequest({ instances: [[1, 2]] }, multi))).toBe(
      'the model has 2 inputs (x, k); each of instances must be an object keyed by input name',
    );
  });

  it('should refuse unknown and missing input names in object rows', () => {
    expect(badRequest(() => parsePredictRequest({ instances: [{ x: [1, 2], k: 1, z: 0 }] }, multi))).toBe(
      "instances[0] has unknown input 'z'; the model's inputs are: x, k",
    );
    expect(badRequest(() => parsePredictRequest({ instances: [{ x: [1, 2], k: 1 }, { x: [1, 2] }] }, multi))).toBe(
      "instances[1] is missing input 'k'",
    );
  });

  it('should refuse columns of different lengths', () => {
    expect(badRequest(() => parsePredictRequest({ inputs: { x: [[1, 2]], k: [1, 2] } }, multi))).toBe(
      'inputs.k has 2 rows, but other inputs have 1',
    );
  });
});

describe('V1 predictResponse', () => {
  it('should give row i of the only output as predictions[i]', () => {
    const outputs = new Map<string, Tensor>([
      ['y', { datatype: 'FP32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
    ]);
    expect(predictResponse('m', '3', outputs)).toEqual({
      predictions: [
        [1, 2],
        [3, 4],
      ],
      model_name: 'm',
      model_version: '3',
    });
  });

  it('should give an object per row for several outputs, with INT64 as numbers', () => {
    const outputs = new Map<string, Tensor>([
      ['probabilities', { datatype: 'FP32', shape: [2, 2], data: Float32Array.from([0.5, 0.5, 0.25, 0.75]) }],
      ['label', { datatype: 'INT64', shape: [2], data: BigInt64Array.from([0n, 1n]) }],
    ]);
    expect(predictResponse('m', '3', outputs).predictions).toEqual([
      { probabilities: [0.5, 0.5], label: 0 },
      { probabilities: [0.25, 0.75], label: 1 },
    ]);
  });
});
