/**
 * MAPI property lists inside TNEF: attMsgProps, attAttachment and the rows of
 * attRecipTable (MS-OXTNEF §2.1.3.4, MsgPropertyList).
 *
 * Layout: a count, then per property a 16-bit type and id; named properties (id ≥ 0x8000)
 * add a GUID and either a numeric id or a UTF-16LE name. Fixed-size values follow
 * directly (PT_SHORT and PT_BOOLEAN padded to 4 bytes); PT_STRING8, PT_UNICODE,
 * PT_BINARY and PT_OBJECT values, and every multi-valued property, carry a value count,
 * and each variable value a byte length and padding to 4 bytes. Every count is checked
 * against the bytes left before anything is allocated for it (POI's oom.tnef).
 *
 * PT_STRING8 values are kept as bytes until the list's code page is known
 * (PR_MESSAGE_CODEPAGE may come after them), then decoded by decodeString8Values.
 */
import { ByteReader } from './byte-reader.ts';
import { decodeCodePage } from './code-pages.ts';
import { PropertyType } from './tnef-constants.ts';
import { TnefError, TnefErrorCode } from './tnef-error.ts';

export type MapiValue = number | bigint | boolean | string | Uint8Array | Date | null;

export interface MapiPropertyName {
  /** The property set GUID, lower-case canonical form. */
  readonly guid: string;
  /** MNID_ID: the numeric id within the property set. */
  readonly id?: number;
  /** MNID_STRING: the name within the property set. */
  readonly name?: string;
}

export interface MapiProperty {
  /** The 16-bit property id (≥ 0x8000 for a named property, then see `name`). */
  readonly id: number;
  /** The property type without the multi-value flag (PropertyType). */
  readonly type: number;
  readonly multiValued: boolean;
  readonly name?: MapiPropertyName;
  /**
   * PT_SHORT/LONG/FLOAT/DOUBLE/APPTIME/ERROR: number; PT_I8/CURRENCY: bigint;
   * PT_BOOLEAN: boolean; PT_STRING8/UNICODE/CLSID: string; PT_BINARY/OBJECT: Uint8Array
   * (a view of the input; PT_OBJECT includes its 16-byte IID); PT_SYSTIME: Date (null when
   * out of range); PT_NULL/UNSPECIFIED: null. Multi-valued: an array of those.
   */
  readonly value: MapiValue | MapiValue[];
}

/** A PT_STRING8 value before its code page is known. */
class String8Bytes {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

type RawValue = MapiValue | String8Bytes;

interface RawProperty {
  id: number;
  type: number;
  multiValued: boolean;
  name?: MapiPropertyName;
  value: RawValue | RawValue[];
}

export interface PropertyBudget {
  /** Properties still allowed (all lists of one decode together). */
  properties: number;
  readonly maxValuesPerProperty: number;
}

/** Bytes of a fixed-size value as stored (PT_SHORT and PT_BOOLEAN are padded to 4). */
function fixedSize(type: number): number | undefined {
  switch (type) {
    case PropertyType.UNSPECIFIED:
    case PropertyType.NULL:
    case PropertyType.SHORT:
    case PropertyType.LONG:
    case PropertyType.FLOAT:
    case PropertyType.ERROR:
    case PropertyType.BOOLEAN:
      return 4;
    case PropertyType.DOUBLE:
    case PropertyType.CURRENCY:
    case PropertyType.APPTIME:
    case PropertyType.I8:
    case PropertyType.SYSTIME:
      return 8;
    case PropertyType.CLSID:
      return 16;
    default:
      return undefined;
  }
}

function isVariable(type: number): boolean {
  return (
    type === PropertyType.STRING8 ||
    type === PropertyType.UNICODE ||
    type === PropertyType.BINARY ||
    type === PropertyType.OBJECT
  );
}

const FILETIME_UNIX_EPOCH = 116444736000000000n;
/** 9999-12-31T23:59:59Z: later FILETIMEs (0x7FFF…, 0xFFFF…) mean "never", not a date. */
const MAX_DATE_MS = 253402300799000;

/** A FILETIME (100 ns ticks since 1601-01-01 UTC) as a Date, or null past the year 9999. */
export function fileTimeToDate(ticks: bigint): Date | null {
  const ms = Number((ticks - FILETIME_UNIX_EPOCH) / 10000n);
  return ms <= MAX_DATE_MS ? new Date(ms) : null;
}

export function formatGuid(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Array.from(bytes.subarray(from, to), (b) => b.toString(16).padStart(2, '0'));
    return (reverse ? part.reverse() : part).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

const utf16 = new TextDecoder('utf-16le');

/** UTF-16LE text up to its first NUL. */
export function decodeUtf16z(bytes: Uint8Array): string {
  const text = utf16.decode(bytes);
  const nul = text.indexOf('\0');
  return nul === -1 ? text : text.slice(0, nul);
}

/** 8-bit text in a code page, up to its first NUL. */
export function decodeString8z(bytes: Uint8Array, codePage: number): string {
  const nul = bytes.indexOf(0);
  return decodeCodePage(nul === -1 ? bytes : bytes.subarray(0, nul), codePage);
}

function readFixed(reader: ByteReader, type: number): MapiValue {
  switch (type) {
    case PropertyType.SHORT: {
      const value = reader.i32('PT_SHORT');
      return (value << 16) >> 16;
    }
    case PropertyType.LONG:
    case PropertyType.ERROR:
      return reader.i32('PT_LONG');
    case PropertyType.FLOAT:
      return reader.f32('PT_FLOAT');
    case PropertyType.BOOLEAN:
      return (reader.u32('PT_BOOLEAN') & 0xffff) !== 0;
    case PropertyType.DOUBLE:
    case PropertyType.APPTIME:
      return reader.f64('PT_DOUBLE');
    case PropertyType.CURRENCY:
    case PropertyType.I8:
      return reader.i64('PT_I8');
    case PropertyType.SYSTIME:
      return fileTimeToDate(reader.u64('PT_SYSTIME'));
    case PropertyType.CLSID:
      return formatGuid(reader.take(16, 'PT_CLSID'));
    default:
      reader.take(4, 'PT_NULL');
      return null;
  }
}

function readVariable(reader: ByteReader, type: number): RawValue {
  const length = reader.u32('value length');
  const bytes = reader.take(length, 'value');
  reader.align4(length);
  switch (type) {
    case PropertyType.STRING8:
      return new String8Bytes(bytes);
    case PropertyType.UNICODE:
      return decodeUtf16z(bytes);
    default:
      return bytes;
  }
}

function readName(reader: ByteReader): MapiPropertyName {
  const guid = formatGuid(reader.take(16, 'named property GUID'));
  const kind = reader.u32('named property kind');
  if (kind === 0) {
    return { guid, id: reader.u32('named property id') };
  }
  if (kind === 1) {
    const length = reader.u32('named property name length');
    const name = decodeUtf16z(reader.take(length, 'named property name'));
    reader.align4(length);
    return { guid, name };
  }
  throw new TnefError(TnefErrorCode.FORMAT, `named property kind ${kind} is neither MNID_ID nor MNID_STRING`);
}

/**
 * Parses a MsgPropertyList. STRING8 values stay undecoded until decodeString8Values.
 * Throws ERR_TNEF_TRUNCATED, ERR_TNEF_FORMAT (unknown type) or ERR_TNEF_LIMIT.
 */
export function parsePropertyList(reader: ByteReader, budget: PropertyBudget): RawProperty[] {
  const count = reader.u32('property count');
  // Every property takes at least its 4-byte tag: a larger count cannot be real.
  reader.need(count * 4, `${count} properties`);
  if (count > budget.properties) {
    throw new TnefError(TnefErrorCode.LIMIT, `${count} MAPI properties is over the limit`);
  }
  budget.properties -= count;
  const properties: RawProperty[] = [];
  for (let i = 0; i < count; i++) {
    const fullType = reader.u16('property type');
    const id = reader.u16('property id');
    const name = id >= 0x8000 ? readName(reader) : undefined;
    const multiValued = (fullType & PropertyType.MULTIPLE) !== 0;
    const type = fullType & ~PropertyType.MULTIPLE;
    const size = fixedSize(type);
    if (size === undefined && !isVariable(type)) {
      throw new TnefError(TnefErrorCode.FORMAT, `MAPI property 0x${id.toString(16)} has unknown type 0x${fullType.toString(16)}`);
    }
    let value: RawValue | RawValue[];
    if (!multiValued && size !== undefined) {
      value = readFixed(reader, type);
    } else {
      const valueCount = reader.u32('value count');
      reader.need(valueCount * (size ?? 4), `${valueCount} values`);
      if (valueCount > budget.maxValuesPerProperty) {
        throw new TnefError(TnefErrorCode.LIMIT, `a property with ${valueCount} values is over the limit`);
      }
      const values: RawValue[] = [];
      for (let v = 0; v < valueCount; v++) {
        values.push(size === undefined ? readVariable(reader, type) : readFixed(reader, type));
      }
      // Single-valued variable types carry a count too (normally 1); keep the first value.
      value = multiValued ? values : (values[0] ?? (type === PropertyType.UNICODE ? '' : null));
    }
    properties.push(name === undefined ? { id, type, multiValued, value } : { id, type, multiValued, name, value });
  }
  return properties;
}

function finishValue(value: RawValue, codePage: number): MapiValue {
  return value instanceof String8Bytes ? decodeString8z(value.bytes, codePage) : value;
}

/** Decodes the PT_STRING8 values of a parsed list in `codePage`. */
export function decodeString8Values(properties: RawProperty[], codePage: number): MapiProperty[] {
  return properties.map((p) => ({
    ...p,
    value: Array.isArray(p.value) ? p.value.map((v) => finishValue(v, codePage)) : finishValue(p.value, codePage),
  }));
}

/** The raw (undecoded) value of a single-valued property, for reading the code page early. */
export function rawNumber(properties: RawProperty[], id: number): number | undefined {
  const property = properties.find((p) => p.id === id && !p.multiValued);
  return typeof property?.value === 'number' ? property.value : undefined;
}

/** The bytes of a single-valued PT_STRING8 property before decoding. */
export function rawString8(properties: RawProperty[], id: number): Uint8Array | undefined {
  const value = properties.find((p) => p.id === id && !p.multiValued && p.name === undefined)?.value;
  return value instanceof String8Bytes ? value.bytes : undefined;
}

/** The single value of property `id` (the first value of a multi-valued one). */
export function getProperty(properties: readonly MapiProperty[], id: number): MapiValue | undefined {
  const property = properties.find((p) => p.id === id && p.name === undefined);
  if (property === undefined) return undefined;
  return Array.isArray(property.value) ? property.value[0] : property.value;
}

export function getString(properties: readonly MapiProperty[], id: number): string | undefined {
  const value = getProperty(properties, id);
  return typeof value === 'string' ? value : undefined;
}

export function getNumber(properties: readonly MapiProperty[], id: number): number | undefined {
  const value = getProperty(properties, id);
  return typeof value === 'number' ? value : undefined;
}

export function getBytes(properties: readonly MapiProperty[], id: number): Uint8Array | undefined {
  const value = getProperty(properties, id);
  return value instanceof Uint8Array ? value : undefined;
}

export function getDate(properties: readonly MapiProperty[], id: number): Date | undefined {
  const value = getProperty(properties, id);
  return value instanceof Date ? value : undefined;
}

export type { RawProperty };
