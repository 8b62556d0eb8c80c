/**
 * Cursor-paginated lists (DESIGN §4: `?limit=&cursor=` → `{items, nextCursor}`). A `PagedList` fetches nothing until
 * it is read: `for await (const p of client.projects.list())` walks every page, `.page()` fetches one, `.all()`
 * collects them (with an optional maximum).
 */
import type { Page } from '../core/schemas/common.js';
import { MerlinError } from './errors.js';

export type { Page };

export type FetchPage<T> = (cursor: string | undefined) => Promise<Page<T>>;

export class PagedList<T> implements AsyncIterable<T> {
  readonly #fetchPage: FetchPage<T>;

  constructor(fetchPage: FetchPage<T>) {
    this.#fetchPage = fetchPage;
  }

  /** One page: the first, or the one after `cursor` (a previous page's `nextCursor`). */
  page(cursor?: string): Promise<Page<T>> {
    return this.#fetchPage(cursor);
  }

  /**
   * Every page in order, fetched one at a time as the loop asks for the next. A `nextCursor` seen before (the cursor
   * not reaching the server, or a server going round in circles) is an error, not an endless loop.
   */
  async *pages(): AsyncGenerator<Page<T>> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.#fetchPage(cursor);
      yield page;
      cursor = page.nextCursor ?? undefined;
      if (cursor !== undefined) {
        if (seen.has(cursor)) {
          throw new MerlinError(`the list returned the cursor "${cursor.slice(0, 80)}" twice: stopped paging`);
        }
        seen.add(cursor);
      }
    } while (cursor);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for await (const page of this.pages()) yield* page.items;
  }

  /** The items of every page (at most `max`; no page beyond the one that reaches it is fetched). */
  async all(max = Number.POSITIVE_INFINITY): Promise<T[]> {
    const out: T[] = [];
    if (max <= 0) return out;
    for await (const item of this) {
      out.push(item);
      if (out.length >= max) break;
    }
    return out;
  }
}
