/**
 * A minimal MIME parser that keeps byte offsets, for rewriting one part of a message and
 * leaving every other byte exactly as it was.
 *
 * Libraries like postal-mime or mailparser decode a message into an object model (headers
 * unfolded and decoded, bodies transfer-decoded) and cannot say where a part starts and
 * ends in the original bytes, which a rewrite that must keep the outer headers and the
 * other parts byte-exact needs. So this parser only finds structure: the header block of
 * each entity (RFC 5322 §2.2, §3.2.2 folding), its Content-Type, and for multipart bodies
 * the delimiter lines (RFC 2046 §5.1.1: the line break before a delimiter belongs to it,
 * transport padding after it is allowed). It does not decode anything it does not need.
 * Headers are read as latin1, so offsets and bytes round-trip.
 *
 * Tolerated: LF-only line ends, a missing closing delimiter (the last part runs to the end),
 * header blocks without a blank line (an empty body). Bounded: nesting depth and part count.
 */

export interface MimeHeader {
  /** The field name as written. */
  readonly name: string;
  /** The unfolded value, latin1 (undecoded), trimmed. */
  readonly value: string;
  /** Offsets of the whole field, its line breaks included. */
  readonly start: number;
  readonly end: number;
}

export interface ContentType {
  /** Lower-case type/subtype. */
  readonly mediaType: string;
  /** Lower-case parameter names; RFC 2231 continuations joined and decoded. */
  readonly params: ReadonlyMap<string, string>;
}

export interface MimeEntity {
  /** Offset of the first header byte. */
  readonly start: number;
  /** Offset of the first body byte (after the blank line). */
  readonly bodyStart: number;
  /** Offset after the last byte of the entity (before the line break of the next delimiter). */
  readonly end: number;
  readonly headers: readonly MimeHeader[];
  readonly contentType: ContentType;
  /** Set for multipart entities with a boundary. */
  readonly boundary?: string;
  readonly children: readonly MimeEntity[];
  /** The multipart body had no closing delimiter. */
  readonly unterminated: boolean;
}

export interface MimeParseLimits {
  readonly maxDepth: number;
  readonly maxParts: number;
}

export const DEFAULT_MIME_PARSE_LIMITS: MimeParseLimits = Object.freeze({ maxDepth: 32, maxParts: 10_000 });

const LF = 0x0a;
const CR = 0x0d;

const latin1 = new TextDecoder('latin1');

/** The offset after the line break of the line starting at `pos` (or the end). */
function lineEnd(bytes: Uint8Array, pos: number, end: number): number {
  const lf = bytes.indexOf(LF, pos);
  return lf === -1 || lf >= end ? end : lf + 1;
}

/** Length of the line break ending just before `pos` (2, 1 or 0). */
function breakBefore(bytes: Uint8Array, pos: number, floor: number): number {
  if (pos - 1 >= floor && bytes[pos - 1] === LF) return pos - 2 >= floor && bytes[pos - 2] === CR ? 2 : 1;
  return 0;
}

function isBlankLine(bytes: Uint8Array, pos: number, next: number): boolean {
  return next - pos <= 2 && (bytes[pos] === LF || (bytes[pos] === CR && bytes[pos + 1] === LF));
}

/** Splits the header block starting at `start`; returns the fields and the body start. */
export function parseHeaders(bytes: Uint8Array, start: number, end: number): { headers: MimeHeader[]; bodyStart: number } {
  const headers: MimeHeader[] = [];
  let pos = start;
  while (pos < end) {
    const next = lineEnd(bytes, pos, end);
    if (isBlankLine(bytes, pos, next)) return { headers, bodyStart: next };
    // A field runs on over continuation lines (starting with space or tab).
    let fieldEnd = next;
    while (fieldEnd < end && (bytes[fieldEnd] === 0x20 || bytes[fieldEnd] === 0x09)) {
      fieldEnd = lineEnd(bytes, fieldEnd, end);
    }
    const text = latin1.decode(bytes.subarray(pos, fieldEnd));
    const colon = text.indexOf(':');
    if (colon > 0) {
      headers.push({
        name: text.slice(0, colon).trim(),
        value: text.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').replace(/\r?\n$/, '').trim(),
        start: pos,
        end: fieldEnd,
      });
    }
    pos = fieldEnd;
  }
  return { headers, bodyStart: end };
}

export function headerValue(headers: readonly MimeHeader[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

/** The bytes of an RFC 2231 value piece: %XX escapes when encoded, else the characters. */
function pieceBytes(value: string, encoded: boolean): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (encoded && c === 0x25 && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  return bytes;
}

function decodeBytes(bytes: number[], charset: string): string {
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(charset || 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(Uint8Array.from(bytes));
}

/**
 * Parses `type/subtype; a=b; c="d"` (RFC 2045 §5.1) with RFC 2231 extended and continued
 * parameters. Garbage gives what could be read; a missing type gives text/plain.
 */
export function parseParameterized(value: string): { value: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  const extended = new Map<string, { charset: string; pieces: Map<number, { text: string; encoded: boolean }> }>();
  let pos = value.indexOf(';');
  const head = (pos === -1 ? value : value.slice(0, pos)).trim().toLowerCase();
  while (pos !== -1 && pos < value.length) {
    pos++;
    const eq = value.indexOf('=', pos);
    if (eq === -1) break;
    const name = value.slice(pos, eq).trim().toLowerCase();
    let p = eq + 1;
    while (value[p] === ' ' || value[p] === '\t') p++;
    let text: string;
    if (value[p] === '"') {
      let out = '';
      p++;
      while (p < value.length && value[p] !== '"') {
        if (value[p] === '\\' && p + 1 < value.length) p++;
        out += value[p];
        p++;
      }
      text = out;
      const semi = value.indexOf(';', p);
      pos = semi;
    } else {
      const semi = value.indexOf(';', p);
      text = (semi === -1 ? value.slice(p) : value.slice(p, semi)).trim();
      pos = semi;
    }
    const match = /^([^*]+)(?:\*(\d+))?(\*)?$/.exec(name);
    if (match === null || (match[2] === undefined && match[3] === undefined)) {
      if (!params.has(name)) params.set(name, text);
      continue;
    }
    const base = match[1] as string;
    const index = match[2] === undefined ? 0 : Number(match[2]);
    const encoded = match[3] !== undefined;
    let entry = extended.get(base);
    if (entry === undefined) {
      entry = { charset: 'utf-8', pieces: new Map() };
      extended.set(base, entry);
    }
    if (encoded && index === 0) {
      const parts = /^([^']*)'[^']*'(.*)$/s.exec(text);
      if (parts !== null) {
        entry.charset = parts[1] as string;
        text = parts[2] as string;
      }
    }
    if (index < 1000) entry.pieces.set(index, { text, encoded });
  }
  for (const [name, entry] of extended) {
    // Join the bytes first: a multi-byte character may be split across pieces.
    const bytes: number[] = [];
    for (let i = 0; entry.pieces.has(i); i++) {
      const piece = entry.pieces.get(i) as { text: string; encoded: boolean };
      bytes.push(...pieceBytes(piece.text, piece.encoded));
    }
    params.set(name, decodeBytes(bytes, entry.charset));
  }
  return { value: head, params };
}

export function parseContentType(value: string | undefined, defaultType = 'text/plain'): ContentType {
  if (value === undefined) return { mediaType: defaultType, params: new Map() };
  const parsed = parseParameterized(value);
  const mediaType = /^[^/\s]+\/[^/\s]+$/.test(parsed.value) ? parsed.value : defaultType;
  return { mediaType, params: parsed.params };
}

class PartCounter {
  left: number;
  constructor(max: number) {
    this.left = max;
  }
}

/** Parses the entity in [start, end). */
export function parseMime(bytes: Uint8Array, limits: MimeParseLimits = DEFAULT_MIME_PARSE_LIMITS): MimeEntity {
  return parseEntity(bytes, 0, bytes.length, 'text/plain', 0, limits, new PartCounter(limits.maxParts));
}

function parseEntity(
  bytes: Uint8Array,
  start: number,
  end: number,
  defaultType: string,
  depth: number,
  limits: MimeParseLimits,
  counter: PartCounter,
): MimeEntity {
  const { headers, bodyStart } = parseHeaders(bytes, start, end);
  const contentType = parseContentType(headerValue(headers, 'content-type'), defaultType);
  const boundary = contentType.params.get('boundary');
  const base = { start, bodyStart, end, headers, contentType };
  if (!contentType.mediaType.startsWith('multipart/') || boundary === undefined || boundary === '' || depth >= limits.maxDepth) {
    return { ...base, children: [], unterminated: false };
  }
  const childType = contentType.mediaType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
  const delimiter = new TextEncoder().encode(`--${boundary}`);
  const children: MimeEntity[] = [];
  let partStart = -1;
  let closed = false;
  let pos = bodyStart;
  while (pos < end) {
    const next = lineEnd(bytes, pos, end);
    if (isDelimiter(bytes, pos, next, delimiter)) {
      const isClose = bytes[pos + delimiter.length] === 0x2d && bytes[pos + delimiter.length + 1] === 0x2d;
      if (partStart !== -1) {
        const partEnd = Math.max(partStart, pos - breakBefore(bytes, pos, partStart));
        if (--counter.left < 0) break;
        children.push(parseEntity(bytes, partStart, partEnd, childType, depth + 1, limits, counter));
      }
      if (isClose) {
        closed = true;
        break;
      }
      partStart = next;
    }
    pos = next;
  }
  if (!closed && partStart !== -1 && counter.left-- > 0) {
    children.push(parseEntity(bytes, partStart, end, childType, depth + 1, limits, counter));
  }
  return { ...base, boundary, children, unterminated: !closed };
}

/** `--boundary` or `--boundary--` at line start, then only transport padding (RFC 2046 §5.1.1). */
function isDelimiter(bytes: Uint8Array, pos: number, next: number, delimiter: Uint8Array): boolean {
  if (next - pos < delimiter.length) return false;
  for (let i = 0; i < delimiter.length; i++) if (bytes[pos + i] !== delimiter[i]) return false;
  let p = pos + delimiter.length;
  if (bytes[p] === 0x2d && bytes[p + 1] === 0x2d) p += 2;
  for (; p < next; p++) {
    const byte = bytes[p];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CR && byte !== LF) return false;
  }
  return true;
}
