/**
 * A native evaluator for XGBoost's JSON model format (`Booster.save_model('model.json')`), written against
 * xgboost 1.7.4's CPU predictor so that predictions equal `Booster.predict` (to float32 rounding):
 *
 * - boosters `gbtree` and `dart` (each tree's leaf values scaled by its `weight_drop`); `gblinear` is refused;
 * - objectives reg:squarederror, reg:logistic, binary:logistic, binary:logitraw, multi:softprob, multi:softmax,
 *   count:poisson; anything else is refused at load;
 * - numerical splits only: feature values and thresholds are float32, `x < threshold` goes to the left child,
 *   a missing value (NaN) to the split's default child; categorical splits and multi-target trees are refused;
 * - the margin of output group g starts at `base_score` turned into a margin (logit for reg:logistic and
 *   binary:logistic, log for count:poisson, as is otherwise, binary:logitraw included) and adds, in float32 and in tree order, the leaf value of every tree
 *   whose `tree_info` is g (trees are grouped by `tree_info`, which holds for boosted forests too);
 * - the objective's transform then gives the prediction: sigmoid, exp, softmax over the groups, or the index of the
 *   largest margin (the first on ties) as a float for multi:softmax.
 *
 * Everything about the file is checked at load (structure, array lengths, indices, that each tree is a tree):
 * failures are {@link ModelLoadError}s saying what is wrong and where, prefixed `xgboost: `.
 */
import { ModelLoadError } from './runtime.js';

export const XGBOOST_OBJECTIVES = [
  'reg:squarederror',
  'reg:logistic',
  'binary:logistic',
  'binary:logitraw',
  'multi:softprob',
  'multi:softmax',
  'count:poisson',
] as const;
export type XGBoostObjective = (typeof XGBOOST_OBJECTIVES)[number];

export const XGBOOST_BOOSTERS = ['gbtree', 'dart'] as const;
export type XGBoostBooster = (typeof XGBOOST_BOOSTERS)[number];

/** What the model file says, for metadata and logs. */
export interface XGBoostModelInfo {
  readonly objective: XGBoostObjective;
  readonly booster: XGBoostBooster;
  readonly numFeature: number;
  /** As in the file: 0 for single-output objectives. */
  readonly numClass: number;
  /** Output groups (margins per row): `num_class` for multi-class objectives, 1 otherwise. */
  readonly numGroups: number;
  /** `base_score` as stored (a probability for the logistic objectives, a mean count for count:poisson). */
  readonly baseScore: number;
  /** `base_score` as a float32 margin, the starting value of every group's sum. */
  readonly baseMargin: number;
  readonly numTrees: number;
  readonly featureNames: readonly string[];
  /** `version` of the file, e.g. `1.7.4`; undefined when absent. */
  readonly xgboostVersion: string | undefined;
}

const fail = (message: string): never => {
  throw new ModelLoadError(`xgboost: ${message}`);
};

function preview(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`${where} must be an object, got ${preview(value)}`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) return fail(`${where} must be an array, got ${preview(value)}`);
  return value;
}

/** A number, or a string holding one (XGBoost writes model parameters as strings, e.g. `"5E-1"`). */
function finite(value: unknown, where: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return fail(`${where} must be a finite number, got ${preview(value)}`);
  return n;
}

function integer(value: unknown, where: string, min: number): number {
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) return fail(`${where} must be an integer >= ${min}, got ${preview(value)}`);
  return n;
}

/** The transform from `base_score` to a margin (xgboost's `ProbToMargin`), in float32. */
function baseMarginOf(objective: XGBoostObjective, baseScore: number): number {
  const b = Math.fround(baseScore);
  switch (objective) {
    case 'reg:logistic':
    case 'binary:logistic':
      if (!(b > 0 && b < 1)) fail(`base_score must be in (0, 1) for ${objective}, got ${baseScore}`);
      return Math.fround(-Math.log(Math.fround(Math.fround(1 / b) - 1)));
    case 'count:poisson':
      if (!(b > 0)) fail(`base_score must be > 0 for ${objective}, got ${baseScore}`);
      return Math.fround(Math.log(b));
    default:
      return b;
  }
}

/** One tree, checked, with only the nodes reachable from its root (in depth-first order, root first). */
interface ParsedTree {
  readonly left: number[];
  readonly right: number[];
  readonly feature: number[];
  /** Split threshold for internal nodes, leaf value for leaves (both are `split_conditions` in the file). */
  readonly value: number[];
  readonly defaultLeft: boolean[];
}

function parseTree(raw: unknown, t: number, numFeature: number): ParsedTree {
  const where = `tree ${t}`;
  const tree = object(raw, where);
  const param = tree.tree_param === undefined ? {} : object(tree.tree_param, `${where}: tree_param`);
  if (param.size_leaf_vector !== undefined && integer(param.size_leaf_vector, `${where}: size_leaf_vector`, 0) > 0) {
    fail(
      `${where} has vector leaves (size_leaf_vector ${param.size_leaf_vector}); multi-target trees are not supported`,
    );
  }
  const left = array(tree.left_children, `${where}: left_children`);
  const n = left.length;
  if (n === 0) fail(`${where} has no nodes`);
  if (param.num_nodes !== undefined && integer(param.num_nodes, `${where}: tree_param.num_nodes`, 1) !== n) {
    fail(`${where}: left_children has ${n} elements, but tree_param.num_nodes is ${param.num_nodes}`);
  }
  const field = (name: string): unknown[] => {
    const a = array(tree[name], `${where}: ${name}`);
    if (a.length !== n) fail(`${where}: ${name} has ${a.length} elements, left_children has ${n}`);
    return a;
  };
  const right = field('right_children');
  const splitIndices = field('split_indices');
  const splitConditions = field('split_conditions');
  const defaultLeft = field('default_left');
  const splitType = tree.split_type === undefined ? undefined : field('split_type');

  const out: ParsedTree = { left: [], right: [], feature: [], value: [], defaultLeft: [] };
  const seen = new Uint8Array(n);
  // Depth-first from the root; each entry says which child slot of its (new) parent the node fills.
  const stack: { node: number; parent: number; isLeft: boolean }[] = [{ node: 0, parent: -1, isLeft: true }];
  while (stack.length > 0) {
    const { node, parent, isLeft } = stack.pop() as { node: number; parent: number; isLeft: boolean };
    if (seen[node]) fail(`${where} is not a tree: node ${node} is reached twice`);
    seen[node] = 1;
    const index = out.left.length;
    if (parent >= 0) (isLeft ? out.left : out.right)[parent] = index;
    const l = integer(left[node], `${where}: left_children[${node}]`, -1);
    const r = integer(right[node], `${where}: right_children[${node}]`, -1);
    if (l === -1 || r === -1) {
      if (l !== r) fail(`${where}: node ${node} has one child (left ${l}, right ${r})`);
      out.left.push(-1);
      out.right.push(-1);
      out.feature.push(0);
      out.value.push(Math.fround(finite(splitConditions[node], `${where}: leaf value split_conditions[${node}]`)));
      out.defaultLeft.push(false);
      continue;
    }
    if (l >= n || r >= n) fail(`${where}: node ${node} has a child out of range (left ${l}, right ${r}; ${n} nodes)`);
    if (splitType !== undefined && splitType[node] !== 0) {
      fail(`${where}: node ${node} is a categorical split; categorical features are not supported`);
    }
    const value = Math.fround(finite(splitConditions[node], `${where}: threshold split_conditions[${node}]`));
    const feature = integer(splitIndices[node], `${where}: split_indices[${node}]`, 0);
    if (feature >= numFeature) {
      fail(`${where}: node ${node} splits on feature ${feature}, but the model has ${numFeature} features`);
    }
    const dl = defaultLeft[node];
    if (dl !== 0 && dl !== 1 && dl !== true && dl !== false) {
      fail(`${where}: default_left[${node}] must be 0 or 1, got ${preview(dl)}`);
    }
    out.left.push(-1); // set when the child is visited
    out.right.push(-1);
    out.feature.push(feature);
    out.value.push(value);
    out.defaultLeft.push(dl === 1 || dl === true);
    // Right pushed first so the left subtree is laid out first.
    stack.push({ node: r, parent: index, isLeft: false }, { node: l, parent: index, isLeft: true });
  }
  return out;
}

function parseObjective(learner: Record<string, unknown>): XGBoostObjective {
  const objective = object(learner.objective, 'learner.objective');
  const name = objective.name;
  if (typeof name !== 'string') return fail(`learner.objective.name must be a string, got ${preview(name)}`);
  if (!(XGBOOST_OBJECTIVES as readonly string[]).includes(name)) {
    fail(`objective ${name} is not supported (supported: ${XGBOOST_OBJECTIVES.join(', ')})`);
  }
  return name as XGBoostObjective;
}

function parseVersion(value: unknown): string | undefined {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v)) ? value.join('.') : undefined;
}

/** A loaded booster: flat typed arrays over every tree, evaluated row by row. */
export class XGBoostModel {
  /** Width of a row of {@link predict}: `num_class` for multi:softprob, 1 otherwise. */
  readonly predictionWidth: number;

  private constructor(
    readonly info: XGBoostModelInfo,
    /** Absolute index of the left child, -1 for leaves. */
    private readonly left: Int32Array,
    private readonly right: Int32Array,
    private readonly feature: Int32Array,
    /** Thresholds of internal nodes, leaf values (times the dart weight) of leaves. */
    private readonly value: Float32Array,
    private readonly defaultLeft: Uint8Array,
    private readonly roots: Int32Array,
    private readonly groups: Int32Array,
  ) {
    this.predictionWidth = info.objective === 'multi:softprob' ? info.numGroups : 1;
  }

  /**
   * Parses JSON text; see {@link fromJson}. XGBoost writes `NaN` (not JSON) as the threshold of categorical splits;
   * such bare `NaN`s are read as the string `"NaN"`, so that the model is refused for what it is.
   */
  static parse(text: string): XGBoostModel {
    let json: unknown;
    try {
      json = parseWithNaN(text);
    } catch (err) {
      return fail(
        `the model file is not JSON (${(err as Error).message}); save the model with ` +
          `Booster.save_model('model.json') (UBJSON and the legacy binary format are not supported)`,
      );
    }
    return XGBoostModel.fromJson(json);
  }

  /** Checks a parsed `Booster.save_model` JSON document and builds the evaluator; throws {@link ModelLoadError}. */
  static fromJson(json: unknown): XGBoostModel {
    const root = object(json, 'the model file');
    const learner = object(root.learner, 'learner');
    const objective = parseObjective(learner);
    const mp = object(learner.learner_model_param, 'learner.learner_model_param');
    const numFeature = integer(mp.num_feature, 'learner.learner_model_param.num_feature', 1);
    const numClass = integer(mp.num_class ?? 0, 'learner.learner_model_param.num_class', 0);
    const baseScore = finite(mp.base_score, 'learner.learner_model_param.base_score');
    if (mp.num_target !== undefined && integer(mp.num_target, 'learner.learner_model_param.num_target', 1) !== 1) {
      fail(`multi-target models are not supported (num_target ${mp.num_target})`);
    }
    const multi = objective === 'multi:softprob' || objective === 'multi:softmax';
    if (multi && numClass < 1) fail(`${objective} needs num_class >= 1, got ${numClass}`);
    if (!multi && numClass > 1) fail(`num_class is ${numClass}, but ${objective} has a single output`);
    const numGroups = multi ? numClass : 1;

    const gb = object(learner.gradient_booster, 'learner.gradient_booster');
    const boosterName = gb.name;
    if (!(XGBOOST_BOOSTERS as readonly unknown[]).includes(boosterName)) {
      fail(`booster ${String(boosterName)} is not supported (supported: ${XGBOOST_BOOSTERS.join(', ')})`);
    }
    const booster = boosterName as XGBoostBooster;
    const gbtree = booster === 'dart' ? object(gb.gbtree, 'learner.gradient_booster.gbtree') : gb;
    const model = object(gbtree.model, 'gradient_booster model');
    const trees = array(model.trees, 'gradient_booster model.trees');
    const treeInfo = array(model.tree_info, 'gradient_booster model.tree_info');
    if (treeInfo.length !== trees.length) {
      fail(`tree_info has ${treeInfo.length} elements, but there are ${trees.length} trees`);
    }
    const param =
      model.gbtree_model_param === undefined ? undefined : object(model.gbtree_model_param, 'gbtree_model_param');
    if (
      param?.num_trees !== undefined &&
      integer(param.num_trees, 'gbtree_model_param.num_trees', 0) !== trees.length
    ) {
      fail(`gbtree_model_param.num_trees is ${param.num_trees}, but there are ${trees.length} trees`);
    }
    let weights: number[] | undefined;
    if (booster === 'dart') {
      const raw = array(gb.weight_drop, 'learner.gradient_booster.weight_drop');
      if (raw.length !== trees.length)
        fail(`weight_drop has ${raw.length} elements, but there are ${trees.length} trees`);
      weights = raw.map((w, i) => Math.fround(finite(w, `weight_drop[${i}]`)));
    }

    const parsed = trees.map((t, i) => parseTree(t, i, numFeature));
    const total = parsed.reduce((sum, t) => sum + t.left.length, 0);
    const left = new Int32Array(total);
    const right = new Int32Array(total);
    const feature = new Int32Array(total);
    const value = new Float32Array(total);
    const defaultLeft = new Uint8Array(total);
    const roots = new Int32Array(parsed.length);
    const groups = new Int32Array(parsed.length);
    let offset = 0;
    parsed.forEach((tree, t) => {
      const group = integer(treeInfo[t], `tree_info[${t}]`, 0);
      if (group >= numGroups) fail(`tree_info[${t}] is ${group}, but the model has ${numGroups} output group(s)`);
      groups[t] = group;
      roots[t] = offset;
      const w = weights?.[t];
      for (let i = 0; i < tree.left.length; i++) {
        const leaf = tree.left[i] === -1;
        left[offset + i] = leaf ? -1 : (tree.left[i] as number) + offset;
        right[offset + i] = leaf ? -1 : (tree.right[i] as number) + offset;
        feature[offset + i] = tree.feature[i] as number;
        // dart: xgboost adds float(leaf * weight) per tree; the product is computed once here.
        const v = tree.value[i] as number;
        value[offset + i] = leaf && w !== undefined ? Math.fround(v * w) : v;
        defaultLeft[offset + i] = tree.defaultLeft[i] ? 1 : 0;
      }
      offset += tree.left.length;
    });

    const names = Array.isArray(learner.feature_names)
      ? learner.feature_names.filter((f) => typeof f === 'string')
      : [];
    const info: XGBoostModelInfo = {
      objective,
      booster,
      numFeature,
      numClass,
      numGroups,
      baseScore,
      baseMargin: baseMarginOf(objective, baseScore),
      numTrees: trees.length,
      featureNames: names.length === numFeature ? names : [],
      xgboostVersion: parseVersion(root.version),
    };
    return new XGBoostModel(info, left, right, feature, value, defaultLeft, roots, groups);
  }

  /**
   * Margins (`Booster.predict(..., output_margin=True)`): row-major `[rows, numGroups]`. `x` is row-major
   * `[rows, numFeature]`; NaN is a missing value.
   */
  margins(x: Float32Array, rows: number): Float32Array {
    const { numFeature, numGroups, baseMargin } = this.info;
    if (x.length !== rows * numFeature) {
      throw new RangeError(`expected ${rows} x ${numFeature} feature values, got ${x.length}`);
    }
    const { left, right, feature, value, defaultLeft, roots, groups } = this;
    const out = new Float32Array(rows * numGroups).fill(baseMargin);
    const numTrees = roots.length;
    for (let r = 0; r < rows; r++) {
      const base = r * numFeature;
      const o = r * numGroups;
      for (let t = 0; t < numTrees; t++) {
        let node = roots[t] as number;
        let l = left[node] as number;
        while (l !== -1) {
          const v = x[base + (feature[node] as number)] as number;
          const threshold = value[node] as number;
          // NaN (missing) fails both comparisons: the split's default direction.
          if (v < threshold) node = l;
          else if (v >= threshold) node = right[node] as number;
          else node = defaultLeft[node] ? l : (right[node] as number);
          l = left[node] as number;
        }
        // Float32Array storage rounds each sum to float32, as xgboost's float accumulator does.
        const g = o + (groups[t] as number);
        out[g] = (out[g] as number) + (value[node] as number);
      }
    }
    return out;
  }

  /** What `Booster.predict` returns: `[rows]`, or `[rows, num_class]` for multi:softprob (row-major). */
  predict(x: Float32Array, rows: number): Float32Array {
    const m = this.margins(x, rows);
    const k = this.info.numGroups;
    switch (this.info.objective) {
      case 'reg:squarederror':
      case 'binary:logitraw':
        return m;
      case 'reg:logistic':
      case 'binary:logistic':
        for (let i = 0; i < m.length; i++) m[i] = sigmoid(m[i] as number);
        return m;
      case 'count:poisson':
        for (let i = 0; i < m.length; i++) m[i] = Math.exp(m[i] as number);
        return m;
      case 'multi:softprob':
        for (let r = 0; r < rows; r++) softmax(m, r * k, k);
        return m;
      case 'multi:softmax': {
        const out = new Float32Array(rows);
        for (let r = 0; r < rows; r++) {
          let best = 0;
          for (let j = 1; j < k; j++) if ((m[r * k + j] as number) > (m[r * k + best] as number)) best = j;
          out[r] = best;
        }
        return out;
      }
    }
  }
}

function parseWithNaN(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const replaced = text.replace(/([[,:]\s*)NaN(?=\s*[,\]}])/g, '$1"NaN"');
    if (replaced === text) throw err;
    try {
      return JSON.parse(replaced);
    } catch {
      throw err;
    }
  }
}

/** xgboost's `common::Sigmoid` in float32: `1 / (1 + exp(-x))`, with `-x` capped at 88.7 (no overflow). */
function sigmoid(x: number): number {
  const e = Math.fround(Math.exp(Math.min(-x, 88.7)));
  return Math.fround(1 / Math.fround(e + 1));
}

/** xgboost's `common::Softmax` over `m[start, start + k)`: float32 exponentials, a double sum. */
function softmax(m: Float32Array, start: number, k: number): void {
  let max = m[start] as number;
  for (let j = 1; j < k; j++) max = Math.max(max, m[start + j] as number);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    const e = Math.fround(Math.exp(Math.fround((m[start + j] as number) - max)));
    m[start + j] = e;
    sum += e;
  }
  const s = Math.fround(sum);
  for (let j = 0; j < k; j++) m[start + j] = (m[start + j] as number) / s;
}
