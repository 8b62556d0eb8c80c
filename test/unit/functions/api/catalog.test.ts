import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as createModel from '../../../../functions/api/create-model.js';
import * as createProject from '../../../../functions/api/create-project.js';
import * as createVersion from '../../../../functions/api/create-version.js';
import * as getModel from '../../../../functions/api/get-model.js';
import * as getProject from '../../../../functions/api/get-project.js';
import * as getVersion from '../../../../functions/api/get-version.js';
import * as listModels from '../../../../functions/api/list-models.js';
import * as listProjects from '../../../../functions/api/list-projects.js';
import * as listVersions from '../../../../functions/api/list-versions.js';
import { useDeps } from '../../../../functions/shared/container.js';
import { callRoute, type FakeDeps, givenModel, givenVersion, makeDeps } from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(() => {
  deps = makeDeps();
  useDeps(deps);
});
afterEach(() => {
  useDeps(undefined);
});

const PROJECT_RULE =
  'must be 3-50 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen';
const MODEL_RULE =
  'must be 3-25 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen';

describe('Handler: POST /v1/projects', () => {
  it('should answer 201 with the project, its location and etag', async () => {
    const res = await callRoute(createProject, { body: { name: 'fraud-detection', labels: { team: 'risk' } } });

    expect(res.status).toBe(201);
    expect(res.headers['location']).toBe('/v1/projects/fraud-detection');
    expect(res.headers['etag']).toBe('"1"');
    expect(res.body).toMatchObject({ name: 'fraud-detection', labels: { team: 'risk' }, revision: 1 });
    expect(deps.projects.size).toBe(1);
  });

  it('should answer 409 ALREADY_EXISTS for a duplicate', async () => {
    await callRoute(createProject, { body: { name: 'fraud-detection' } });

    const res = await callRoute(createProject, { body: { name: 'fraud-detection' } });

    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({
      code: 'ALREADY_EXISTS',
      message: 'project "fraud-detection" already exists',
      details: { project: 'fraud-detection' },
    });
  });

  it.each(['Fraud', 'ab', 'fraud-', '1fraud', 'a'.repeat(51), 'fraud_detection'])(
    'should answer 400 with the naming rule for the name %j',
    async (name) => {
      const res = await callRoute(createProject, { body: { name } });

      expect(res.status).toBe(400);
      expect(res.body.error.message).toBe(`body.name: ${PROJECT_RULE}`);
      expect(deps.projects.size).toBe(0);
    },
  );

  it('should accept the shortest and longest names', async () => {
    expect((await callRoute(createProject, { body: { name: 'abc' } })).status).toBe(201);
    expect((await callRoute(createProject, { body: { name: `a${'b'.repeat(49)}` } })).status).toBe(201);
  });

  it('should answer 400 for labels breaking the Kubernetes label rule', async () => {
    const res = await callRoute(createProject, { body: { name: 'fraud-detection', labels: { team: 'risk team' } } });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body\.labels\.team: label values must match/);
  });
});

describe('Handler: GET /v1/projects[/{project}]', () => {
  it('should answer 200 with the project, 404 when missing, 400 for a bad name', async () => {
    await callRoute(createProject, { body: { name: 'fraud-detection' } });

    const found = await callRoute(getProject, { pathParameters: { project: 'fraud-detection' } });
    const missing = await callRoute(getProject, { pathParameters: { project: 'ghost' } });
    const bad = await callRoute(getProject, { pathParameters: { project: 'Ghost' } });

    expect(found.status).toBe(200);
    expect(found.headers['etag']).toBe('"1"');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe(`path.project: ${PROJECT_RULE}`);
  });

  it('should page the list with limit, cursor and search', async () => {
    for (const name of ['fraud-a', 'fraud-b', 'churn']) await callRoute(createProject, { body: { name } });

    const first = await callRoute(listProjects, { query: { limit: '1', search: 'fraud' } });
    const second = await callRoute(listProjects, {
      query: { limit: '1', search: 'fraud', cursor: first.body.nextCursor },
    });

    expect(first.status).toBe(200);
    expect(first.body.items.map((p: { name: string }) => p.name)).toEqual(['fraud-a']);
    expect(second.body).toEqual({ items: [expect.objectContaining({ name: 'fraud-b' })], nextCursor: null });
  });

  it('should default the page size to 20', async () => {
    for (let i = 0; i < 21; i++)
      await callRoute(createProject, { body: { name: `project-${String(i).padStart(2, '0')}` } });

    const res = await callRoute(listProjects);

    expect(res.body.items).toHaveLength(20);
    expect(res.body.nextCursor).toEqual(expect.any(String));
  });

  it('should answer 400 for a cursor that is not one', async () => {
    const res = await callRoute(listProjects, { query: { cursor: 'not-a-cursor' } });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('cursor');
  });
});

describe('Handler: models', () => {
  it('should create a model: 201, location, etag', async () => {
    await callRoute(createProject, { body: { name: 'fraud-detection' } });

    const res = await callRoute(createModel, {
      pathParameters: { project: 'fraud-detection' },
      body: { name: 'iris', type: 'onnx' },
    });

    expect(res.status).toBe(201);
    expect(res.headers['location']).toBe('/v1/projects/fraud-detection/models/iris');
    expect(res.headers['etag']).toBe('"1"');
    expect(res.body).toMatchObject({ project: 'fraud-detection', name: 'iris', type: 'onnx', latestVersion: 0 });
  });

  it('should answer 404 for a model in a missing project', async () => {
    const res = await callRoute(createModel, {
      pathParameters: { project: 'ghost' },
      body: { name: 'iris', type: 'onnx' },
    });

    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe('project "ghost" not found');
  });

  it('should answer 400 for a bad model name and an unknown type, naming both', async () => {
    await callRoute(createProject, { body: { name: 'fraud-detection' } });

    const res = await callRoute(createModel, {
      pathParameters: { project: 'fraud-detection' },
      body: { name: 'Iris!', type: 'sklearn' },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      `body.name: ${MODEL_RULE}; body.type: must be one of onnx, xgboost, function, custom`,
    );
  });

  it('should answer 409 for a duplicate model, get it, and list models', async () => {
    await givenModel(deps);
    const duplicate = await callRoute(createModel, {
      pathParameters: { project: 'fraud-detection' },
      body: { name: 'iris', type: 'onnx' },
    });

    const got = await callRoute(getModel, { pathParameters: { project: 'fraud-detection', model: 'iris' } });
    const list = await callRoute(listModels, { pathParameters: { project: 'fraud-detection' } });
    const badPath = await callRoute(getModel, { pathParameters: { project: 'fraud-detection', model: 'x' } });

    expect(duplicate.status).toBe(409);
    expect(got.status).toBe(200);
    expect(got.body.name).toBe('iris');
    expect(list.body).toEqual({ items: [expect.objectContaining({ name: 'iris' })], nextCursor: null });
    expect(badPath.status).toBe(400);
    expect(badPath.body.error.message).toBe(`path.model: ${MODEL_RULE}`);
  });
});

describe('Handler: versions', () => {
  it('should create a version: 201 with location and the version number', async () => {
    await givenModel(deps);

    const res = await callRoute(createVersion, {
      pathParameters: { project: 'fraud-detection', model: 'iris' },
      body: { metrics: { auc: 0.93 }, labels: { stage: 'dev' } },
    });

    expect(res.status).toBe(201);
    expect(res.headers['location']).toBe('/v1/projects/fraud-detection/models/iris/versions/1');
    expect(res.body).toMatchObject({ version: 1, metrics: { auc: 0.93 }, modelFile: 'model.onnx' });
  });

  it('should answer 400 for an unsafe modelFile path', async () => {
    await givenModel(deps);

    const res = await callRoute(createVersion, {
      pathParameters: { project: 'fraud-detection', model: 'iris' },
      body: { modelFile: '../etc/passwd' },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('body.modelFile: must not contain "." or ".." segments');
  });

  it('should answer 404 creating a version of a missing model', async () => {
    await givenModel(deps);

    const res = await callRoute(createVersion, { pathParameters: { project: 'fraud-detection', model: 'ghost' } });

    expect(res.status).toBe(404);
  });

  it.each(['abc', '0', '-2', '1.5'])('should answer 400 for the version %j in the path', async (version) => {
    const res = await callRoute(getVersion, { pathParameters: { project: 'fraud-detection', model: 'iris', version } });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toMatch(/^path\.version: /);
  });

  it('should get a version (200) and answer 404 for a missing one', async () => {
    await givenVersion(deps);

    const found = await callRoute(getVersion, {
      pathParameters: { project: 'fraud-detection', model: 'iris', version: '1' },
    });
    const missing = await callRoute(getVersion, {
      pathParameters: { project: 'fraud-detection', model: 'iris', version: '2' },
    });

    expect(found.status).toBe(200);
    expect(found.body.artifact.status).toBe('complete');
    expect(found.headers['etag']).toBe('"2"');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('fraud-detection/iris version 2 not found');
  });

  it('should list versions newest first', async () => {
    for (let i = 0; i < 3; i++) await givenVersion(deps, { complete: false });

    const res = await callRoute(listVersions, {
      pathParameters: { project: 'fraud-detection', model: 'iris' },
      query: { limit: '2' },
    });

    expect(res.body.items.map((v: { version: number }) => v.version)).toEqual([3, 2]);
    expect(res.body.nextCursor).toEqual(expect.any(String));
  });
});
