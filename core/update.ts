import { ConflictError, NotFoundError, PreconditionFailedError } from './errors.js';
import type { Repository } from './ports.js';

/**
 * Optimistic read-modify-write of one item: applies `change` to the current item and writes it on the condition
 * that nobody else wrote in between; on a lost race it re-reads and re-applies (the change must be a pure function
 * of the item). With `ifMatch` the caller's revision must be the current one. This is how every mutation stays safe
 * without transactions.
 */
export async function updateItem<K, T extends { revision: number }>(
  repo: Repository<K, T>,
  key: K,
  change: (current: T) => T,
  options: { current?: T; attempts?: number; what?: string; ifMatch?: number | undefined } = {},
): Promise<T> {
  let current = options.current ?? (await repo.get(key));
  for (let attempt = 1; ; attempt++) {
    if (!current) throw new NotFoundError(`${options.what ?? 'item'} not found`);
    // Checked on every attempt: a write that lands between the caller's read and ours is a 412, never retried over.
    checkIfMatch(current, options.ifMatch, options.what ?? 'item');
    const next = { ...change(current), revision: current.revision + 1 };
    try {
      await repo.put(next, current.revision);
      return next;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= (options.attempts ?? 5)) throw e;
      current = await repo.get(key);
    }
  }
}

/** `If-Match`: the caller's revision must be the stored one (412 otherwise, with the current revision). */
export function checkIfMatch(current: { revision: number }, ifMatch: number | undefined, what: string): void {
  if (ifMatch !== undefined && current.revision !== ifMatch) {
    throw new PreconditionFailedError(
      `${what} is at revision ${current.revision}, not ${ifMatch} as If-Match says: it changed since you read it; read it again`,
      { revision: current.revision },
    );
  }
}
