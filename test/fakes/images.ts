/**
 * An in-memory image registry: a set of pushed tags under a fixed repository URI. `push` stands in for a finished
 * image build (the workflow driver calls it for the Build Image state); `failWith` makes `exists` fail.
 */
import type { ImageRegistry } from '../../core/ports.js';

export const TEST_IMAGE_REPOSITORY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/merlin-test-models';

export class MemoryImageRegistry implements ImageRegistry {
  readonly tags = new Set<string>();
  /** Tags `exists` was asked about, in order. */
  readonly lookups: string[] = [];
  private failure: Error | undefined;

  constructor(readonly repositoryUri = TEST_IMAGE_REPOSITORY) {}

  reference(tag: string): string {
    return `${this.repositoryUri}:${tag}`;
  }

  async exists(tag: string): Promise<boolean> {
    this.lookups.push(tag);
    if (this.failure) throw this.failure;
    return this.tags.has(tag);
  }

  push(tag: string): void {
    this.tags.add(tag);
  }

  failWith(error: Error | undefined): void {
    this.failure = error;
  }
}
