/**
 * Formatting of strings Gatehouse sends in IMAP commands, and the ID parameter list.
 *
 * Everything Gatehouse writes toward a back-end on a user's behalf (LOGIN arguments, ID
 * parameters such as x-originating-ip) may carry client-chosen text, so it must be
 * quoted correctly or not sent at all: an unescaped quote or a CRLF would let a client
 * inject commands into the back-end session (anchors §8.4). RFC 9051 §4.3 and §9:
 *
 *   quoted      = DQUOTE *QUOTED-CHAR DQUOTE
 *   QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials / UTF8-2…4
 *
 * quoteImapString refuses CR, LF, NUL and any non-ASCII character (8-bit text needs a
 * literal, or UTF8=ACCEPT which cannot be assumed of every back-end).
 *
 * The ID command (RFC 2971 §3.3): `id_params_list ::= "(" #(string SPACE nstring) ")" /
 * nil`, at most 30 pairs, field names at most 30 octets, values at most 1024 octets.
 */
import type { ImapArg } from './imap-command-reader.ts';

export const ID_MAX_PAIRS = 30;
export const ID_MAX_KEY_BYTES = 30;
export const ID_MAX_VALUE_BYTES = 1024;

/** `value` as an RFC 9051 quoted string, or null when it cannot be quoted. */
export function quoteImapString(value: string): string | null {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x00 || code === 0x0a || code === 0x0d || code > 0x7f) {
      return null;
    }
  }
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * `("key" "value" …)` for an ID command, or NIL when nothing is left to send. Pairs
 * whose key or value cannot be quoted, or exceed the RFC 2971 sizes, are skipped, and at
 * most 30 pairs are sent, so one bad value never makes the back-end refuse the whole ID.
 */
export function formatIdParams(params: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    const quotedKey = quoteImapString(key);
    const quotedValue = quoteImapString(value);
    if (
      quotedKey === null ||
      quotedValue === null ||
      key.length === 0 ||
      key.length > ID_MAX_KEY_BYTES ||
      value.length > ID_MAX_VALUE_BYTES
    ) {
      continue;
    }
    parts.push(`${quotedKey} ${quotedValue}`);
    if (parts.length === ID_MAX_PAIRS) {
      break;
    }
  }
  return parts.length === 0 ? 'NIL' : `(${parts.join(' ')})`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The parameters of a client's ID command (its single argument): NIL gives an empty map;
 * a list of string pairs gives field → value with field names lower-cased (they are
 * case-insensitive; RFC 2971 §3.3 lists them in any case). A NIL value leaves the field
 * out. Null when the argument is not valid: not NIL or a list, an odd number of items,
 * a field that is not a string, a value that is neither a string nor NIL, more than 30
 * pairs, a field over 30 or a value over 1024 bytes, a repeated field, or text that is
 * not UTF-8.
 */
export function parseIdParams(arg: ImapArg): Map<string, string> | null {
  if (arg.kind === 'atom') {
    return arg.value.toUpperCase() === 'NIL' ? new Map() : null;
  }
  if (arg.kind !== 'list' || arg.items.length % 2 !== 0 || arg.items.length > ID_MAX_PAIRS * 2) {
    return null;
  }
  const params = new Map<string, string>();
  const seen = new Set<string>();
  for (let i = 0; i < arg.items.length; i += 2) {
    const key = arg.items[i] as ImapArg;
    const value = arg.items[i + 1] as ImapArg;
    if (key.kind !== 'string' || key.value.length > ID_MAX_KEY_BYTES) {
      return null;
    }
    const name = decodeUtf8(key.value)?.toLowerCase();
    if (name === undefined || seen.has(name)) {
      return null;
    }
    seen.add(name);
    if (value.kind === 'atom' && value.value.toUpperCase() === 'NIL') {
      continue;
    }
    if (value.kind !== 'string' || value.value.length > ID_MAX_VALUE_BYTES) {
      return null;
    }
    const text = decodeUtf8(value.value);
    if (text === undefined) {
      return null;
    }
    params.set(name, text);
  }
  return params;
}

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}
