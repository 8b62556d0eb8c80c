import type { Clock } from '../../core/ports.js';

export const T0 = '2025-01-01T00:00:00.000Z';

/** A clock that stands still until a test moves it. */
export class FixedClock implements Clock {
  private ms: number;

  constructor(start: Date | string = T0) {
    this.ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): this {
    this.ms += ms;
    return this;
  }

  advanceSeconds(seconds: number): this {
    return this.advance(seconds * 1000);
  }

  set(at: Date | string): this {
    this.ms = new Date(at).getTime();
    return this;
  }

  iso(): string {
    return this.now().toISOString();
  }
}
