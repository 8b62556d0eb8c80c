/** The in-memory fakes keep the contracts of core/ports.ts (and DynamoDB's conditional writes), or unit tests lie. */
import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../../core/errors.js';
import { deploymentPath } from '../../../core/schemas/index.js';
import {
  FakeCluster,
  FixedClock,
  MemoryArtifactStore,
  makeDeps,
  RecordingWorkflows,
  rejectionOf,
  SequentialIds,
  sha256Hex,
  ULID_PATTERN,
  ulidOf,
} from '../../fakes/index.js';

const project = (name: string, revision = 1) => ({
  name,
  labels: {},
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  revision,
});

describe('Fake: repositories (DynamoDB conditional writes)', () => {
  it('should refuse put(item, "absent") of an existing item with ConflictError ALREADY_EXISTS', async () => {
    const { projects } = makeDeps();
    await projects.put(project('alpha'), 'absent');

    const error = await rejectionOf(projects.put(project('alpha'), 'absent'));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('ALREADY_EXISTS');
  });

  it('should write put(item, n) only when the stored revision is n', async () => {
    const { projects } = makeDeps();
    projects.seed(project('alpha', 2));

    const stale = await rejectionOf(projects.put({ ...project('alpha', 3), description: 'x' }, 1));
    await projects.put({ ...project('alpha', 3), description: 'y' }, 2);

    expect(stale.code).toBe('REVISION_MISMATCH');
    expect(projects.peek({ project: 'alpha' })).toMatchObject({ description: 'y', revision: 3 });
  });

  it('should refuse put(item, n) of a missing item with REVISION_MISMATCH', async () => {
    const { projects } = makeDeps();

    const error = await rejectionOf(projects.put(project('ghost', 2), 1));

    expect(error.code).toBe('REVISION_MISMATCH');
    expect(projects.size).toBe(0);
  });

  it('should delete conditionally on the revision, and unconditionally without one', async () => {
    const { projects } = makeDeps();
    projects.seed(project('alpha', 4), project('beta'));

    const error = await rejectionOf(projects.delete({ project: 'alpha' }, 3));
    await projects.delete({ project: 'alpha' }, 4);
    await projects.delete({ project: 'beta' });
    await projects.delete({ project: 'never-there' });

    expect(error.code).toBe('REVISION_MISMATCH');
    expect(projects.size).toBe(0);
  });

  it('should hand out copies, never the stored object', async () => {
    const { projects } = makeDeps();
    const item = project('alpha');
    await projects.put(item, 'absent');
    item.labels = { changed: 'yes' };

    const read = await projects.get({ project: 'alpha' });
    read!.labels['also'] = 'changed';

    expect((await projects.get({ project: 'alpha' }))?.labels).toEqual({});
  });

  it('should page a list by limit and cursor, in name order, with nextCursor null on the last page', async () => {
    const { projects } = makeDeps();
    projects.seed(project('delta'), project('alpha'), project('charlie'), project('bravo'), project('echo'));

    const first = await projects.list({ limit: 2 });
    const second = await projects.list({ limit: 2, cursor: first.nextCursor! });
    const third = await projects.list({ limit: 2, cursor: second.nextCursor! });

    expect(first.items.map((p) => p.name)).toEqual(['alpha', 'bravo']);
    expect(second.items.map((p) => p.name)).toEqual(['charlie', 'delta']);
    expect(third).toEqual({ items: [expect.objectContaining({ name: 'echo' })], nextCursor: null });
  });

  it('should answer nextCursor null when the page is exactly full', async () => {
    const { projects } = makeDeps();
    projects.seed(project('alpha'), project('bravo'));

    expect((await projects.list({ limit: 2 })).nextCursor).toBeNull();
  });

  it('should filter by name prefix with search', async () => {
    const { projects } = makeDeps();
    projects.seed(project('fraud-a'), project('churn'), project('fraud-b'));

    const page = await projects.list({ limit: 20, search: 'fraud' });

    expect(page.items.map((p) => p.name)).toEqual(['fraud-a', 'fraud-b']);
  });

  it('should refuse a cursor that is garbage or belongs to another list', async () => {
    const { projects, models } = makeDeps();
    projects.seed(project('alpha'), project('bravo'));
    const page = await projects.list({ limit: 1 });

    const garbage = await rejectionOf(projects.list({ limit: 1, cursor: '%%%' }));
    const foreign = await rejectionOf(models.list({ project: 'alpha' }, { limit: 1, cursor: page.nextCursor! }));

    expect(garbage).toBeInstanceOf(ValidationError);
    expect(foreign).toBeInstanceOf(ValidationError);
    expect(foreign.message).toContain('cursor does not belong to this list');
  });

  it('should allocate version numbers atomically, bumping the revision, and NotFound for a missing model', async () => {
    const { models } = makeDeps();
    models.seed({
      project: 'p1',
      name: 'm1',
      type: 'onnx',
      labels: {},
      latestVersion: 0,
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });

    const numbers = await Promise.all([1, 2, 3].map(() => models.allocateVersion({ project: 'p1', model: 'm1' })));
    const missing = await rejectionOf(models.allocateVersion({ project: 'p1', model: 'nope' }));

    expect(numbers.sort()).toEqual([1, 2, 3]);
    expect(models.peek({ project: 'p1', model: 'm1' })).toMatchObject({ latestVersion: 3, revision: 4 });
    expect(missing).toBeInstanceOf(NotFoundError);
  });

  it('should fail the next calls of an operation on request, without touching the store', async () => {
    const { projects } = makeDeps();
    projects.failNext('put', new Error('boom'), 2);

    expect((await rejectionOf(projects.put(project('a'), 'absent'))).message).toBe('boom');
    expect((await rejectionOf(projects.put(project('a'), 'absent'))).message).toBe('boom');
    await projects.put(project('a'), 'absent');

    expect(projects.count('put')).toBe(3);
    expect(projects.size).toBe(1);
  });
});

describe('Fake: MemoryArtifactStore', () => {
  it('should report size and a real sha256 of stored bytes, and nothing for a missing key', async () => {
    const store = new MemoryArtifactStore('bucket-x');
    store.putObject('a/model.onnx', 'hello');

    expect(store.uri('a/')).toBe('s3://bucket-x/a/');
    expect(await store.stat('a/model.onnx')).toEqual({ size: 5 });
    expect(await store.sha256('a/model.onnx')).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(sha256Hex('hello')).toBe(await store.sha256('a/model.onnx'));
    expect(await store.stat('a/other')).toBeUndefined();
  });

  it('should presign PUT URLs carrying the expiry and the content headers', async () => {
    const store = new MemoryArtifactStore('bucket-x');

    const put = await store.presignPut('a/b c.txt', {
      contentType: 'text/plain',
      contentLength: 3,
      expiresInSeconds: 60,
    });

    expect(put.url).toBe('https://bucket-x.s3.test.amazonaws.com/a/b%20c.txt?X-Amz-Expires=60&X-Amz-Method=PUT');
    expect(put.headers).toEqual({ 'content-type': 'text/plain', 'content-length': '3' });
  });
});

describe('Fake: RecordingWorkflows', () => {
  it('should give a deterministic execution ARN named by the execution', () => {
    expect(new RecordingWorkflows().executionArn('deploy-version', 'X1')).toBe(
      'arn:aws:states:eu-west-1:123456789012:execution:merlin-test-deploy-version:X1',
    );
  });

  it('should record starts, ignore a repeated identical start and refuse the same name with another input', async () => {
    const wf = new RecordingWorkflows();

    await wf.start('deploy-version', 'A', { deploymentId: 'A' });
    await wf.start('deploy-version', 'A', { deploymentId: 'A' });
    const error = await rejectionOf(wf.start('deploy-version', 'A', { deploymentId: 'B' }));

    expect(wf.started).toEqual([{ workflow: 'deploy-version', name: 'A', input: { deploymentId: 'A' } }]);
    expect(wf.attempts).toHaveLength(3);
    expect(error.name).toBe('ExecutionAlreadyExists');
  });

  it('should fail starts when told to, and recover', async () => {
    const wf = new RecordingWorkflows().failWith(new Error('throttled'), 1);

    const error = await rejectionOf(wf.start('update-route', 'A', { deploymentId: 'A' }));
    await wf.start('update-route', 'A', { deploymentId: 'A' });

    expect(error.message).toBe('throttled');
    expect(wf.started).toHaveLength(1);
  });
});

describe('Fake: FakeCluster', () => {
  const rev = { namespace: 'p', name: 'm-1-r1', project: 'p', model: 'm', version: 1, number: 1 };

  it('should answer absent before apply, ready after, and absent after delete', async () => {
    const cluster = new FakeCluster();
    const spec = {
      ...rev,
      modelType: 'onnx' as const,
      artifactUri: 's3://b/a/',
      modelFile: 'model.onnx',
      resources: { cpu: '1', memory: '1Gi', minReplicas: 1, maxReplicas: 1 },
      env: {},
      secretEnv: {},
      serving: {},
    };

    const before = await cluster.revisionStatus(rev);
    await cluster.applyRevision(spec);
    const after = await cluster.revisionStatus(rev);
    await cluster.deleteRevision(rev);

    expect([before.state, after.state]).toEqual(['absent', 'ready']);
    expect(cluster.revisions.size).toBe(0);
    expect(cluster.methods()).toEqual(['revisionStatus', 'applyRevision', 'revisionStatus', 'deleteRevision']);
  });

  it('should answer scripted states in order, repeating the last', async () => {
    const cluster = new FakeCluster().script('m-1-r1', { state: 'starting' }, { state: 'failed', reason: 'OOMKilled' });

    const states = [
      await cluster.revisionStatus(rev),
      await cluster.revisionStatus(rev),
      await cluster.revisionStatus(rev),
    ];

    expect(states).toEqual([
      { state: 'starting' },
      { state: 'failed', reason: 'OOMKilled' },
      { state: 'failed', reason: 'OOMKilled' },
    ]);
  });

  it('should fail a method when told to and record the call', async () => {
    const cluster = new FakeCluster().failOn('routeVersion', new Error('api down'));

    const error = await rejectionOf(cluster.routeVersion({ project: 'p', model: 'm', version: 1 }, rev));

    expect(error.message).toBe('api down');
    expect(cluster.versionRoutes.size).toBe(0);
    expect(cluster.methods()).toEqual(['routeVersion']);
  });

  it('should refuse an unknown environment as the real registry does', () => {
    const deps = makeDeps();

    expect(() => deps.clusters.forEnvironment('prod')).toThrow(NotFoundError);
    expect(deps.clusters.forEnvironment('staging')).toBe(deps.clusters.of('staging'));
  });
});

describe('Fake: FixedClock and SequentialIds', () => {
  it('should stand still until advanced', () => {
    const clock = new FixedClock('2025-06-01T12:00:00.000Z');

    expect(clock.now().toISOString()).toBe('2025-06-01T12:00:00.000Z');
    expect(clock.advanceSeconds(90).iso()).toBe('2025-06-01T12:01:30.000Z');
  });

  it('should produce valid, distinct, increasing 26-character ULIDs accepted by the deployment path schema', () => {
    const ids = new SequentialIds();

    const issued = Array.from({ length: 40 }, () => ids.deploymentId());

    for (const id of issued) {
      expect(id).toMatch(ULID_PATTERN);
      expect(deploymentPath.safeParse({ id }).success).toBe(true);
    }
    expect(new Set(issued).size).toBe(40);
    expect([...issued].sort()).toEqual(issued);
    expect(ids.issued).toEqual(issued);
  });

  it('should encode the timestamp in the first 10 characters', () => {
    expect(ulidOf(0, 0n)).toBe('00000000000000000000000000');
    expect(ulidOf(1469918176385, 0n).slice(0, 10)).toBe('01ARYZ6S41');
  });
});
