// Test helpers: feeding readers in every split and collecting their events.
import type { ImapCommandReader, ImapReaderEvent } from '../src/index.ts';

/** A small seeded PRNG (mulberry32), so random splits are reproducible. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `input` cut into pieces: whole, one byte each, or at random sizes. */
export function split(input: Buffer, mode: 'whole' | 'bytes' | number): Buffer[] {
  if (mode === 'whole') {
    return [input];
  }
  if (mode === 'bytes') {
    return [...input].map((byte) => Buffer.from([byte]));
  }
  const random = prng(mode);
  const pieces: Buffer[] = [];
  let pos = 0;
  while (pos < input.length) {
    const size = 1 + Math.floor(random() * 17);
    pieces.push(input.subarray(pos, pos + size));
    pos += size;
  }
  return pieces;
}

/**
 * Pushes `pieces` one at a time and drains the reader after each; `onEvent` may act on
 * the reader (e.g. expectLine()) as a proxy would.
 */
export function drive(
  reader: ImapCommandReader,
  pieces: Buffer[],
  onEvent?: (event: ImapReaderEvent, reader: ImapCommandReader) => void,
): ImapReaderEvent[] {
  const events: ImapReaderEvent[] = [];
  for (const piece of pieces) {
    reader.push(piece);
    for (let event = reader.next(); event !== null; event = reader.next()) {
      events.push(event);
      onEvent?.(event, reader);
    }
  }
  return events;
}

export function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

export function str(value: string): { kind: 'string'; value: Buffer } {
  return { kind: 'string', value: Buffer.from(value, 'latin1') };
}

export function atom(value: string): { kind: 'atom'; value: string } {
  return { kind: 'atom', value };
}
