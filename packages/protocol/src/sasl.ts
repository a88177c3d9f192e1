/**
 * SASL encodings used by IMAP AUTHENTICATE and POP3 AUTH, and the PLAIN mechanism.
 *
 * SASL exchanges carry base64 (RFC 9051 §6.2.2, RFC 5034 §4, RFC 4648 §4). The decoder
 * is strict on purpose: Node's own base64 decoder skips invalid characters and missing
 * padding, which would let two different client strings mean the same credentials and
 * hide garbage (Dovecot CVE-2025-59028 was a crash on bad base64 in auth). Only the
 * RFC 4648 alphabet with correct padding and zero pad bits is accepted, without
 * whitespace. An empty response is "=" in an initial response (RFC 4959 §3) and an empty
 * line in a continuation; both decode to zero bytes.
 *
 * PLAIN (RFC 4616 §2): `message = [authzid] UTF8NUL authcid UTF8NUL passwd`, authcid and
 * passwd not empty, no NUL inside the fields, all UTF-8.
 */
import { GatehouseError } from './gatehouse-error.ts';

export interface SaslPlainCredentials {
  /** Authorization identity: the user to act as; '' when absent. */
  authzid: string;
  /** Authentication identity: whose password this is. */
  authcid: string;
  password: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes of strict RFC 4648 base64 `text`, or null when it is not exactly that. */
export function decodeBase64Strict(text: string): Buffer | null {
  if (text === '=') {
    return Buffer.alloc(0);
  }
  if (text.length % 4 !== 0 || !BASE64.test(text)) {
    return null;
  }
  const bytes = Buffer.from(text, 'base64');
  // Re-encoding catches non-zero pad bits and "=" in the wrong place.
  return bytes.toString('base64') === text ? bytes : null;
}

/** The base64 of `text`'s UTF-8 bytes. */
export function encodeBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** The fields of a SASL PLAIN message, or null when it is malformed. */
export function parseSaslPlain(msg: Buffer): SaslPlainCredentials | null {
  const first = msg.indexOf(0);
  const second = first === -1 ? -1 : msg.indexOf(0, first + 1);
  if (second === -1 || msg.indexOf(0, second + 1) !== -1) {
    return null;
  }
  if (second === first + 1 || second === msg.length - 1) {
    return null;
  }
  try {
    return {
      authzid: utf8.decode(msg.subarray(0, first)),
      authcid: utf8.decode(msg.subarray(first + 1, second)),
      password: utf8.decode(msg.subarray(second + 1)),
    };
  } catch {
    return null;
  }
}

/**
 * The base64 SASL PLAIN message for the given fields. Throws
 * GatehouseError(ERR_INVALID_ARGUMENT) when a field contains NUL (it would shift the
 * fields: a password "x\0admin" must never become an identity) or authcid or password is
 * empty.
 */
export function encodeSaslPlain(authzid: string, authcid: string, password: string): string {
  if (authcid.length === 0 || password.length === 0 || [authzid, authcid, password].some((f) => f.includes('\0'))) {
    throw new GatehouseError('ERR_INVALID_ARGUMENT', 'SASL PLAIN fields must not contain NUL; authcid and password must not be empty');
  }
  return encodeBase64(`${authzid}\0${authcid}\0${password}`);
}
