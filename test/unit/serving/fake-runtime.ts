import type { Runtime } from '../../../serving/runtimes/runtime.js';
import type { Tensor, TensorMetadata } from '../../../serving/tensors.js';

/** A runtime with the given metadata; `infer` is never called by the parsing code under test. */
export function fakeRuntime(inputs: TensorMetadata[], outputs: TensorMetadata[] = []): Runtime {
  return {
    platform: 'fake',
    inputs,
    outputs,
    infer: async () => new Map<string, Tensor>(),
    close: async () => undefined,
  };
}

/** Like examples/iris: input FP32 [-1, 4]; outputs probabilities FP32 [-1, 3], label INT64 [-1]. */
export const iris = fakeRuntime(
  [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  [
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
    { name: 'label', datatype: 'INT64', shape: [-1] },
  ],
);

/** Two inputs of different datatypes and ranks. */
export const multi = fakeRuntime(
  [
    { name: 'x', datatype: 'FP32', shape: [-1, 2] },
    { name: 'k', datatype: 'INT64', shape: [-1] },
  ],
  [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
);
