import { describe, expect, it } from 'vitest';
import { ConflictError, DependencyError, NotFoundError } from '../../../core/errors.js';
import { updateItem } from '../../../core/update.js';
import { makeDeps, rejectionOf } from '../../fakes/index.js';

const project = (revision: number, description = 'v') => ({
  name: 'fraud-detection',
  description,
  labels: {},
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  revision,
});
const key = { project: 'fraud-detection' };

describe('Use case: updateItem (optimistic read-modify-write)', () => {
  it('should apply the change and bump the revision by one', async () => {
    // Prepare
    const { projects } = makeDeps();
    projects.seed(project(3));

    // Act
    const updated = await updateItem(projects, key, (p) => ({ ...p, description: 'changed' }));

    // Assess
    expect(updated).toMatchObject({ description: 'changed', revision: 4 });
    expect(projects.peek(key)).toEqual(updated);
  });

  it('should re-read and re-apply the change after a lost race (REVISION_MISMATCH)', async () => {
    // Prepare: a concurrent writer bumps the item between our read and our write
    const { projects } = makeDeps();
    projects.seed(project(1, 'a'));
    projects.intercept('put', () => void projects.seed({ ...project(2, 'concurrent'), labels: { team: 'x' } }));
    const seen: string[] = [];

    // Act
    const updated = await updateItem(projects, key, (p) => {
      seen.push(p.description ?? '');
      return { ...p, description: `${p.description}+mine` };
    });

    // Assess: the change was re-applied on the concurrent writer's item, nothing lost
    expect(seen).toEqual(['a', 'concurrent']);
    expect(updated).toMatchObject({ description: 'concurrent+mine', labels: { team: 'x' }, revision: 3 });
    expect(projects.peek(key)).toEqual(updated);
  });

  it('should use options.current instead of reading first', async () => {
    const { projects } = makeDeps();
    projects.seed(project(1));

    await updateItem(projects, key, (p) => p, { current: project(1) });

    expect(projects.count('get')).toBe(0);
    expect(projects.peek(key)?.revision).toBe(2);
  });

  it('should give up after the given number of attempts with the last ConflictError', async () => {
    // Prepare: every write loses
    const { projects } = makeDeps();
    projects.seed(project(1));
    const lost = new ConflictError('project was changed concurrently', undefined, 'REVISION_MISMATCH');
    projects.failNext('put', lost, 10);

    // Act
    const error = await rejectionOf(updateItem(projects, key, (p) => p, { attempts: 3 }));

    // Assess
    expect(error).toBe(lost);
    expect(projects.count('put')).toBe(3);
    expect(projects.peek(key)?.revision).toBe(1);
  });

  it('should try five times by default', async () => {
    const { projects } = makeDeps();
    projects.seed(project(1));
    projects.failNext('put', new ConflictError('lost', undefined, 'REVISION_MISMATCH'), 10);

    const error = await rejectionOf(updateItem(projects, key, (p) => p));

    expect(error.code).toBe('REVISION_MISMATCH');
    expect(projects.count('put')).toBe(5);
  });

  it('should succeed on the last allowed attempt', async () => {
    const { projects } = makeDeps();
    projects.seed(project(1));
    projects.failNext('put', new ConflictError('lost', undefined, 'REVISION_MISMATCH'), 2);

    const updated = await updateItem(projects, key, (p) => p, { attempts: 3 });

    expect(updated.revision).toBe(2);
  });

  it('should not retry other errors', async () => {
    const { projects } = makeDeps();
    projects.seed(project(1));
    projects.failNext('put', new DependencyError('DynamoDB is down'));

    const error = await rejectionOf(updateItem(projects, key, (p) => p));

    expect(error).toBeInstanceOf(DependencyError);
    expect(projects.count('put')).toBe(1);
  });

  it('should not retry an error thrown by the change itself', async () => {
    const { projects } = makeDeps();
    projects.seed(project(1));

    const error = await rejectionOf(
      updateItem(projects, key, () => {
        throw new ConflictError('illegal state', undefined, 'ILLEGAL');
      }),
    );

    expect(error.code).toBe('ILLEGAL');
    expect(projects.count('put')).toBe(0);
  });

  it('should answer NotFoundError naming `what` when the item is missing', async () => {
    const { projects } = makeDeps();

    const error = await rejectionOf(updateItem(projects, key, (p) => p, { what: 'project fraud-detection' }));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('project fraud-detection not found');
  });

  it('should answer NotFoundError when the item is deleted during the retry', async () => {
    const { projects } = makeDeps();
    projects.seed(project(1));
    projects.intercept('put', () => projects.delete(key));

    const error = await rejectionOf(updateItem(projects, key, (p) => p));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('item not found');
  });
});
