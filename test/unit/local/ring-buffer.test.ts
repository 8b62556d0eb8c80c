import { describe, expect, it } from 'vitest';
import { messageOf } from '../../../adapters/local/process-cluster.js';
import { LineSplitter, RingBuffer } from '../../../adapters/local/ring-buffer.js';

describe('RingBuffer', () => {
  it('keeps the newest items, oldest first', () => {
    const ring = new RingBuffer(3);
    expect(ring.tail(5)).toEqual([]);
    for (const s of ['a', 'b', 'c', 'd', 'e']) ring.push(s);
    expect(ring.size).toBe(3);
    expect(ring.tail()).toEqual(['c', 'd', 'e']);
    expect(ring.tail(2)).toEqual(['d', 'e']);
    expect(ring.tail(0)).toEqual([]);
    expect(ring.tail(-1)).toEqual([]);
    expect(ring.findLast((s) => s < 'e')).toBe('d');
    expect(ring.findLast((s) => s === 'a')).toBeUndefined();
  });

  it('refuses a non-positive capacity', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe('LineSplitter', () => {
  it('splits chunks into lines across chunk and multi-byte boundaries', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('first\r\nsec€nd\n\nthird');
    splitter.write(bytes.subarray(0, 11)); // cuts the 3-byte euro sign
    splitter.write(bytes.subarray(11));
    expect(lines).toEqual(['first', 'sec€nd', '']);
    splitter.flush();
    expect(lines).toEqual(['first', 'sec€nd', '', 'third']);
  });

  it('cuts runaway lines', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l), 4);
    splitter.write('abcdefgh\nxy');
    splitter.write('zzzzz');
    expect(lines).toEqual(['abcd…', 'xyzz…']);
  });
});

describe('messageOf', () => {
  it('takes the msg of a JSON log line and falls back to the raw line', () => {
    expect(messageOf('{"level":"error","msg":"model failed to load: x"}')).toBe('model failed to load: x');
    expect(messageOf('{"level":"error","message":"alt"}')).toBe('alt');
    expect(messageOf('{"level":"error"}')).toBe('{"level":"error"}');
    expect(messageOf('{not json')).toBe('{not json');
    expect(messageOf('  Error: boom  ')).toBe('Error: boom');
  });
});
