/**
 * The protocol paths of function models: V1 rows passed through as sent (`parseJsonPredictRequest`), V2 refused with
 * the runtime's reason when it declares no tensors, and V2 `parameters` handed on.
 */
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../serving/errors.js';
import { parseJsonPredictRequest } from '../../../serving/protocols/v1.js';
import { parseInferRequest } from '../../../serving/protocols/v2.js';
import type { Runtime } from '../../../serving/runtimes/runtime.js';
import { fakeRuntime } from './fake-runtime.js';

describe('V1 parseJsonPredictRequest (function models)', () => {
  it('should pass instances or inputs through exactly as sent, with the parameters', () => {
    const rows = [{ a: [1, 'x'] }, 'text', null, [true], 2.5];
    expect(parseJsonPredictRequest({ instances: rows })).toEqual({ rows, parameters: undefined });
    expect(parseJsonPredictRequest({ inputs: rows, parameters: { explain: true } })).toEqual({
      rows,
      parameters: { explain: true },
    });
    const body = { instances: rows };
    expect(parseJsonPredictRequest(body).rows).toBe(rows);
  });

  it.each([
    [{}, 'request body must have "instances" (a list of rows) or "inputs"'],
    [{ instances: [1], inputs: [1] }, 'send either "instances" or "inputs", not both'],
    [{ instances: [] }, 'instances must not be empty'],
    [{ inputs: { x: [1] } }, 'inputs must be a list of rows'],
    [{ instances: 'abc' }, 'instances must be a list of rows'],
    [{ instances: [1], parameters: [1] }, 'parameters must be a JSON object'],
    ['[1]', 'request body must be a JSON object'],
  ])('should refuse %j with 400', (body, message) => {
    expect(() => parseJsonPredictRequest(body)).toThrow(new BadRequestError(message));
  });
});

describe('V2 parseInferRequest for function models', () => {
  const input = { name: 'x', datatype: 'FP64', shape: [1, 2], data: [1, 2] };

  it('should refuse inference with the runtime reason when it declares no tensors', () => {
    const runtime: Runtime = { ...fakeRuntime([], []), v2Unavailable: 'no tensor metadata here' };
    expect(() => parseInferRequest({ inputs: [input] }, runtime)).toThrow(
      new BadRequestError('no tensor metadata here'),
    );
  });

  it('should hand on the request parameters', () => {
    const runtime = fakeRuntime([{ name: 'x', datatype: 'FP64', shape: [-1, 2] }]);
    expect(parseInferRequest({ inputs: [input], parameters: { top: 3 } }, runtime).parameters).toEqual({ top: 3 });
    expect(parseInferRequest({ inputs: [input] }, runtime).parameters).toBeUndefined();
  });
});
