// Test helpers: the shared fixtures, hashes, and a writer for hand-made TNEF streams.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The TNEF fixtures: `${repo}/../shared/fixtures/tnef` (CI has shared/ beside its clone),
 * or GATEHOUSE_FIXTURES (the fixtures root holding tnef/, or the tnef folder itself).
 */
export const fixturesDir = ((): string => {
  const override = process.env['GATEHOUSE_FIXTURES'];
  if (override !== undefined && override !== '') {
    return existsSync(join(override, 'tnef', 'README.md')) ? join(override, 'tnef') : override;
  }
  return join(repo, '..', 'shared', 'fixtures', 'tnef');
})();

export function fixture(path: string): Buffer {
  return readFileSync(join(fixturesDir, path));
}

/** The first 12 hex digits of the MD5, as the fixtures README lists them. */
export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex').slice(0, 12);
}

export function buf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A small seeded PRNG (mulberry32), so random mutations are reproducible. */
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

// ---- Writing TNEF streams (MS-OXTNEF §2.1.3) -------------------------------------------

export function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}

function pad4(bytes: Buffer): Buffer {
  const pad = (4 - (bytes.length % 4)) % 4;
  return Buffer.concat([bytes, Buffer.alloc(pad)]);
}

/** One attribute: level, id, length, data, checksum (wrong on purpose when asked). */
export function attribute(level: number, id: number, data: Uint8Array, options: { badChecksum?: boolean } = {}): Buffer {
  let sum = 0;
  for (const byte of data) sum = (sum + byte) & 0xffff;
  if (options.badChecksum === true) sum = (sum + 1) & 0xffff;
  return Buffer.concat([Buffer.of(level), u32(id), u32(data.length), Buffer.from(data), u16(sum)]);
}

export function stream(attributes: readonly Uint8Array[], key = 0x1234): Buffer {
  return Buffer.concat([u32(0x223e9f78), u16(key), ...attributes]);
}

/** A MAPI property: tag, optional name, value bytes as already laid out. */
export function prop(type: number, id: number, value: Uint8Array, name?: { guid?: Buffer; id?: number; name?: string }): Buffer {
  const parts = [u16(type), u16(id)];
  if (name !== undefined) {
    parts.push(name.guid ?? Buffer.alloc(16, 0x11));
    if (name.name !== undefined) {
      const text = Buffer.from(`${name.name}\0`, 'utf16le');
      parts.push(u32(1), u32(text.length), pad4(text));
    } else {
      parts.push(u32(0), u32(name.id ?? 1));
    }
  }
  parts.push(Buffer.from(value));
  return Buffer.concat(parts);
}

export function propList(props: readonly Uint8Array[]): Buffer {
  return Buffer.concat([u32(props.length), ...props]);
}

/** The value bytes of variable-length values: count, then length + data + padding each. */
export function variableValues(values: readonly Uint8Array[]): Buffer {
  return Buffer.concat([u32(values.length), ...values.map((v) => Buffer.concat([u32(v.length), pad4(Buffer.from(v))]))]);
}

export const unicode = (text: string): Buffer => variableValues([Buffer.from(`${text}\0`, 'utf16le')]);
export const string8 = (text: string, encoding: BufferEncoding = 'latin1'): Buffer => variableValues([Buffer.from(`${text}\0`, encoding)]);
export const binary = (bytes: Uint8Array): Buffer => variableValues([bytes]);
export const long = (value: number): Buffer => u32(value);

export const PT = {
  SHORT: 0x0002,
  LONG: 0x0003,
  FLOAT: 0x0004,
  DOUBLE: 0x0005,
  CURRENCY: 0x0006,
  APPTIME: 0x0007,
  ERROR: 0x000a,
  BOOLEAN: 0x000b,
  OBJECT: 0x000d,
  I8: 0x0014,
  STRING8: 0x001e,
  UNICODE: 0x001f,
  SYSTIME: 0x0040,
  CLSID: 0x0048,
  BINARY: 0x0102,
  NULL: 0x0001,
  MV: 0x1000,
} as const;

export const ATT = {
  SUBJECT: 0x00018004,
  MESSAGE_CLASS: 0x00078008,
  BODY: 0x0002800c,
  ATTACH_DATA: 0x0006800f,
  ATTACH_TITLE: 0x00018010,
  ATTACH_MODIFY_DATE: 0x00038013,
  ATTACH_CREATE_DATE: 0x00038012,
  DATE_SENT: 0x00038005,
  FROM: 0x00008000,
  REND_DATA: 0x00069002,
  MAPI_PROPS: 0x00069003,
  RECIP_TABLE: 0x00069004,
  ATTACHMENT: 0x00069005,
  OEM_CODEPAGE: 0x00069007,
  TNEF_VERSION: 0x00089006,
} as const;

/** An atpDate value: year, month, day, hour, minute, second, weekday. */
export function atpDate(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): Buffer {
  return Buffer.concat([year, month, day, hour, minute, second, 0].map(u16));
}

/** A FILETIME for a Date. */
export function fileTime(date: Date): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(date.getTime()) * 10000n + 116444736000000000n);
  return b;
}

/** IID_IMessage as PT_OBJECT data starts with it. */
export const IID_IMESSAGE = Buffer.from('0703020000000000c000000000000046', 'hex');

/** A minimal stream: a subject and one attachment with a name and data. */
export function simpleStream(options: { subject?: string; fileName?: string; data?: Uint8Array; extra?: Uint8Array[] } = {}): Buffer {
  return stream([
    attribute(1, ATT.SUBJECT, Buffer.from(`${options.subject ?? 'hello'}\0`)),
    attribute(2, ATT.REND_DATA, Buffer.alloc(14)),
    attribute(2, ATT.ATTACH_TITLE, Buffer.from(`${options.fileName ?? 'a.txt'}\0`)),
    attribute(2, ATT.ATTACH_DATA, options.data ?? Buffer.from('attachment data\n')),
    ...(options.extra ?? []),
  ]);
}
