/**
 * A queue of received chunks, read from the front without concatenating on every push.
 *
 * The readers are fed whatever the socket delivers: one byte at a time from a slow or
 * hostile client, or 64 KiB at once with several pipelined commands. Concatenating the
 * whole buffer on each push would make a byte-at-a-time sender cost O(n²) in copies (the
 * approach of ws's Receiver, which keeps a list of buffers, is followed here). Searching
 * for a line feed resumes from a cached chunk cursor, so repeated searches over a growing
 * unterminated line stay linear as well.
 *
 * Buffers returned by consume() may share memory with the pushed chunks; callers that keep
 * a small piece of a large chunk copy it.
 */
export class ByteQueue {
  #chunks: Buffer[] = [];
  /** Offset of the first unread byte inside #chunks[0]. */
  #head = 0;
  #length = 0;
  /** A chunk index and the queue position where that chunk's unread part begins. */
  #cursorIndex = 0;
  #cursorPos = 0;

  /** Unread bytes. */
  get length(): number {
    return this.#length;
  }

  /** The last unread byte, or -1 when the queue is empty. */
  get lastByte(): number {
    const last = this.#chunks.at(-1);
    return last === undefined ? -1 : (last.at(-1) as number);
  }

  push(chunk: Buffer): void {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
  }

  /** Position (from the front) of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from: number): number {
    let index = 0;
    let pos = 0;
    if (this.#cursorPos <= from) {
      index = this.#cursorIndex;
      pos = this.#cursorPos;
    }
    for (; index < this.#chunks.length; index++) {
      const chunk = this.#chunks[index] as Buffer;
      const start = index === 0 ? this.#head : 0;
      const end = pos + chunk.length - start;
      if (from < end) {
        this.#cursorIndex = index;
        this.#cursorPos = pos;
        const found = chunk.indexOf(byte, start + Math.max(0, from - pos));
        if (found !== -1) {
          return pos + found - start;
        }
      }
      pos = end;
    }
    return -1;
  }

  /** A copy of the unread bytes at positions [from, to), without consuming them. */
  peek(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(to - from);
    let written = 0;
    let index = 0;
    let pos = 0;
    if (this.#cursorPos <= from) {
      index = this.#cursorIndex;
      pos = this.#cursorPos;
    }
    for (; written < out.length; index++) {
      const chunk = this.#chunks[index] as Buffer;
      const start = index === 0 ? this.#head : 0;
      const next = pos + chunk.length - start;
      if (from + written < next) {
        const offset = start + from + written - pos;
        written += chunk.copy(out, written, offset, Math.min(chunk.length, offset + out.length - written));
      }
      pos = next;
    }
    return out;
  }

  /** Removes and returns the first `size` bytes (`size` must not exceed `length`). */
  consume(size: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.length - this.#head >= size) {
      const out = first.subarray(this.#head, this.#head + size);
      this.#drop(size);
      return out;
    }
    const out = Buffer.allocUnsafe(size);
    let written = 0;
    for (let index = 0; written < size; index++) {
      const chunk = this.#chunks[index] as Buffer;
      const start = index === 0 ? this.#head : 0;
      written += chunk.copy(out, written, start, Math.min(chunk.length, start + size - written));
    }
    this.#drop(size);
    return out;
  }

  /** Removes the first `size` bytes (`size` must not exceed `length`). */
  skip(size: number): void {
    this.#drop(size);
  }

  /** Removes and returns every unread byte. */
  takeAll(): Buffer {
    return this.consume(this.#length);
  }

  /** Drops every unread byte. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#length = 0;
    this.#resetCursor();
  }

  /** Drops the first `size` bytes, removing spent chunks with one splice. */
  #drop(size: number): void {
    let left = size + this.#head;
    let spent = 0;
    while (spent < this.#chunks.length && left >= (this.#chunks[spent] as Buffer).length) {
      left -= (this.#chunks[spent] as Buffer).length;
      spent++;
    }
    if (spent > 0) {
      this.#chunks.splice(0, spent);
    }
    this.#head = left;
    this.#length -= size;
    this.#resetCursor();
  }

  #resetCursor(): void {
    this.#cursorIndex = 0;
    this.#cursorPos = 0;
  }
}
