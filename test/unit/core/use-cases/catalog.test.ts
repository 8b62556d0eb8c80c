import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../../../../core/errors.js';
import {
  createModel,
  createProject,
  createVersion,
  getModel,
  getProject,
  getVersion,
  listModels,
  listProjects,
  listVersions,
} from '../../../../core/use-cases/catalog.js';
import { type FakeDeps, makeDeps, rejectionOf } from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
});

describe('Use case: createProject', () => {
  it('should store the project with revision 1 and the clock time', async () => {
    // Act
    const project = await createProject(deps, {
      name: 'fraud-detection',
      description: 'cards',
      labels: { team: 'risk' },
    });

    // Assess
    expect(project).toEqual({
      name: 'fraud-detection',
      description: 'cards',
      labels: { team: 'risk' },
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });
    expect(deps.projects.peek({ project: 'fraud-detection' })).toEqual(project);
  });

  it('should default labels to {} and leave description out when not given', async () => {
    const project = await createProject(deps, { name: 'churn' });

    expect(project.labels).toEqual({});
    expect('description' in project).toBe(false);
  });

  it('should refuse a duplicate with ConflictError ALREADY_EXISTS naming the project', async () => {
    // Prepare
    await createProject(deps, { name: 'fraud-detection', description: 'first' });
    deps.clock.advanceSeconds(60);

    // Act
    const error = await rejectionOf(createProject(deps, { name: 'fraud-detection', description: 'second' }));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('ALREADY_EXISTS');
    expect(error.message).toBe('project "fraud-detection" already exists');
    expect(error.details).toEqual({ project: 'fraud-detection' });
    expect(deps.projects.peek({ project: 'fraud-detection' })?.description).toBe('first');
  });

  it('should pass through a failure that is not a conflict', async () => {
    deps.projects.failNext('put', new Error('table is gone'));

    const error = await rejectionOf(createProject(deps, { name: 'churn' }));

    expect(error.message).toBe('table is gone');
  });
});

describe('Use case: getProject', () => {
  it('should return a stored project', async () => {
    await createProject(deps, { name: 'churn' });

    expect((await getProject(deps, { project: 'churn' })).name).toBe('churn');
  });

  it('should answer NotFoundError naming the project', async () => {
    const error = await rejectionOf(getProject(deps, { project: 'ghost' }));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('project "ghost" not found');
    expect(error.details).toEqual({ project: 'ghost' });
  });
});

describe('Use case: listProjects', () => {
  it('should page through projects in name order with a prefix search', async () => {
    // Prepare
    for (const name of ['fraud-b', 'churn', 'fraud-a', 'fraud-c']) await createProject(deps, { name });

    // Act
    const first = await listProjects(deps, { limit: 2, search: 'fraud' });
    const second = await listProjects(deps, { limit: 2, search: 'fraud', cursor: first.nextCursor! });

    // Assess
    expect(first.items.map((p) => p.name)).toEqual(['fraud-a', 'fraud-b']);
    expect(first.nextCursor).toEqual(expect.any(String));
    expect(second).toEqual({ items: [expect.objectContaining({ name: 'fraud-c' })], nextCursor: null });
  });
});

describe('Use case: createModel', () => {
  beforeEach(async () => {
    await createProject(deps, { name: 'fraud-detection' });
  });

  it('should store the model with latestVersion 0', async () => {
    const model = await createModel(deps, { project: 'fraud-detection' }, { name: 'iris', type: 'onnx' });

    expect(model).toEqual({
      project: 'fraud-detection',
      name: 'iris',
      type: 'onnx',
      labels: {},
      latestVersion: 0,
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });
  });

  it('should refuse a duplicate with ALREADY_EXISTS naming model and project', async () => {
    await createModel(deps, { project: 'fraud-detection' }, { name: 'iris', type: 'onnx' });

    const error = await rejectionOf(
      createModel(deps, { project: 'fraud-detection' }, { name: 'iris', type: 'xgboost' }),
    );

    expect(error.code).toBe('ALREADY_EXISTS');
    expect(error.message).toBe('model "iris" already exists in project "fraud-detection"');
    expect(error.details).toEqual({ project: 'fraud-detection', model: 'iris' });
    expect(deps.models.peek({ project: 'fraud-detection', model: 'iris' })?.type).toBe('onnx');
  });

  it('should allow the same model name in another project', async () => {
    await createProject(deps, { name: 'churn' });
    await createModel(deps, { project: 'fraud-detection' }, { name: 'iris', type: 'onnx' });

    const other = await createModel(deps, { project: 'churn' }, { name: 'iris', type: 'onnx' });

    expect(other.project).toBe('churn');
  });

  it('should answer NotFoundError for a missing project and store nothing', async () => {
    const error = await rejectionOf(createModel(deps, { project: 'ghost' }, { name: 'iris', type: 'onnx' }));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('project "ghost" not found');
    expect(deps.models.size).toBe(0);
  });
});

describe('Use case: getModel and listModels', () => {
  beforeEach(async () => {
    await createProject(deps, { name: 'fraud-detection' });
    for (const name of ['xgb-v2', 'iris', 'xgb-v1']) {
      await createModel(deps, { project: 'fraud-detection' }, { name, type: 'onnx' });
    }
  });

  it('should answer NotFoundError naming model and project', async () => {
    const error = await rejectionOf(getModel(deps, { project: 'fraud-detection', model: 'ghost' }));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('model "ghost" not found in project "fraud-detection"');
  });

  it('should list the models of a project by name, with search and pages', async () => {
    const all = await listModels(deps, { project: 'fraud-detection' }, { limit: 20 });
    const xgb = await listModels(deps, { project: 'fraud-detection' }, { limit: 1, search: 'xgb' });
    const next = await listModels(
      deps,
      { project: 'fraud-detection' },
      { limit: 1, search: 'xgb', cursor: xgb.nextCursor! },
    );

    expect(all.items.map((m) => m.name)).toEqual(['iris', 'xgb-v1', 'xgb-v2']);
    expect(xgb.items.map((m) => m.name)).toEqual(['xgb-v1']);
    expect(next).toEqual({ items: [expect.objectContaining({ name: 'xgb-v2' })], nextCursor: null });
  });

  it('should answer NotFoundError when listing the models of a missing project', async () => {
    const error = await rejectionOf(listModels(deps, { project: 'ghost' }, { limit: 20 }));

    expect(error.message).toBe('project "ghost" not found');
  });
});

describe('Use case: createVersion', () => {
  const iris = { project: 'fraud-detection', model: 'iris' };
  beforeEach(async () => {
    await createProject(deps, { name: 'fraud-detection' });
    await createModel(deps, { project: 'fraud-detection' }, { name: 'iris', type: 'onnx' });
  });

  it('should number versions 1, 2, 3 from the model counter', async () => {
    const numbers = [];
    for (let i = 0; i < 3; i++) numbers.push((await createVersion(deps, iris, {})).version);

    expect(numbers).toEqual([1, 2, 3]);
    expect(deps.models.peek(iris)?.latestVersion).toBe(3);
  });

  it('should never reuse a number, even under concurrent creation', async () => {
    const versions = await Promise.all([1, 2, 3, 4].map(() => createVersion(deps, iris, {})));

    expect(versions.map((v) => v.version).sort()).toEqual([1, 2, 3, 4]);
    expect(deps.versions.size).toBe(4);
  });

  it('should store metadata, a pending empty artifact under the version prefix, and the default model file', async () => {
    // Act
    const v = await createVersion(deps, iris, {
      labels: { stage: 'dev' },
      params: { depth: 3, criterion: 'gini', warm: false },
      metrics: { auc: 0.91 },
      tags: { run: 'abc' },
      properties: { mlflow: { runId: 'r1' } },
    });

    // Assess
    expect(v).toEqual({
      project: 'fraud-detection',
      model: 'iris',
      version: 1,
      labels: { stage: 'dev' },
      params: { depth: 3, criterion: 'gini', warm: false },
      metrics: { auc: 0.91 },
      tags: { run: 'abc' },
      properties: { mlflow: { runId: 'r1' } },
      modelFile: 'model.onnx',
      artifact: { uri: 's3://merlin-test-artifacts/artifacts/fraud-detection/iris/1/', status: 'pending', files: [] },
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });
  });

  it.each([
    ['onnx', 'model.onnx'],
    ['xgboost', 'model.json'],
    ['function', 'index.mjs'],
    ['custom', ''],
  ] as const)('should default the model file of a %s model to "%s"', async (type, file) => {
    await createModel(deps, { project: 'fraud-detection' }, { name: `m-${type}`, type });

    const body = type === 'custom' ? { custom: { command: ['./serve'], protocol: 'v2' as const } } : {};
    const v = await createVersion(deps, { project: 'fraud-detection', model: `m-${type}` }, body);

    expect(v.modelFile).toBe(file);
  });

  it('should give a custom model version a custom predictor (V2 by default), and refuse `custom` on other types', async () => {
    await createModel(deps, { project: 'fraud-detection' }, { name: 'm-custom', type: 'custom' });
    const plain = await createVersion(deps, { project: 'fraud-detection', model: 'm-custom' }, {});
    expect(plain.custom).toEqual({ protocol: 'v2' });
    await createModel(deps, { project: 'fraud-detection' }, { name: 'm-onnx', type: 'onnx' });
    const wrong = await rejectionOf(
      createVersion(
        deps,
        { project: 'fraud-detection', model: 'm-onnx' },
        { custom: { command: ['x'], protocol: 'v1' } },
      ),
    );
    expect(wrong).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(deps.versions.size).toBe(1);
  });

  it('should keep an explicit modelFile', async () => {
    const v = await createVersion(deps, iris, { modelFile: 'onnx/classifier.onnx' });

    expect(v.modelFile).toBe('onnx/classifier.onnx');
  });

  it('should answer NotFoundError for a missing model without allocating a number', async () => {
    const error = await rejectionOf(createVersion(deps, { project: 'fraud-detection', model: 'ghost' }, {}));

    expect(error.message).toBe('model "ghost" not found in project "fraud-detection"');
    expect(deps.models.count('allocateVersion')).toBe(0);
  });
});

describe('Use case: getVersion and listVersions', () => {
  const iris = { project: 'fraud-detection', model: 'iris' };
  beforeEach(async () => {
    await createProject(deps, { name: 'fraud-detection' });
    await createModel(deps, { project: 'fraud-detection' }, { name: 'iris', type: 'onnx' });
    for (let i = 0; i < 12; i++) await createVersion(deps, iris, {});
  });

  it('should answer NotFoundError naming project, model and version', async () => {
    const error = await rejectionOf(getVersion(deps, { ...iris, version: 99 }));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('fraud-detection/iris version 99 not found');
    expect(error.details).toEqual({ project: 'fraud-detection', model: 'iris', version: 99 });
  });

  it('should list newest first, numerically (12 before 9)', async () => {
    const page = await listVersions(deps, iris, { limit: 5 });

    expect(page.items.map((v) => v.version)).toEqual([12, 11, 10, 9, 8]);
  });

  it('should page to the oldest version and end with nextCursor null', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listVersions(deps, iris, { limit: 5, ...(cursor && { cursor }) });
      seen.push(...page.items.map((v) => v.version));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);

    expect(pages).toBe(3);
    expect(seen).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('should answer NotFoundError when listing the versions of a missing model', async () => {
    const error = await rejectionOf(listVersions(deps, { ...iris, model: 'ghost' }, { limit: 5 }));

    expect(error).toBeInstanceOf(NotFoundError);
  });
});
