import type { IdGenerator } from '../../core/ports.js';

/** Crockford base32, the ULID alphabet (no I, L, O, U). */
export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

const encode = (value: bigint, length: number): string => {
  let out = '';
  let v = value;
  for (let i = 0; i < length; i++) {
    out = CROCKFORD[Number(v % 32n)] + out;
    v /= 32n;
  }
  if (v !== 0n) throw new RangeError(`${value} does not fit in ${length} base32 characters`);
  return out;
};

/** A ULID from a millisecond timestamp (10 characters) and an 80-bit number (16 characters). */
export const ulidOf = (timeMs: number, random: bigint): string => encode(BigInt(timeMs), 10) + encode(random, 16);

/**
 * Deterministic, time-ordered ids: the n-th id has the fixed timestamp and n as its "random" part, so ids sort in
 * the order they were handed out (as a monotonic ULID factory's do).
 */
export class SequentialIds implements IdGenerator {
  readonly issued: string[] = [];
  private n = 0n;

  constructor(private readonly timeMs: number = Date.parse('2025-01-01T00:00:00.000Z')) {}

  deploymentId(): string {
    this.n += 1n;
    const id = ulidOf(this.timeMs, this.n);
    this.issued.push(id);
    return id;
  }

  /** The id the next call will return (without handing it out). */
  peek(): string {
    return ulidOf(this.timeMs, this.n + 1n);
  }
}
