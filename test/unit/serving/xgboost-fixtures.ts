/**
 * The XGBoost fixtures (test/fixtures/models/xgboost, made by generate.py with xgboost 1.7.4) and helpers to
 * compare with the reference outputs xgboost computed for them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const xgboostFixturesDir = fileURLToPath(new URL('../../fixtures/models/xgboost/', import.meta.url));

/** Every fixture model: directory name under {@link xgboostFixturesDir}. */
export const XGBOOST_FIXTURES = [
  'iris-softprob',
  'iris-softmax',
  'iris-forest',
  'cancer-logistic',
  'cancer-logitraw',
  'cancer-reglogistic',
  'diabetes-squarederror',
  'diabetes-poisson',
  'diabetes-dart',
] as const;
export type XGBoostFixture = (typeof XGBOOST_FIXTURES)[number];

export interface XGBoostReference {
  objective: string;
  booster: string;
  num_feature: number;
  num_class: number;
  base_score: number;
  /** Test rows; `null` is a missing value (NaN for xgboost). */
  instances: (number | null)[][];
  /** `Booster.predict(DMatrix(instances))`: [n] or [n, num_class] for multi:softprob. */
  predictions: number[] | number[][];
  /** The same with `output_margin=True`: [n] or [n, num_class] for multi-class objectives. */
  margins: number[] | number[][];
}

export function readReference(name: XGBoostFixture): XGBoostReference {
  return JSON.parse(readFileSync(`${xgboostFixturesDir}${name}/reference.json`, 'utf8')) as XGBoostReference;
}

export function readModelText(name: string): string {
  return readFileSync(`${xgboostFixturesDir}${name}`, 'utf8');
}

/** Row-major float32 features, `null` → NaN (what the server's tensor parser makes of the same JSON). */
export function features(rows: readonly (readonly (number | null)[])[]): Float32Array {
  return Float32Array.from(rows.flat(), (v) => (v === null ? Number.NaN : v));
}

/**
 * Equal to 1e-6: absolutely for values up to 1, relatively beyond (a float32 near 200 has a resolution of 1.5e-5,
 * so an absolute 1e-6 would demand more than float32 holds).
 */
export function expectClose(actual: ArrayLike<number>, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const a = actual[i] as number;
    const tolerance = 1e-6 * Math.max(1, Math.abs(e));
    if (!(Math.abs(a - e) <= tolerance)) {
      expect.fail(`element ${i}: got ${a}, expected ${e} (tolerance ${tolerance})`);
    }
  }
}
