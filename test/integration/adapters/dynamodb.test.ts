import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLeases } from '../../../adapters/dynamodb/leases.js';
import { dynamoRepositories } from '../../../adapters/dynamodb/repositories.js';
import { documentClient } from '../../../adapters/dynamodb/table.js';
import { ConflictError, NotFoundError, ValidationError } from '../../../core/errors.js';
import type { Model, Project } from '../../../core/schemas/index.js';
import { withEmulators } from '../../helpers/emulators.js';

const now = '2026-11-26T00:00:00.000Z';
const project = (name: string): Project => ({ name, labels: {}, createdAt: now, updatedAt: now, revision: 1 });
const model = (p: string, name: string): Model => ({
  project: p,
  name,
  type: 'onnx',
  labels: {},
  latestVersion: 0,
  createdAt: now,
  updatedAt: now,
  revision: 1,
});

describe('Adapter: DynamoDB repositories (dynalite)', () => {
  let emu: Awaited<ReturnType<typeof withEmulators>>;
  let repos: ReturnType<typeof dynamoRepositories>;

  beforeAll(async () => {
    emu = await withEmulators();
    repos = dynamoRepositories(documentClient(emu.dynamodbConfig), emu.table);
  });
  afterAll(() => emu.stop());

  it('should create once and refuse a second create of the same key', async () => {
    await repos.projects.put(project('alpha'), 'absent');
    await expect(repos.projects.put(project('alpha'), 'absent')).rejects.toMatchObject({
      constructor: ConflictError,
      code: 'ALREADY_EXISTS',
    });
    expect(await repos.projects.get({ project: 'alpha' })).toEqual(project('alpha'));
  });

  it('should write only on the expected revision', async () => {
    await repos.projects.put(project('beta'), 'absent');
    await repos.projects.put({ ...project('beta'), description: 'v2', revision: 2 }, 1);
    await expect(
      repos.projects.put({ ...project('beta'), description: 'stale', revision: 2 }, 1),
    ).rejects.toMatchObject({
      code: 'REVISION_MISMATCH',
    });
    expect((await repos.projects.get({ project: 'beta' }))?.description).toBe('v2');
  });

  it('should let exactly one of 20 concurrent creates win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        repos.models.put({ ...model('alpha', 'race'), description: `${i}` }, 'absent'),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof ConflictError)).toBe(true);
  });

  it('should hand out version numbers atomically: 30 concurrent allocations give 1..30 exactly once', async () => {
    await repos.models.put(model('alpha', 'counter'), 'absent');
    const numbers = await Promise.all(
      Array.from({ length: 30 }, () => repos.models.allocateVersion({ project: 'alpha', model: 'counter' })),
    );
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const stored = await repos.models.get({ project: 'alpha', model: 'counter' });
    expect(stored?.latestVersion).toBe(30);
    expect(stored?.revision).toBe(31);
  });

  it('should report a missing model when allocating a version', async () => {
    await expect(repos.models.allocateVersion({ project: 'alpha', model: 'nope' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('should page through a list with cursors and filter by name prefix', async () => {
    for (const n of ['m-a1', 'm-a2', 'm-a3', 'm-b1', 'm-b2']) await repos.models.put(model('paged', n), 'absent');
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await repos.models.list({ project: 'paged' }, { limit: 2, ...(cursor && { cursor }) });
      seen.push(...page.items.map((m) => m.name));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['m-a1', 'm-a2', 'm-a3', 'm-b1', 'm-b2']);
    expect(pages).toBe(3);
    const exact = await repos.models.list({ project: 'paged' }, { limit: 5 });
    expect(exact.nextCursor).toBeNull();
    const search = await repos.models.list({ project: 'paged' }, { limit: 10, search: 'm-b' });
    expect(search.items.map((m) => m.name)).toEqual(['m-b1', 'm-b2']);
  });

  it('should refuse a cursor from another list or a garbled one', async () => {
    const page = await repos.models.list({ project: 'paged' }, { limit: 1 });
    await expect(
      repos.models.list({ project: 'alpha' }, { limit: 1, cursor: page.nextCursor! }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(repos.models.list({ project: 'alpha' }, { limit: 1, cursor: '%%%' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('should list projects through the index and versions newest first', async () => {
    const projects = await repos.projects.list({ limit: 100, search: 'al' });
    expect(projects.items.map((p) => p.name)).toEqual(['alpha']);
    for (const v of [1, 2, 10]) {
      await repos.versions.put(
        {
          project: 'alpha',
          model: 'counter',
          version: v,
          labels: {},
          params: {},
          metrics: {},
          tags: {},
          properties: {},
          modelFile: 'model.onnx',
          artifact: { uri: 's3://b/p/', status: 'pending', files: [] },
          createdAt: now,
          updatedAt: now,
          revision: 1,
        },
        'absent',
      );
    }
    const versions = await repos.versions.list({ project: 'alpha', model: 'counter' }, { limit: 10 });
    expect(versions.items.map((v) => v.version)).toEqual([10, 2, 1]);
  });

  it('should filter versions by labels in full pages, newest first, and page through them with cursors', async () => {
    await repos.models.put(model('alpha', 'labelled'), 'absent');
    for (let v = 1; v <= 9; v++) {
      await repos.versions.put(
        {
          project: 'alpha',
          model: 'labelled',
          version: v,
          labels: { team: v % 3 === 0 ? 'risk' : 'fraud', stage: v > 5 ? 'prod' : 'dev' },
          params: {},
          metrics: {},
          tags: {},
          properties: {},
          modelFile: 'model.onnx',
          artifact: { uri: 's3://b/p/', status: 'pending', files: [] },
          createdAt: now,
          updatedAt: now,
          revision: 1,
        },
        'absent',
      );
    }
    const key = { project: 'alpha', model: 'labelled' };
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await repos.versions.list(key, { limit: 2, labels: { team: 'fraud' }, ...(cursor && { cursor }) });
      expect(page.items.length === 2 || page.nextCursor === null).toBe(true);
      seen.push(...page.items.map((v) => v.version));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([8, 7, 5, 4, 2, 1]);
    const prodRisk = await repos.versions.list(key, { limit: 10, labels: { team: 'risk', stage: 'prod' } });
    expect(prodRisk.items.map((v) => v.version)).toEqual([9, 6]);
    expect(prodRisk.nextCursor).toBeNull();
  });

  it('should hand a lease to one holder at a time, free it on release or expiry, and ignore a stale release', async () => {
    let now = 1_000;
    const leases = new DynamoLeases(documentClient(emu.dynamodbConfig), emu.table, () => now);
    const first = await leases.acquire('model-x', 5_000);
    expect(first).toBeDefined();
    expect(await leases.acquire('model-x', 5_000)).toBeUndefined();
    expect(await leases.acquire('model-y', 5_000)).toBeDefined();
    await first!.release();
    const second = await leases.acquire('model-x', 5_000);
    expect(second).toBeDefined();
    now += 6_000;
    const third = await leases.acquire('model-x', 5_000);
    expect(third).toBeDefined();
    await second!.release();
    expect(await leases.acquire('model-x', 5_000)).toBeUndefined();
  });
});
