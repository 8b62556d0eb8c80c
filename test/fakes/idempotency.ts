import type { IdempotencyRecord, IdempotencyStore } from '../../core/ports.js';

/** In-memory idempotency records with the same claim semantics as the DynamoDB store (expired ⇒ absent). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, IdempotencyRecord>();
  constructor(private readonly now: () => Date = () => new Date()) {}

  async get(key: string) {
    const r = this.records.get(key);
    return r && Date.parse(r.expiresAt) > this.now().getTime() ? structuredClone(r) : undefined;
  }
  async claim(record: IdempotencyRecord) {
    if (await this.get(record.key)) return false;
    this.records.set(record.key, structuredClone(record));
    return true;
  }
  async complete(key: string, response: NonNullable<IdempotencyRecord['response']>) {
    const r = this.records.get(key);
    if (r) this.records.set(key, { ...r, state: 'done', response: structuredClone(response) });
  }
  async release(key: string) {
    this.records.delete(key);
  }
}
