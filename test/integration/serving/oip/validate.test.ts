import { describe, expect, it } from 'vitest';
import { validateOip } from './validate.js';

describe('OIP schema validator (self-check)', () => {
  it('should accept the spec example and reject broken responses', () => {
    const ok = {
      model_name: 'm',
      outputs: [{ name: 'o', shape: [3, 2], datatype: 'FP32', data: [1, 1.1, 2, 2.1, 3, 3.1] }],
    };
    expect(validateOip('inference_response', ok)).toEqual([]);
    expect(validateOip('inference_response', { outputs: [] })).toContain('$: missing required property model_name');
    expect(
      validateOip('inference_response', {
        model_name: 'm',
        outputs: [{ name: 'o', shape: [1.5], datatype: 'FP32', data: [1] }],
      }),
    ).toContain('$.outputs[0].shape[0]: expected integer, got 1.5');
    expect(
      validateOip('inference_response', {
        model_name: 'm',
        outputs: [{ name: 'o', shape: [1], datatype: 'FP32', data: [{}] }],
      }),
    ).toContain('$.outputs[0].data[0]: matches none of anyOf');
    expect(validateOip('metadata_server_response', { name: 'n', version: '1' })).toContain(
      '$: missing required property extensions',
    );
  });
});
