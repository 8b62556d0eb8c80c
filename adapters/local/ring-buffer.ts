import { StringDecoder } from 'node:string_decoder';

/** A fixed-capacity FIFO of strings: pushing beyond capacity drops the oldest entry. O(1) push, no reallocation. */
export class RingBuffer {
  readonly #items: (string | undefined)[];
  #start = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#items = new Array<string | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: string): void {
    const end = (this.#start + this.#size) % this.capacity;
    this.#items[end] = item;
    if (this.#size < this.capacity) this.#size++;
    else this.#start = (this.#start + 1) % this.capacity;
  }

  /** The newest `n` items (all when `n` is omitted or larger than the size), oldest first. */
  tail(n = this.#size): string[] {
    const count = Math.max(0, Math.min(Math.floor(n), this.#size));
    const out = new Array<string>(count);
    const first = this.#start + this.#size - count;
    for (let i = 0; i < count; i++) out[i] = this.#items[(first + i) % this.capacity] ?? '';
    return out;
  }

  /** Walks from newest to oldest; stops at (and returns) the first item the predicate accepts. */
  findLast(predicate: (item: string) => boolean): string | undefined {
    for (let i = this.#size - 1; i >= 0; i--) {
      const item = this.#items[(this.#start + i) % this.capacity];
      if (item !== undefined && predicate(item)) return item;
    }
    return undefined;
  }
}

/**
 * Splits a byte stream into lines (LF or CRLF) and hands each complete line to `onLine`. A trailing partial line is
 * delivered by `flush()`. Lines longer than `maxLineLength` characters are cut, so one runaway write cannot hold memory.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineLength = 16_384,
  ) {}

  write(chunk: Buffer | string): void {
    const text = this.#partial + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    let from = 0;
    for (let nl = text.indexOf('\n', from); nl !== -1; nl = text.indexOf('\n', from)) {
      this.#emit(text.slice(from, nl > from && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl));
      from = nl + 1;
    }
    this.#partial = text.slice(from);
    if (this.#partial.length > this.maxLineLength) {
      this.#emit(this.#partial);
      this.#partial = '';
    }
  }

  flush(): void {
    this.#partial += this.#decoder.end();
    if (this.#partial.length > 0) this.#emit(this.#partial);
    this.#partial = '';
  }

  #emit(line: string): void {
    this.onLine(line.length > this.maxLineLength ? `${line.slice(0, this.maxLineLength)}…` : line);
  }
}
