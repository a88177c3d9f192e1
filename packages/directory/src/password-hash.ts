/**
 * Password hashes as Dovecot passwd-files store them: `{SCHEME}payload`, or a bare
 * crypt(3) string (`$6$…`, `$2y$…`), which is read as `{CRYPT}`. Scheme names are
 * case-insensitive and may carry Dovecot's encoding suffix (`{SHA256.HEX}`,
 * `{SSHA.B64}`).
 *
 * New hashes are always our `{SCRYPT}` (see phc-hash.ts for the format); the other
 * schemes are verified so that existing passwd-files import unchanged, and
 * needsRehash() tells the caller when to upgrade (Directory.authenticate can do it on
 * a successful login).
 *
 * Every comparison is constant-time (crypto.timingSafeEqual over equal-length digests;
 * PLAIN compares SHA-256 digests of both sides so even the length does not leak).
 * A password longer than MAX_PASSWORD_BYTES never matches: SHA-crypt's work grows with
 * the password length, and no mail client sends a kilobyte password.
 */
import { createHash, pbkdf2 as pbkdf2Callback, timingSafeEqual } from 'node:crypto';
import { DirectoryError } from './directory-error.ts';
import { checkCrypt, type CryptId, verifyCrypt } from './crypt-hash.ts';
import { hashScrypt, parseArgon2, parseScrypt, SCRYPT_PARAMS, scryptIsCurrent, verifyArgon2, verifyScrypt } from './phc-hash.ts';

export { SCRYPT_PARAMS } from './phc-hash.ts';

export const MAX_PASSWORD_BYTES = 1024;
/** A stored hash longer than this is refused (ERR_BAD_HASH). */
export const MAX_HASH_CHARS = 2048;

/** The schemes verifyPassword accepts (aliases included), for docs and `--help`. */
export const PASSWORD_SCHEMES = [
  'SCRYPT', 'ARGON2ID', 'ARGON2I', 'BLF-CRYPT', 'SHA512-CRYPT', 'SHA256-CRYPT', 'MD5-CRYPT', 'CRYPT',
  'PBKDF2', 'SSHA512', 'SSHA256', 'SSHA', 'SMD5', 'SHA512', 'SHA256', 'SHA', 'SHA1', 'MD5', 'PLAIN-MD5', 'LDAP-MD5',
  'PLAIN', 'CLEARTEXT', 'CLEAR',
] as const;

type Encoding = 'hex' | 'base64' | undefined;
type DigestAlg = 'md5' | 'sha1' | 'sha256' | 'sha512';
const DIGEST_BYTES: Record<DigestAlg, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };

type Scheme =
  | { readonly kind: 'scrypt' }
  | { readonly kind: 'argon2'; readonly alg: 'argon2i' | 'argon2id' }
  | { readonly kind: 'crypt'; readonly ids: readonly CryptId[] }
  | { readonly kind: 'md5' }
  | { readonly kind: 'pbkdf2' }
  | { readonly kind: 'digest'; readonly alg: DigestAlg }
  | { readonly kind: 'salted'; readonly alg: DigestAlg }
  | { readonly kind: 'plain' };

const ALL_CRYPT: readonly CryptId[] = ['1', '5', '6', '2a', '2b', '2y'];

const SCHEMES: Readonly<Record<string, Scheme>> = {
  SCRYPT: { kind: 'scrypt' },
  ARGON2ID: { kind: 'argon2', alg: 'argon2id' },
  ARGON2I: { kind: 'argon2', alg: 'argon2i' },
  CRYPT: { kind: 'crypt', ids: ALL_CRYPT },
  'BLF-CRYPT': { kind: 'crypt', ids: ['2a', '2b', '2y'] },
  'SHA512-CRYPT': { kind: 'crypt', ids: ['6'] },
  'SHA256-CRYPT': { kind: 'crypt', ids: ['5'] },
  'MD5-CRYPT': { kind: 'crypt', ids: ['1'] },
  // Dovecot's MD5 is MD5-crypt when it starts with $1$, otherwise PLAIN-MD5.
  MD5: { kind: 'md5' },
  PBKDF2: { kind: 'pbkdf2' },
  SSHA512: { kind: 'salted', alg: 'sha512' },
  SSHA256: { kind: 'salted', alg: 'sha256' },
  SSHA: { kind: 'salted', alg: 'sha1' },
  SMD5: { kind: 'salted', alg: 'md5' },
  SHA512: { kind: 'digest', alg: 'sha512' },
  SHA256: { kind: 'digest', alg: 'sha256' },
  SHA: { kind: 'digest', alg: 'sha1' },
  SHA1: { kind: 'digest', alg: 'sha1' },
  'PLAIN-MD5': { kind: 'digest', alg: 'md5' },
  'LDAP-MD5': { kind: 'digest', alg: 'md5' },
  PLAIN: { kind: 'plain' },
  CLEARTEXT: { kind: 'plain' },
  CLEAR: { kind: 'plain' },
};

interface Parsed {
  /** Upper-case scheme name as written (CRYPT for a bare crypt string). */
  readonly name: string;
  readonly scheme: Scheme;
  readonly encoding: Encoding;
  readonly payload: string;
}

function badHash(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_HASH', message);
}

function parse(stored: string): Parsed {
  if (typeof stored !== 'string' || stored.length === 0) throw badHash('empty password hash');
  if (stored.length > MAX_HASH_CHARS) throw badHash('password hash is too long');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(stored)) throw badHash('password hash contains control characters');
  if (stored.startsWith('$')) return { name: 'CRYPT', scheme: { kind: 'crypt', ids: ALL_CRYPT }, encoding: undefined, payload: stored };
  const m = /^\{([A-Za-z0-9-]{1,32})(?:\.([A-Za-z0-9]{1,8}))?\}/.exec(stored);
  if (m === null) throw badHash('password hash has no {SCHEME} prefix and is not a $id$ crypt string');
  const name = (m[1] ?? '').toUpperCase();
  const scheme = SCHEMES[name];
  if (scheme === undefined) throw badHash(`unknown password scheme {${name}}`);
  let encoding: Encoding;
  if (m[2] !== undefined) {
    const enc = m[2].toUpperCase();
    if (enc === 'HEX') encoding = 'hex';
    else if (enc === 'B64' || enc === 'BASE64') encoding = 'base64';
    else throw badHash(`unknown encoding suffix .${enc}`);
    if (scheme.kind !== 'digest' && scheme.kind !== 'salted' && scheme.kind !== 'plain' && scheme.kind !== 'md5') {
      throw badHash(`{${name}} takes no encoding suffix`);
    }
  }
  return { name, scheme, encoding, payload: stored.slice(m[0].length) };
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/**
 * Decodes a digest payload. Without an explicit suffix, Dovecot's rule: exactly twice
 * the digest length in hex digits is hex, anything else is base64.
 */
function decode(payload: string, encoding: Encoding, rawBytes: number | undefined): Buffer {
  const hexLike = rawBytes !== undefined && payload.length === rawBytes * 2 && HEX.test(payload);
  const enc = encoding ?? (hexLike ? 'hex' : 'base64');
  if (enc === 'hex') {
    if (!HEX.test(payload)) throw badHash('digest is not valid hex');
    return Buffer.from(payload, 'hex');
  }
  if (payload.length === 0 || !BASE64.test(payload)) throw badHash('digest is not valid base64');
  return Buffer.from(payload, 'base64');
}

/** Validates the payload's structure; returns the decoded parts the verifier needs. */
function check(p: Parsed): void {
  const s = p.scheme;
  switch (s.kind) {
    case 'scrypt':
      parseScrypt(p.payload);
      return;
    case 'argon2':
      parseArgon2(p.payload, s.alg);
      return;
    case 'crypt': {
      const id = checkCrypt(p.payload);
      if (!s.ids.includes(id)) throw badHash(`{${p.name}} does not hold a $${id}$ crypt string`);
      return;
    }
    case 'md5':
      if (p.payload.startsWith('$1$') && p.encoding === undefined) checkCrypt(p.payload);
      else if (decode(p.payload, p.encoding, 16).length !== 16) throw badHash('MD5 digest has the wrong length');
      return;
    case 'pbkdf2':
      parsePbkdf2(p.payload);
      return;
    case 'digest':
      if (decode(p.payload, p.encoding, DIGEST_BYTES[s.alg]).length !== DIGEST_BYTES[s.alg]) throw badHash(`{${p.name}} digest has the wrong length`);
      return;
    case 'salted':
      if (decode(p.payload, p.encoding, undefined).length <= DIGEST_BYTES[s.alg]) throw badHash(`{${p.name}} is too short to hold a salt`);
      return;
    case 'plain':
      if (p.encoding !== undefined) decode(p.payload, p.encoding, undefined);
      return;
  }
}

/** Dovecot's PBKDF2: `$1$<salt>$<rounds>$<hex PBKDF2-HMAC-SHA1, 20 bytes>`, salt used as text. */
function parsePbkdf2(payload: string): { salt: string; rounds: number; key: Buffer } {
  const m = /^\$1\$([\x21-\x23\x25-\x7e]{1,64})\$([0-9]{1,7})\$([0-9a-fA-F]{40})$/.exec(payload);
  if (m === null) throw badHash('malformed PBKDF2 hash (expected $1$salt$rounds$hex)');
  const rounds = Number(m[2]);
  if (rounds < 1 || rounds > 1_000_000) throw badHash('PBKDF2 rounds out of bounds');
  return { salt: m[1] ?? '', rounds, key: Buffer.from(m[3] ?? '', 'hex') };
}

function pbkdf2(password: Buffer, salt: string, rounds: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2Callback(password, salt, rounds, 20, 'sha1', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function digest(alg: DigestAlg, ...parts: Buffer[]): Buffer {
  const h = createHash(alg);
  for (const part of parts) h.update(part);
  return h.digest();
}

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Validates a stored hash without a password: known scheme, well-formed payload, cost
 * parameters within bounds. Returns the upper-case scheme name (CRYPT for a bare crypt
 * string). Throws DirectoryError ERR_BAD_HASH.
 */
export function checkPasswordHash(stored: string): string {
  const p = parse(stored);
  check(p);
  return p.name;
}

/**
 * Verifies `password` against a stored hash in constant time. Resolves false for a wrong
 * password; rejects with DirectoryError ERR_BAD_HASH for an unknown scheme or a malformed
 * hash (an operator's problem, not a failed login).
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const p = parse(stored);
  check(p);
  const pw = Buffer.from(password, 'utf8');
  if (pw.length > MAX_PASSWORD_BYTES) return false;
  const s = p.scheme;
  switch (s.kind) {
    case 'scrypt':
      return verifyScrypt(password, p.payload);
    case 'argon2':
      return verifyArgon2(password, p.payload, s.alg);
    case 'crypt':
      return verifyCrypt(password, p.payload);
    case 'md5':
      if (p.payload.startsWith('$1$') && p.encoding === undefined) return verifyCrypt(password, p.payload);
      return equal(digest('md5', pw), decode(p.payload, p.encoding, 16));
    case 'pbkdf2': {
      const { salt, rounds, key } = parsePbkdf2(p.payload);
      return equal(await pbkdf2(pw, salt, rounds), key);
    }
    case 'digest':
      return equal(digest(s.alg, pw), decode(p.payload, p.encoding, DIGEST_BYTES[s.alg]));
    case 'salted': {
      // Dovecot/LDAP layout: digest(password ‖ salt) ‖ salt.
      const raw = decode(p.payload, p.encoding, undefined);
      const n = DIGEST_BYTES[s.alg];
      return equal(digest(s.alg, pw, raw.subarray(n)), raw.subarray(0, n));
    }
    case 'plain': {
      const want = p.encoding === undefined ? Buffer.from(p.payload, 'utf8') : decode(p.payload, p.encoding, undefined);
      return timingSafeEqual(digest('sha256', pw), digest('sha256', want));
    }
  }
}

/**
 * Hashes a new password as `{SCRYPT}$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (SCRYPT_PARAMS;
 * salt 16 bytes, hash 32 bytes, unpadded standard base64). Throws ERR_BAD_RECORD for a
 * password over MAX_PASSWORD_BYTES.
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new DirectoryError('ERR_BAD_RECORD', `password must be a string of at most ${MAX_PASSWORD_BYTES} bytes`);
  }
  return hashScrypt(password, SCRYPT_PARAMS);
}

/** True for any stored hash that is not `{SCRYPT}` with the current SCRYPT_PARAMS (malformed ones included). */
export function needsRehash(stored: string): boolean {
  try {
    const p = parse(stored);
    return p.scheme.kind !== 'scrypt' || !scryptIsCurrent(p.payload);
  } catch {
    return true;
  }
}
