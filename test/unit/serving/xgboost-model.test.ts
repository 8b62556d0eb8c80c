/**
 * The XGBoost JSON evaluator (serving/runtimes/xgboost-model.ts): every objective against what xgboost 1.7.4 computed
 * for the fixtures, the split and missing-value rules and the float32 arithmetic on hand-built trees, multi-class
 * grouping, and precise load errors for malformed and unsupported models.
 */
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../../serving/runtimes/runtime.js';
import { XGBOOST_OBJECTIVES, XGBoostModel } from '../../../serving/runtimes/xgboost-model.js';
import {
  expectClose,
  features,
  readModelText,
  readReference,
  XGBOOST_FIXTURES,
  type XGBoostFixture,
} from './xgboost-fixtures.js';

const load = (name: XGBoostFixture) => XGBoostModel.parse(readModelText(`${name}/model.json`));

function loadError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ModelLoadError);
    return (err as Error).message;
  }
  throw new Error('expected a ModelLoadError');
}

// ---- hand-built models ------------------------------------------------------------------------------------------

interface Node {
  /** Internal node: split on `feature` at `threshold`; children by index. */
  split?: { feature: number; threshold: number; left: number; right: number; defaultLeft?: boolean };
  leaf?: number;
}

function tree(nodes: Node[], id = 0): Record<string, unknown> {
  return {
    id,
    left_children: nodes.map((n) => n.split?.left ?? -1),
    right_children: nodes.map((n) => n.split?.right ?? -1),
    split_indices: nodes.map((n) => n.split?.feature ?? 0),
    split_conditions: nodes.map((n) => n.split?.threshold ?? n.leaf ?? 0),
    default_left: nodes.map((n) => (n.split?.defaultLeft ? 1 : 0)),
    split_type: nodes.map(() => 0),
    base_weights: nodes.map(() => 0),
    tree_param: { num_deleted: '0', num_feature: '2', num_nodes: String(nodes.length), size_leaf_vector: '0' },
  };
}

/** `x[feature] < threshold` → `left`, else `right`; missing → left when `defaultLeft`. */
const stump = (feature: number, threshold: number, left: number, right: number, defaultLeft = false) =>
  tree([{ split: { feature, threshold, left: 1, right: 2, defaultLeft } }, { leaf: left }, { leaf: right }]);

const leafOnly = (value: number) => tree([{ leaf: value }]);

interface ModelOptions {
  objective?: string;
  baseScore?: number | string;
  numFeature?: number;
  numClass?: number;
  treeInfo?: number[];
  booster?: 'gbtree' | 'dart' | 'gblinear';
  weightDrop?: number[];
}

function modelJson(trees: Record<string, unknown>[], o: ModelOptions = {}): Record<string, unknown> {
  const gbtree = {
    name: 'gbtree',
    model: {
      gbtree_model_param: { num_parallel_tree: '1', num_trees: String(trees.length), size_leaf_vector: '0' },
      tree_info: o.treeInfo ?? trees.map(() => 0),
      trees,
    },
  };
  const gradientBooster =
    o.booster === 'dart' ? { name: 'dart', gbtree, weight_drop: o.weightDrop ?? trees.map(() => 1) } : gbtree;
  if (o.booster === 'gblinear') Object.assign(gradientBooster, { name: 'gblinear' });
  return {
    learner: {
      attributes: {},
      feature_names: [],
      feature_types: [],
      gradient_booster: gradientBooster,
      learner_model_param: {
        base_score: String(o.baseScore ?? '0'),
        boost_from_average: '1',
        num_class: String(o.numClass ?? 0),
        num_feature: String(o.numFeature ?? 2),
        num_target: '1',
      },
      objective: { name: o.objective ?? 'reg:squarederror' },
    },
    version: [1, 7, 4],
  };
}

const build = (trees: Record<string, unknown>[], o?: ModelOptions) => XGBoostModel.fromJson(modelJson(trees, o));

// ---- fixtures: xgboost's own outputs -----------------------------------------------------------------------------

describe('XGBoostModel against xgboost 1.7.4 (fixtures)', () => {
  it('should cover every supported objective and both tree boosters', () => {
    const refs = XGBOOST_FIXTURES.map(readReference);
    expect(new Set(refs.map((r) => r.objective))).toEqual(new Set(XGBOOST_OBJECTIVES));
    expect(new Set(refs.map((r) => r.booster))).toEqual(new Set(['gbtree', 'dart']));
    // Missing values in every fixture's test rows, including a row with every feature missing.
    for (const r of refs) {
      expect(r.instances.some((row) => row.every((v) => v === null))).toBe(true);
      expect(r.instances.some((row) => row.some((v) => v === null) && row.some((v) => v !== null))).toBe(true);
    }
  });

  it.each(XGBOOST_FIXTURES)('%s: predictions and margins equal Booster.predict to 1e-6', (name) => {
    const ref = readReference(name);
    const model = load(name);
    expect(model.info).toMatchObject({
      objective: ref.objective,
      booster: ref.booster,
      numFeature: ref.num_feature,
      numClass: ref.num_class,
      baseScore: ref.base_score,
      xgboostVersion: '1.7.4',
    });
    const x = features(ref.instances);
    const rows = ref.instances.length;
    expectClose(model.predict(x, rows), ref.predictions.flat());
    expectClose(model.margins(x, rows), ref.margins.flat());
  });

  it('should give predictions one value per row, or num_class per row for multi:softprob', () => {
    expect(load('iris-softprob').predictionWidth).toBe(3);
    expect(load('iris-softmax').predictionWidth).toBe(1);
    expect(load('cancer-logistic').predictionWidth).toBe(1);
    expect(load('iris-softmax').info.numGroups).toBe(3);
  });

  it('should group trees by tree_info, which for a boosted forest is blocks per class, not round-robin', () => {
    const text = readModelText('iris-forest/model.json');
    const json = JSON.parse(text) as { learner: { gradient_booster: { model: { tree_info: number[] } } } };
    expect(json.learner.gradient_booster.model.tree_info.slice(0, 6)).toEqual([0, 0, 1, 1, 2, 2]);
    const ref = readReference('iris-forest');
    expectClose(load('iris-forest').margins(features(ref.instances), ref.instances.length), ref.margins.flat());
  });

  it('should read the fixtures the same in any row order and batch size (rows are independent)', () => {
    const ref = readReference('iris-softprob');
    const model = load('iris-softprob');
    const expected = ref.predictions as number[][];
    ref.instances.forEach((row, i) => {
      expectClose(model.predict(features([row]), 1), expected[i] as number[]);
    });
  });
});

// ---- exact semantics on hand-built trees --------------------------------------------------------------------------

describe('XGBoostModel split and missing-value rules', () => {
  it('should go left when x < threshold and right when x >= threshold', () => {
    const model = build([stump(0, 0.5, -1, 1)]);
    expect(Array.from(model.margins(Float32Array.from([0.4, 0, 0.5, 0, 0.6, 0]), 3))).toEqual([-1, 1, 1]);
  });

  it("should send a missing value (NaN) to the split's default child", () => {
    const right = build([stump(0, 0.5, -1, 1, false)]);
    const left = build([stump(0, 0.5, -1, 1, true)]);
    const x = Float32Array.from([Number.NaN, 0]);
    expect(Array.from(right.margins(x, 1))).toEqual([1]);
    expect(Array.from(left.margins(x, 1))).toEqual([-1]);
  });

  it('should follow default directions all the way down when every feature is missing', () => {
    const deep = tree([
      { split: { feature: 0, threshold: 0, left: 1, right: 2, defaultLeft: false } },
      { leaf: 10 },
      { split: { feature: 1, threshold: 0, left: 3, right: 4, defaultLeft: true } },
      { leaf: 20 },
      { leaf: 30 },
    ]);
    const model = build([deep]);
    expect(Array.from(model.margins(Float32Array.from([Number.NaN, Number.NaN, Number.NaN, 5]), 2))).toEqual([20, 30]);
  });

  it('should compare float32 features with float32 thresholds', () => {
    // 0.1 as float32 is 0.10000000149...; the float64 0.1 is below it, its float32 rounding is not.
    const model = build([stump(0, 0.1, -1, 1)]);
    expect(Array.from(model.margins(Float32Array.from([0.1, 0]), 1))).toEqual([1]);
  });

  it('should use the right child from right_children, not left + 1', () => {
    const t = tree([{ split: { feature: 0, threshold: 0, left: 2, right: 1 } }, { leaf: 7 }, { leaf: -7 }]);
    expect(Array.from(build([t]).margins(Float32Array.from([-1, 0, 1, 0]), 2))).toEqual([-7, 7]);
  });

  it('should ignore nodes no path reaches (deleted nodes)', () => {
    const t = tree([
      { split: { feature: 0, threshold: 0, left: 1, right: 2 } },
      { leaf: 1 },
      { leaf: 2 },
      { split: { feature: 99, threshold: Number.NaN, left: 3, right: 3 } },
    ]);
    expect(Array.from(build([t]).margins(Float32Array.from([-1, 0]), 1))).toEqual([1]);
  });

  it('should add leaf values in float32, tree by tree, starting from the base margin', () => {
    // 1e8 + 1 is not a float32 (spacing 8 there): xgboost's float accumulator stays at 1e8.
    const model = build([leafOnly(1e8), leafOnly(1), leafOnly(1)], { baseScore: 0 });
    expect(Array.from(model.margins(new Float32Array(2), 1))).toEqual([1e8]);
    const small = build([leafOnly(0.1), leafOnly(0.2)], { baseScore: 0.5 });
    expect(small.margins(new Float32Array(2), 1)[0]).toBe(
      Math.fround(Math.fround(0.5 + Math.fround(0.1)) + Math.fround(0.2)),
    );
  });

  it('should sum each output group over the trees whose tree_info is that group', () => {
    const model = build([leafOnly(1), leafOnly(2), leafOnly(4), leafOnly(8)], {
      objective: 'multi:softprob',
      numClass: 3,
      treeInfo: [2, 0, 2, 1],
      baseScore: 0.5,
    });
    expect(Array.from(model.margins(new Float32Array(2), 1))).toEqual([2.5, 8.5, 5.5]);
  });

  it('should scale every dart tree by its weight_drop', () => {
    const model = build([leafOnly(10), leafOnly(10)], { booster: 'dart', weightDrop: [0.5, 0.25], baseScore: 1 });
    expect(Array.from(model.margins(new Float32Array(2), 1))).toEqual([8.5]);
    expect(model.info.booster).toBe('dart');
  });
});

describe('XGBoostModel objectives', () => {
  const x = new Float32Array(2);

  it('should start logistic objectives from logit(base_score) and return probabilities', () => {
    for (const objective of ['binary:logistic', 'reg:logistic']) {
      const model = build([leafOnly(0)], { objective, baseScore: 0.3 });
      expect(model.info.baseMargin).toBe(Math.fround(Math.log(0.3 / 0.7)));
      expect(model.predict(x, 1)[0]).toBeCloseTo(0.3, 6);
    }
  });

  it('should start binary:logitraw from base_score itself and return the margin', () => {
    const model = build([leafOnly(0.25)], { objective: 'binary:logitraw', baseScore: 0.7 });
    expect(Array.from(model.predict(x, 1))).toEqual([Math.fround(0.95)]);
  });

  it('should start count:poisson from log(base_score) and return exp(margin)', () => {
    const model = build([leafOnly(Math.log(2))], { objective: 'count:poisson', baseScore: 2.5 });
    expect(model.info.baseMargin).toBe(Math.fround(Math.log(2.5)));
    expect(model.predict(x, 1)[0]).toBeCloseTo(5, 5);
  });

  it('should not overflow the sigmoid on large margins', () => {
    const model = build([leafOnly(-1000), leafOnly(1000)], {
      objective: 'binary:logistic',
      baseScore: 0.5,
      treeInfo: [0, 0],
    });
    const p = model.predict(Float32Array.from([0, 0]), 1)[0] as number;
    expect(Number.isFinite(p)).toBe(true);
    const low = build([leafOnly(-1000)], { objective: 'binary:logistic', baseScore: 0.5 }).predict(x, 1)[0];
    const high = build([leafOnly(1000)], { objective: 'binary:logistic', baseScore: 0.5 }).predict(x, 1)[0];
    expect(low).toBeGreaterThanOrEqual(0);
    expect(low).toBeLessThan(1e-30);
    expect(high).toBe(1);
  });

  it('should return softmax probabilities for multi:softprob and the first largest class for multi:softmax', () => {
    const trees = [leafOnly(1), leafOnly(3), leafOnly(3)];
    const o = { numClass: 3, treeInfo: [0, 1, 2], baseScore: 0 };
    const prob = build(trees, { ...o, objective: 'multi:softprob' }).predict(x, 1);
    const e = [Math.exp(1), Math.exp(3), Math.exp(3)];
    const sum = e[0]! + e[1]! + e[2]!;
    expectCloseTo(
      Array.from(prob),
      e.map((v) => v / sum),
    );
    expect(Array.from(build(trees, { ...o, objective: 'multi:softmax' }).predict(x, 1))).toEqual([1]);
  });
});

function expectCloseTo(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => {
    expect(v).toBeCloseTo(expected[i] as number, 6);
  });
}

// ---- load errors ------------------------------------------------------------------------------------------------

describe('XGBoostModel load errors', () => {
  it('should refuse the unsupported fixtures xgboost wrote, naming what is not supported', () => {
    expect(loadError(() => XGBoostModel.parse(readModelText('unsupported/gblinear.json')))).toBe(
      'xgboost: booster gblinear is not supported (supported: gbtree, dart)',
    );
    expect(loadError(() => XGBoostModel.parse(readModelText('unsupported/rank-pairwise.json')))).toBe(
      'xgboost: objective rank:pairwise is not supported (supported: reg:squarederror, reg:logistic, ' +
        'binary:logistic, binary:logitraw, multi:softprob, multi:softmax, count:poisson)',
    );
    // xgboost writes NaN (not JSON) as the threshold of categorical splits.
    expect(loadError(() => XGBoostModel.parse(readModelText('unsupported/categorical.json')))).toBe(
      'xgboost: tree 0: node 0 is a categorical split; categorical features are not supported',
    );
  });

  it('should refuse text that is not JSON, saying how to save the model', () => {
    expect(loadError(() => XGBoostModel.parse('{L\u0000\u0007learner'))).toMatch(
      /^xgboost: the model file is not JSON \(.+\); save the model with Booster\.save_model\('model\.json'\) \(UBJSON and the legacy binary format are not supported\)$/,
    );
  });

  const valid = () => modelJson([stump(0, 0.5, -1, 1)]);
  // biome-ignore lint/suspicious/noExplicitAny: each case reaches into the model JSON to break one thing
  type Json = Record<string, any>;
  const learner = (j: Json) => j.learner as Json;
  const firstTree = (j: Json) => learner(j).gradient_booster.model.trees[0] as Json;

  it.each<[string, (j: Json) => unknown, string]>([
    ['a JSON array', () => [], 'xgboost: the model file must be an object, got []'],
    [
      'no learner',
      (j) => {
        delete j.learner;
        return j;
      },
      'xgboost: learner must be an object, got undefined',
    ],
    [
      'no objective',
      (j) => {
        delete learner(j).objective;
        return j;
      },
      'xgboost: learner.objective must be an object, got undefined',
    ],
    [
      'a num_feature of 0',
      (j) => {
        learner(j).learner_model_param.num_feature = '0';
        return j;
      },
      'xgboost: learner.learner_model_param.num_feature must be an integer >= 1, got "0"',
    ],
    [
      'a base_score that is not a number',
      (j) => {
        learner(j).learner_model_param.base_score = 'half';
        return j;
      },
      'xgboost: learner.learner_model_param.base_score must be a finite number, got "half"',
    ],
    [
      'a multi-target model',
      (j) => {
        learner(j).learner_model_param.num_target = '2';
        return j;
      },
      'xgboost: multi-target models are not supported (num_target 2)',
    ],
    [
      'multi:softprob without num_class',
      (j) => {
        learner(j).objective.name = 'multi:softprob';
        return j;
      },
      'xgboost: multi:softprob needs num_class >= 1, got 0',
    ],
    [
      'num_class with a single-output objective',
      (j) => {
        learner(j).learner_model_param.num_class = '3';
        return j;
      },
      'xgboost: num_class is 3, but reg:squarederror has a single output',
    ],
    [
      'base_score 1 for binary:logistic',
      (j) => {
        learner(j).objective.name = 'binary:logistic';
        learner(j).learner_model_param.base_score = '1';
        return j;
      },
      'xgboost: base_score must be in (0, 1) for binary:logistic, got 1',
    ],
    [
      'tree_info of another length',
      (j) => {
        learner(j).gradient_booster.model.tree_info = [0, 0];
        return j;
      },
      'xgboost: tree_info has 2 elements, but there are 1 trees',
    ],
    [
      'a tree_info beyond the output groups',
      (j) => {
        learner(j).gradient_booster.model.tree_info = [1];
        return j;
      },
      'xgboost: tree_info[0] is 1, but the model has 1 output group(s)',
    ],
    [
      'num_trees that disagrees',
      (j) => {
        learner(j).gradient_booster.model.gbtree_model_param.num_trees = '2';
        return j;
      },
      'xgboost: gbtree_model_param.num_trees is 2, but there are 1 trees',
    ],
    [
      'a tree array of another length',
      (j) => {
        firstTree(j).right_children = [2, -1];
        return j;
      },
      'xgboost: tree 0: right_children has 2 elements, left_children has 3',
    ],
    [
      'num_nodes that disagrees',
      (j) => {
        firstTree(j).tree_param.num_nodes = '5';
        return j;
      },
      'xgboost: tree 0: left_children has 3 elements, but tree_param.num_nodes is 5',
    ],
    [
      'no nodes',
      (j) => {
        Object.assign(firstTree(j), {
          left_children: [],
          right_children: [],
          split_indices: [],
          split_conditions: [],
          default_left: [],
          split_type: [],
        });
        delete firstTree(j).tree_param;
        return j;
      },
      'xgboost: tree 0 has no nodes',
    ],
    [
      'a child out of range',
      (j) => {
        firstTree(j).right_children[0] = 3;
        return j;
      },
      'xgboost: tree 0: node 0 has a child out of range (left 1, right 3; 3 nodes)',
    ],
    [
      'one child only',
      (j) => {
        firstTree(j).right_children[0] = -1;
        return j;
      },
      'xgboost: tree 0: node 0 has one child (left 1, right -1)',
    ],
    [
      'a cycle',
      (j) => {
        firstTree(j).left_children[1] = 0;
        firstTree(j).right_children[1] = 2;
        return j;
      },
      'xgboost: tree 0 is not a tree: node 0 is reached twice',
    ],
    [
      'a split on a feature the model does not have',
      (j) => {
        firstTree(j).split_indices[0] = 2;
        return j;
      },
      'xgboost: tree 0: node 0 splits on feature 2, but the model has 2 features',
    ],
    [
      'a leaf value that is not a number',
      (j) => {
        firstTree(j).split_conditions[1] = null;
        return j;
      },
      'xgboost: tree 0: leaf value split_conditions[1] must be a finite number, got null',
    ],
    [
      'a default_left that is not 0 or 1',
      (j) => {
        firstTree(j).default_left[0] = 2;
        return j;
      },
      'xgboost: tree 0: default_left[0] must be 0 or 1, got 2',
    ],
    [
      'a categorical split',
      (j) => {
        firstTree(j).split_type[0] = 1;
        return j;
      },
      'xgboost: tree 0: node 0 is a categorical split; categorical features are not supported',
    ],
    [
      'vector leaves',
      (j) => {
        firstTree(j).tree_param.size_leaf_vector = '3';
        return j;
      },
      'xgboost: tree 0 has vector leaves (size_leaf_vector 3); multi-target trees are not supported',
    ],
    [
      'a dart model without weight_drop for every tree',
      () => {
        const j = modelJson([leafOnly(1), leafOnly(2)], { booster: 'dart' }) as Json;
        learner(j).gradient_booster.weight_drop = [1];
        return j;
      },
      'xgboost: weight_drop has 1 elements, but there are 2 trees',
    ],
  ])('should refuse %s', (_what, mutate, message) => {
    expect(loadError(() => XGBoostModel.fromJson(mutate(valid())))).toBe(message);
  });

  it('should read a bare NaN in the file as a value that is not a number', () => {
    const text = JSON.stringify(valid()).replace('"split_conditions":[0.5,-1,1]', '"split_conditions":[0.5,NaN,1]');
    expect(loadError(() => XGBoostModel.parse(text))).toBe(
      'xgboost: tree 0: leaf value split_conditions[1] must be a finite number, got "NaN"',
    );
  });

  it('should accept a valid hand-built model (the cases above each break one thing)', () => {
    expect(XGBoostModel.fromJson(valid()).info).toMatchObject({ numTrees: 1, numFeature: 2, numGroups: 1 });
  });
});
