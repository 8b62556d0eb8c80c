import type { Leases } from '../../core/ports.js';

/** In-memory leases with the same semantics as DynamoLeases (expired ⇒ free; release only by the holder). */
export class MemoryLeases implements Leases {
  readonly held = new Map<string, { token: number; expiresAt: number }>();
  private next = 0;
  constructor(private readonly now: () => number = Date.now) {}

  async acquire(name: string, ttlMs: number) {
    const current = this.held.get(name);
    if (current && current.expiresAt >= this.now()) return undefined;
    const token = ++this.next;
    this.held.set(name, { token, expiresAt: this.now() + ttlMs });
    return {
      release: async () => {
        if (this.held.get(name)?.token === token) this.held.delete(name);
      },
    };
  }
}
