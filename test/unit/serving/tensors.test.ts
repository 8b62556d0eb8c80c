import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../serving/errors.js';
import {
  checkShape,
  parseShape,
  parseTensorData,
  type TensorMetadata,
  tensorFromRows,
  toJsonArray,
  toJsonRows,
  toLabeledRows,
  zeros,
} from '../../../serving/tensors.js';

const input: TensorMetadata = { name: 'input', datatype: 'FP32', shape: [-1, 4] };

function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    return (err as Error).message;
  }
  throw new Error('expected a BadRequestError');
}

describe('checkShape', () => {
  it('should accept any size for -1 dimensions and the exact size for fixed ones', () => {
    expect(() => checkShape(input, [1, 4])).not.toThrow();
    expect(() => checkShape(input, [1000, 4])).not.toThrow();
    expect(() => checkShape(input, [0, 4])).not.toThrow();
  });

  it('should name the input and the expected shape on a wrong rank', () => {
    expect(badRequest(() => checkShape(input, [4]))).toBe(
      "input 'input' has shape [4], expected [-1, 4] (-1 = any size)",
    );
  });

  it('should refuse a fixed dimension that differs', () => {
    expect(badRequest(() => checkShape(input, [2, 3]))).toContain("input 'input' has shape [2, 3], expected [-1, 4]");
  });
});

describe('parseShape', () => {
  it.each([[[-1, 4]], [[1.5]], ['2,4'], [undefined]])('should refuse %j', (shape) => {
    expect(badRequest(() => parseShape('input', shape))).toMatch(
      /^input 'input': shape must be an array of non-negative integers/,
    );
  });

  it('should accept non-negative integers, including an empty shape', () => {
    expect(parseShape('input', [2, 4])).toEqual([2, 4]);
    expect(parseShape('input', [])).toEqual([]);
  });
});

describe('parseTensorData', () => {
  it('should read flat row-major data', () => {
    const data = parseTensorData('input', 'FP32', [2, 2], [1, 2, 3, 4]);
    expect(data).toBeInstanceOf(Float32Array);
    expect(Array.from(data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('should read nested data that follows the shape', () => {
    const data = parseTensorData(
      'input',
      'FP64',
      [2, 2],
      [
        [1, 2],
        [3, 4],
      ],
    );
    expect(data).toBeInstanceOf(Float64Array);
    expect(Array.from(data as Float64Array)).toEqual([1, 2, 3, 4]);
  });

  it('should refuse when product(shape) differs from the number of elements', () => {
    expect(badRequest(() => parseTensorData('input', 'FP32', [2, 4], [1, 2, 3]))).toBe(
      "input 'input': shape [2, 4] needs 8 elements, got 3 (data must have product(shape) elements)",
    );
  });

  it('should refuse ragged nested data and say where', () => {
    const msg = badRequest(() => parseTensorData('input', 'FP32', [2, 2], [[1, 2], [3]]));
    expect(msg).toContain("input 'input': data[1] has 1 elements, expected 2 elements");
    expect(msg).toContain('ragged');
  });

  it('should refuse non-numeric elements and say where and what was expected', () => {
    expect(badRequest(() => parseTensorData('input', 'FP32', [3], [1, 'two', 3]))).toBe(
      `input 'input': data[1] is "two", expected a number (FP32)`,
    );
    expect(
      badRequest(() =>
        parseTensorData(
          'input',
          'FP32',
          [2, 2],
          [
            [1, null],
            [3, 4],
          ],
        ),
      ),
    ).toBe("input 'input': data[0][1] is null, expected a number (FP32)");
  });

  it('should refuse data that is not an array', () => {
    expect(badRequest(() => parseTensorData('input', 'FP32', [1], 5))).toBe(
      "input 'input': data must be an array, got 5",
    );
  });

  it('should convert INT64 to BigInt and check integer ranges', () => {
    expect(parseTensorData('k', 'INT64', [2], [3, -1])).toEqual(BigInt64Array.from([3n, -1n]));
    expect(badRequest(() => parseTensorData('k', 'INT64', [1], [1.5]))).toContain('expected an integer in');
    expect(badRequest(() => parseTensorData('k', 'UINT8', [1], [256]))).toBe(
      "input 'k': data[0] is 256, expected an integer in [0, 255] (UINT8)",
    );
    expect(badRequest(() => parseTensorData('k', 'UINT64', [1], [-1]))).toContain('(UINT64)');
  });

  it('should take BOOL as true/false and BYTES as strings', () => {
    expect(Array.from(parseTensorData('b', 'BOOL', [2], [true, false]) as Uint8Array)).toEqual([1, 0]);
    expect(badRequest(() => parseTensorData('b', 'BOOL', [1], [1]))).toBe(
      "input 'b': data[0] is 1, expected true or false (BOOL)",
    );
    expect(parseTensorData('s', 'BYTES', [2], ['a', 'b'])).toEqual(['a', 'b']);
  });

  it('should refuse FP16 inputs, which have no JSON form', () => {
    expect(badRequest(() => parseTensorData('h', 'FP16', [1], [1]))).toContain('FP16 has no JSON representation');
  });
});

describe('tensorFromRows', () => {
  const rows = (i: number) => `instances[${i}]`;

  it('should stack rows under a batch dimension', () => {
    const t = tensorFromRows(
      input,
      [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
      rows,
    );
    expect(t.shape).toEqual([2, 4]);
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('should take scalars as rows of a rank-1 input', () => {
    const t = tensorFromRows({ name: 'k', datatype: 'INT64', shape: [-1] }, [3, 4], rows);
    expect(t.shape).toEqual([2]);
    expect(t.data).toEqual(BigInt64Array.from([3n, 4n]));
  });

  it('should refuse a row of the wrong width, naming the expected row shape', () => {
    expect(badRequest(() => tensorFromRows(input, [[1, 2, 3]], rows))).toBe(
      "input 'input': instances[0] has shape [3], expected each instance to have shape [4] " +
        '(model input shape [-1, 4], -1 = any size)',
    );
  });

  it('should refuse ragged rows', () => {
    expect(
      badRequest(() =>
        tensorFromRows(
          input,
          [
            [1, 2, 3, 4],
            [1, 2],
          ],
          rows,
        ),
      ),
    ).toContain("input 'input': instances[1] has 2 elements, expected 4 elements");
  });

  it('should refuse non-numeric values in rows', () => {
    expect(
      badRequest(() =>
        tensorFromRows(
          input,
          [
            [1, 2, 3, 4],
            [1, 2, true, 4],
          ],
          rows,
        ),
      ),
    ).toBe("input 'input': instances[1][2] is true, expected a number (FP32)");
  });

  it('should refuse rows that are not nested deep enough', () => {
    expect(badRequest(() => tensorFromRows(input, [1, 2], rows))).toContain('instances[0] has shape []');
  });

  it('should check a fixed batch dimension', () => {
    const fixed: TensorMetadata = { name: 'x', datatype: 'FP32', shape: [1, 2] };
    expect(
      badRequest(() =>
        tensorFromRows(
          fixed,
          [
            [1, 2],
            [3, 4],
          ],
          rows,
        ),
      ),
    ).toBe("input 'x' has shape [2, 2], expected [1, 2] (-1 = any size)");
  });

  it('should handle rows of rank 2', () => {
    const image: TensorMetadata = { name: 'img', datatype: 'UINT8', shape: [-1, 2, -1] };
    const t = tensorFromRows(
      image,
      [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ],
      rows,
    );
    expect(t.shape).toEqual([1, 2, 3]);
    expect(Array.from(t.data as Uint8Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('toJsonArray and toJsonRows', () => {
  it('should turn INT64 into numbers, BOOL into booleans and FP16 bits into numbers', () => {
    expect(toJsonArray('INT64', BigInt64Array.from([0n, 2n, -5n]))).toEqual([0, 2, -5]);
    expect(toJsonArray('BOOL', Uint8Array.from([1, 0]))).toEqual([true, false]);
    expect(toJsonArray('FP16', Uint16Array.from([0x3c00, 0xc000, 0x3800]))).toEqual([1, -2, 0.5]);
  });

  it('should split along the first dimension', () => {
    const probs = { datatype: 'FP32' as const, shape: [2, 2], data: Float32Array.from([0.5, 0.5, 0.25, 0.75]) };
    expect(toJsonRows(probs)).toEqual([
      [0.5, 0.5],
      [0.25, 0.75],
    ]);
    expect(toJsonRows({ datatype: 'INT64', shape: [2], data: BigInt64Array.from([1n, 2n]) })).toEqual([1, 2]);
    const cube = { datatype: 'INT32' as const, shape: [1, 2, 2], data: Int32Array.from([1, 2, 3, 4]) };
    expect(toJsonRows(cube)).toEqual([
      [
        [1, 2],
        [3, 4],
      ],
    ]);
  });
});

describe('toLabeledRows', () => {
  it('should key each row of a [N, C] tensor by the C labels, any label an ordinary key', () => {
    const t = { datatype: 'FP32' as const, shape: [2, 3], data: new Float32Array([0.5, 0.25, 0.25, 0, 1, 0]) };
    const rows = toLabeledRows(t, [3, 'b', '__proto__']);
    expect(rows.map((r) => Object.entries(r))).toEqual([
      [
        ['3', 0.5],
        ['b', 0.25],
        ['__proto__', 0.25],
      ],
      [
        ['3', 0],
        ['b', 1],
        ['__proto__', 0],
      ],
    ]);
    expect(JSON.parse(JSON.stringify(rows[1]))).toEqual({ 3: 0, b: 1, ['__proto__']: 0 });
  });

  it('should refuse a tensor whose columns are not one per label', () => {
    const t = { datatype: 'FP32' as const, shape: [1, 2], data: new Float32Array(2) };
    expect(() => toLabeledRows(t, [0, 1, 2])).toThrow('a tensor of shape [1, 2] cannot be keyed by 3 labels');
  });
});

describe('zeros', () => {
  it('should give variable dimensions size 1', () => {
    const t = zeros({ name: 'x', datatype: 'INT64', shape: [-1, 3] });
    expect(t.shape).toEqual([1, 3]);
    expect(t.data).toEqual(new BigInt64Array(3));
  });
});
