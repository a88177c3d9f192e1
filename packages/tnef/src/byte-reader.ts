/**
 * A bounds-checked little-endian reader over a slice of a Uint8Array.
 *
 * Every read checks the bytes are there and throws ERR_TNEF_TRUNCATED otherwise, so the
 * parsers above it never index past a declared length (a length field is only a claim).
 * Byte runs are returned as views (subarray), never copied.
 */
import { TnefError, TnefErrorCode } from './tnef-error.ts';

export class ByteReader {
  readonly bytes: Uint8Array;
  readonly end: number;
  pos: number;
  private readonly view: DataView;
  private readonly what: string;

  constructor(bytes: Uint8Array, what: string, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.what = what;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws ERR_TNEF_TRUNCATED unless `count` more bytes are available. */
  need(count: number, field: string): void {
    if (count > this.end - this.pos) {
      throw new TnefError(
        TnefErrorCode.TRUNCATED,
        `${this.what}: ${field} needs ${count} bytes at offset ${this.pos}, ${this.end - this.pos} left`,
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  u16(field: string): number {
    this.need(2, field);
    const value = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return value;
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  i32(field: string): number {
    this.need(4, field);
    const value = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return value;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const value = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return value;
  }

  i64(field: string): bigint {
    this.need(8, field);
    const value = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return value;
  }

  f32(field: string): number {
    this.need(4, field);
    const value = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return value;
  }

  f64(field: string): number {
    this.need(8, field);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  take(count: number, field: string): Uint8Array {
    this.need(count, field);
    const value = this.bytes.subarray(this.pos, this.pos + count);
    this.pos += count;
    return value;
  }

  /** Skips the padding that aligns a value to 4 bytes; a stream ending inside it is tolerated. */
  align4(length: number): void {
    const pad = (4 - (length % 4)) % 4;
    this.pos = Math.min(this.end, this.pos + pad);
  }
}
