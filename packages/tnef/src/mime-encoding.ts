/**
 * Content-Transfer-Encodings (RFC 2045 §6) and header encodings (RFC 2047 encoded words,
 * RFC 2231 parameter values) used to read a TNEF part and to write the parts replacing it.
 *
 * Decoders are lenient (mail in the wild has stray characters and missing padding) but
 * never throw. Encoders produce 7-bit output only, in lines of at most 76 characters, and
 * never a line that could be taken for a boundary: base64 has no "=_" or "--" at line
 * start, quoted-printable encodes "=" and a leading "-" of "--".
 */
import { Buffer } from 'node:buffer';

const BASE64_CHAR = /[A-Za-z0-9+/]/;

/** Decodes base64, skipping anything outside the alphabet and stopping at padding. */
export function decodeBase64Lenient(text: string): Uint8Array {
  let clean = '';
  for (const c of text) {
    if (c === '=') break;
    if (BASE64_CHAR.test(c)) clean += c;
  }
  clean = clean.slice(0, clean.length - (clean.length % 4 === 1 ? 1 : 0));
  return new Uint8Array(Buffer.from(clean, 'base64'));
}

/** Decodes quoted-printable (RFC 2045 §6.7); soft breaks removed, bad escapes kept as is. */
export function decodeQuotedPrintable(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  const hex = (b: number | undefined): number => {
    if (b === undefined) return -1;
    if (b >= 0x30 && b <= 0x39) return b - 0x30;
    const l = b | 0x20;
    return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b !== 0x3d) {
      out[n++] = b;
      continue;
    }
    // "=" then optional whitespace then a line break: a soft break.
    let j = i + 1;
    while (bytes[j] === 0x20 || bytes[j] === 0x09) j++;
    if (bytes[j] === 0x0a || (bytes[j] === 0x0d && bytes[j + 1] === 0x0a)) {
      i = bytes[j] === 0x0d ? j + 1 : j;
      continue;
    }
    const high = hex(bytes[i + 1]);
    const low = hex(bytes[i + 2]);
    if (high >= 0 && low >= 0) {
      out[n++] = high * 16 + low;
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  return out.slice(0, n);
}

/** Undoes a part's Content-Transfer-Encoding (7bit, 8bit, binary and unknown: as is). */
export function decodeTransferEncoding(body: Uint8Array, encoding: string | undefined): Uint8Array {
  switch (encoding?.trim().toLowerCase()) {
    case 'base64':
      return decodeBase64Lenient(new TextDecoder('latin1').decode(body));
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

/** Base64 in lines of 76 characters, each ended by `eol`. */
export function encodeBase64Lines(bytes: Uint8Array, eol: string): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.length === 0 ? '' : lines.join(eol) + eol;
}

function qpByte(byte: number): string {
  return `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Quoted-printable for text bytes: CRLF, LF and CR all become `eol` hard breaks; lines are
 * soft-broken at 76 characters; trailing whitespace, "=", controls, 8-bit bytes, a leading
 * "." (SMTP) and the "F" of a leading "From " (mbox) are encoded.
 */
export function encodeQuotedPrintable(bytes: Uint8Array, eol: string): string {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const b = bytes[i];
    if (i === bytes.length || b === 0x0a || b === 0x0d) {
      lines.push(encodeQpLine(bytes.subarray(start, i), eol));
      if (b === 0x0d && bytes[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  // The input's final line break gives an empty last line: it ends with `eol` below.
  const last = lines.pop() as string;
  return lines.map((line) => line + eol).join('') + (last === '' ? '' : last + eol);
}

function encodeQpLine(line: Uint8Array, eol: string): string {
  const tokens: string[] = [];
  for (let i = 0; i < line.length; i++) {
    const b = line[i] as number;
    const last = i === line.length - 1;
    const printable = (b >= 0x21 && b <= 0x7e && b !== 0x3d) || ((b === 0x20 || b === 0x09) && !last);
    let token = printable ? String.fromCharCode(b) : qpByte(b);
    if (i === 0 && (b === 0x2e || b === 0x2d || (b === 0x46 && isFromLine(line)))) token = qpByte(b);
    tokens.push(token);
  }
  let out = '';
  let lineLength = 0;
  for (const token of tokens) {
    if (lineLength + token.length > 75) {
      out += `=${eol}`;
      lineLength = 0;
    }
    out += token;
    lineLength += token.length;
  }
  return out;
}

function isFromLine(line: Uint8Array): boolean {
  return line.length >= 5 && new TextDecoder('latin1').decode(line.subarray(0, 5)) === 'From ';
}

function isAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** RFC 2047 encoded words (UTF-8, B) for `text`, each at most 75 characters, space-separated. */
export function encodeWords(text: string): string {
  if (isAscii(text) && !/=\?|\?=/.test(text)) return text;
  const words: string[] = [];
  let chunk = '';
  const encoder = new TextEncoder();
  for (const char of text) {
    // 45 bytes of UTF-8 → 60 base64 characters + 12 of "=?UTF-8?B??=" = 72 ≤ 75.
    if (encoder.encode(chunk + char).length > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(' ');
}

/** A quoted-string (RFC 5322 §3.2.4) for ASCII text. */
export function quoteString(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * One MIME parameter as header tokens: `name=value` or `name="value"` for short ASCII,
 * else RFC 2231 `name*=utf-8''…`, split into `name*0*=…; name*1*=…` past 60 characters.
 */
export function encodeParameter(name: string, value: string): string[] {
  if (isAscii(value) && value.length <= 60) return [`${name}=${TOKEN.test(value) ? value : quoteString(value)}`];
  const encoded = Array.from(new TextEncoder().encode(value), (b) =>
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x2d || b === 0x5f
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');
  const prefix = "utf-8''";
  if (prefix.length + encoded.length <= 60) return [`${name}*=${prefix}${encoded}`];
  const pieces: string[] = [];
  let rest = encoded;
  while (rest.length > 0) {
    let cut = Math.min(rest.length, 48);
    // Never cut a %XX escape in half.
    const percent = rest.lastIndexOf('%', cut - 1);
    if (percent > cut - 3 && percent !== -1) cut = percent;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return pieces.map((piece, i) => `${name}*${i}*=${i === 0 ? prefix : ''}${piece}`);
}

/**
 * A header field from tokens joined by "; ", folded (RFC 5322 §2.2.3) before a token or
 * at a space so that lines stay within 78 characters where the tokens allow it.
 */
export function formatHeader(name: string, tokens: readonly string[], eol: string): string {
  let out = `${name}:`;
  let lineLength = out.length;
  const add = (word: string): void => {
    if (lineLength + 1 + word.length > 76 && lineLength > name.length + 1) {
      out += `${eol} ${word}`;
      lineLength = 1 + word.length;
    } else {
      out += ` ${word}`;
      lineLength += 1 + word.length;
    }
  };
  tokens.forEach((token, index) => {
    const piece = index < tokens.length - 1 ? `${token};` : token;
    // A token is kept whole when it fits on a line; a longer one is folded at its spaces
    // (folding puts a line break before a space, so unfolding gives the same text).
    if (piece.length <= 75) {
      add(piece);
    } else {
      for (const word of piece.split(' ')) add(word);
    }
  });
  return out + eol;
}
