/** Picks and loads the runtime for a model type. Runtimes are imported lazily (native code loads only when used). */
import type { ModelType } from '../config.js';
import type { Logger } from '../log.js';
import type { Runtime, RuntimeOptions } from './runtime.js';

export interface LoadRuntimeOptions extends RuntimeOptions {
  readonly onnx?: {
    readonly intraOpNumThreads?: number | undefined;
    readonly interOpNumThreads?: number | undefined;
    readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  };
  /** Required for function models. */
  readonly function?: {
    readonly modelName: string;
    readonly version: string;
    readonly logger: Logger;
    readonly timeoutMs?: number | undefined;
  };
}

export async function loadRuntime(type: ModelType, options: LoadRuntimeOptions): Promise<Runtime> {
  switch (type) {
    case 'onnx': {
      const { OnnxRuntime } = await import('./onnx.js');
      return OnnxRuntime.load({ ...options, ...options.onnx });
    }
    case 'function': {
      const { FunctionRuntime } = await import('./function.js');
      if (!options.function) throw new Error('function models need the function options (model name, logger)');
      return FunctionRuntime.load({ ...options, ...options.function });
    }
    case 'xgboost': {
      const { XGBoostRuntime } = await import('./xgboost.js');
      return XGBoostRuntime.load(options);
    }
  }
}
