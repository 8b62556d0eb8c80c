import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../serving/errors.js';
import { inferResponse, modelMetadata, parseInferRequest, serverMetadata } from '../../../serving/protocols/v2.js';
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

const input = (over: Record<string, unknown> = {}) => ({
  name: 'input',
  shape: [1, 4],
  datatype: 'FP32',
  data: [5.1, 3.5, 1.4, 0.2],
  ...over,
});

describe('V2 parseInferRequest', () => {
  it('should build tensors and keep the id and the outputs filter', () => {
    const req = parseInferRequest({ id: '42', inputs: [input()], outputs: [{ name: 'label' }] }, iris);
    expect(req.id).toBe('42');
    expect(req.outputs).toEqual(['label']);
    expect(req.inputs.get('input')?.shape).toEqual([1, 4]);
  });

  it('should return all outputs when none are named', () => {
    expect(parseInferRequest({ inputs: [input()] }, iris).outputs).toBeUndefined();
    expect(parseInferRequest({ inputs: [input()], outputs: [] }, iris).outputs).toBeUndefined();
  });

  it('should accept nested data', () => {
    const req = parseInferRequest(
      {
        inputs: [
          input({
            shape: [2, 4],
            data: [
              [1, 2, 3, 4],
              [5, 6, 7, 8],
            ],
          }),
        ],
      },
      iris,
    );
    expect(Array.from(req.inputs.get('input')?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('should accept several inputs of different datatypes', () => {
    const req = parseInferRequest(
      {
        inputs: [
          { name: 'k', shape: [2], datatype: 'INT64', data: [1, 2] },
          { name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] },
        ],
      },
      multi,
    );
    expect(req.inputs.get('k')?.data).toEqual(BigInt64Array.from([1n, 2n]));
  });

  it.each([
    [
      'an unknown input name',
      { inputs: [input({ name: 'nope' })] },
      "unknown input 'nope'; the model's inputs are: input",
    ],
    ['a wrong datatype', { inputs: [input({ datatype: 'FP64' })] }, "input 'input' has datatype FP64, expected FP32"],
    [
      'an unknown datatype',
      { inputs: [input({ datatype: 'FLOAT' })] },
      `input 'input': unknown datatype "FLOAT", expected FP32`,
    ],
    [
      'a wrong rank',
      { inputs: [input({ shape: [4] })] },
      "input 'input' has shape [4], expected [-1, 4] (-1 = any size)",
    ],
    [
      'a wrong fixed dimension',
      { inputs: [input({ shape: [2, 2] })] },
      "input 'input' has shape [2, 2], expected [-1, 4] (-1 = any size)",
    ],
    [
      'an element count that does not match the shape',
      { inputs: [input({ shape: [2, 4] })] },
      "input 'input': shape [2, 4] needs 8 elements, got 4 (data must have product(shape) elements)",
    ],
    [
      'non-numeric data',
      { inputs: [input({ data: [1, 2, 3, 'x'] })] },
      `input 'input': data[3] is "x", expected a number (FP32)`,
    ],
    [
      'a negative dimension',
      { inputs: [input({ shape: [-1, 4] })] },
      "input 'input': shape must be an array of non-negative integers, got [-1,4]",
    ],
    ['missing data', { inputs: [input({ data: undefined })] }, "input 'input': data is required"],
    ['no inputs', { inputs: [] }, "inputs must be a non-empty array (the model's inputs are: input)"],
    ['inputs that are not objects', { inputs: [1] }, 'inputs[0] must be a JSON object'],
    ['a nameless input', { inputs: [{ shape: [1] }] }, 'inputs[0].name must be a string'],
    ['a duplicate input', { inputs: [input(), input()] }, "input 'input' appears more than once"],
    ['a non-string id', { id: 42, inputs: [input()] }, 'id must be a string'],
    ['non-object parameters', { parameters: [1], inputs: [input()] }, 'parameters must be a JSON object'],
    [
      'an unknown output',
      { inputs: [input()], outputs: [{ name: 'nope' }] },
      "unknown output 'nope'; the model's outputs are: probabilities, label",
    ],
    ['a nameless output', { inputs: [input()], outputs: [{}] }, 'outputs[0].name must be a string'],
    [
      'binary tensor data',
      { inputs: [input({ parameters: { binary_data_size: 16 } })] },
      "input 'input': binary tensor data is not supported; send data as JSON",
    ],
    ['a body that is not an object', [input()], 'request body must be a JSON object'],
  ])('should refuse %s', (_what, body, message) => {
    expect(badRequest(() => parseInferRequest(body, iris))).toBe(message);
  });

  it('should refuse a request that misses one of several inputs', () => {
    expect(
      badRequest(() =>
        parseInferRequest({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }, multi),
      ),
    ).toBe("missing input 'k' (the model's inputs are: x, k)");
  });
});

describe('V2 responses', () => {
  it('should echo the id and flatten outputs', () => {
    const outputs = new Map<string, Tensor>([
      ['label', { datatype: 'INT64', shape: [2], data: BigInt64Array.from([2n, 0n]) }],
    ]);
    expect(inferResponse('iris', '3', 'abc', outputs)).toEqual({
      model_name: 'iris',
      model_version: '3',
      id: 'abc',
      outputs: [{ name: 'label', datatype: 'INT64', shape: [2], data: [2, 0] }],
    });
    expect(inferResponse('iris', '3', undefined, outputs)).not.toHaveProperty('id');
  });

  it('should describe the model with its version and platform', () => {
    expect(modelMetadata('iris', '3', iris)).toEqual({
      name: 'iris',
      versions: ['3'],
      platform: 'fake',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    });
    expect(serverMetadata()).toMatchObject({ name: 'merlin-model-server', extensions: [] });
  });
});
