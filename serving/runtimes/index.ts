/** Picks and loads the runtime for a model type. Runtimes are imported lazily (native code loads only when used). */
import type { ModelType } from '../config.js';
import type { Runtime, RuntimeOptions } from './runtime.js';

export interface LoadRuntimeOptions extends RuntimeOptions {
  readonly onnx?: {
    readonly intraOpNumThreads?: number | undefined;
    readonly interOpNumThreads?: number | undefined;
    readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  };
}

export async function loadRuntime(type: ModelType, options: LoadRuntimeOptions): Promise<Runtime> {
  switch (type) {
    case 'onnx': {
      const { OnnxRuntime } = await import('./onnx.js');
      return OnnxRuntime.load({ ...options, ...options.onnx });
    }
    case 'xgboost': {
      const { XGBoostRuntime } = await import('./xgboost.js');
      return XGBoostRuntime.load(options);
    }
  }
}
