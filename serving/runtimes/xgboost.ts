/**
 * The xgboost runtime: XGBoost's JSON model format evaluated natively (xgboost-model.ts), no native code.
 * Platform `xgboost_json`.
 *
 * Input  `input`       FP32 [-1, num_feature]; `null` elements are missing values (NaN), like NaN in a DMatrix.
 * Output `predictions` FP32 [-1] or, for multi:softprob, [-1, num_class]: what `Booster.predict` returns
 *        (probabilities for the logistic objectives, margins for binary:logitraw, expected counts for
 *        count:poisson, and for multi:softmax the class index as a float, as xgboost returns it).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../log.js';
import type { Tensor, TensorMetadata } from '../tensors.js';
import { ModelLoadError, type Runtime, type RuntimeOptions } from './runtime.js';
import { XGBoostModel } from './xgboost-model.js';

export const XGBOOST_INPUT = 'input';
export const XGBOOST_OUTPUT = 'predictions';

export class XGBoostRuntime implements Runtime {
  readonly platform = 'xgboost_json';
  /** Rows are independent and every input and output starts with the batch dimension. */
  readonly batchable = true;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];

  constructor(readonly model: XGBoostModel) {
    const { numFeature } = model.info;
    this.inputs = [{ name: XGBOOST_INPUT, datatype: 'FP32', shape: [-1, numFeature], nullable: true }];
    const shape = model.predictionWidth > 1 ? [-1, model.predictionWidth] : [-1];
    this.outputs = [{ name: XGBOOST_OUTPUT, datatype: 'FP32', shape }];
  }

  static async load(options: RuntimeOptions): Promise<XGBoostRuntime> {
    const file = path.basename(options.modelPath);
    let text: string;
    try {
      text = await readFile(options.modelPath, 'utf8');
    } catch (err) {
      throw new ModelLoadError(`xgboost: cannot read ${file}: ${errorMessage(err)}`);
    }
    return new XGBoostRuntime(XGBoostModel.parse(text));
  }

  async infer(inputs: ReadonlyMap<string, Tensor>, outputs?: readonly string[]): Promise<Map<string, Tensor>> {
    const input = inputs.get(XGBOOST_INPUT);
    if (!input || !(input.data instanceof Float32Array) || input.shape.length !== 2) {
      throw new Error(`expected input '${XGBOOST_INPUT}' as FP32 [rows, ${this.model.info.numFeature}]`);
    }
    const rows = input.shape[0] as number;
    const data = this.model.predict(input.data, rows);
    const width = this.model.predictionWidth;
    const out = new Map<string, Tensor>();
    if (!outputs || outputs.includes(XGBOOST_OUTPUT)) {
      out.set(XGBOOST_OUTPUT, { datatype: 'FP32', shape: width > 1 ? [rows, width] : [rows], data });
    }
    return out;
  }

  async close(): Promise<void> {}
}
