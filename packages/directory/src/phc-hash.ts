/**
 * Memory-hard hashes in PHC string format, computed by node:crypto on the libuv thread
 * pool (never on the event loop):
 *
 * - our own `{SCRYPT}` scheme, written by hashPassword():
 *
 *       {SCRYPT}$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>
 *
 *   salt: 16 random bytes, hash: 32 bytes of scrypt(password UTF-8, salt, N, r, p), both
 *   standard base64 without padding (as Dovecot writes Argon2 salts). The field layout
 *   is passlib's `$scrypt$` (with plain instead of "adapted" base64) so the string says
 *   everything needed to verify it; raising SCRYPT_PARAMS later only makes needsRehash()
 *   true for old hashes.
 *
 * - Dovecot's `{ARGON2I}` / `{ARGON2ID}`: `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`
 *   (the reference PHC encoding), verified with `crypto.argon2` (Node ≥ 24.7).
 *
 * Cost parameters in stored strings are bounded, so that a hand-edited or imported hash
 * cannot make each login burn gigabytes or minutes.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import { DirectoryError } from './directory-error.ts';

/**
 * Current parameters for new hashes: N=2^15, r=8, p=1 — 32 MiB and ≈75 ms per hash on
 * one core. Mail clients log in far more often than web users (every reconnect, every
 * phone poll), and each verification also holds one of libuv's 4 default thread-pool
 * threads, which dns.lookup shares; 2^17 (≈300 ms, 128 MiB) would cap a 2-core node at
 * a handful of logins per second. Raise ln here and needsRehash() upgrades old hashes.
 */
export const SCRYPT_PARAMS = { ln: 15, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;
export type ScryptParams = { readonly ln: number; readonly r: number; readonly p: number };

const SCRYPT_LIMITS = { lnMin: 10, lnMax: 20, rMax: 32, pMax: 16 } as const;
const ARGON2_LIMITS = { maxMemoryKiB: 1024 * 1024, maxPasses: 64, maxLanes: 16, minSaltBytes: 8, minHashBytes: 4, maxHashBytes: 128 } as const;

const B64 = /^[A-Za-z0-9+/]+$/;
const scryptAsync = promisify(crypto.scrypt) as (pw: crypto.BinaryLike, salt: crypto.BinaryLike, keylen: number, opts: crypto.ScryptOptions) => Promise<Buffer>;

function badHash(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_HASH', message);
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

function unb64(s: string, what: string): Buffer {
  if (!B64.test(s) || s.length % 4 === 1) throw badHash(`${what} is not base64`);
  return Buffer.from(s, 'base64');
}

function scryptOptions(p: ScryptParams): crypto.ScryptOptions {
  const N = 2 ** p.ln;
  // OpenSSL needs about 128·r·(N + p) bytes; leave headroom.
  return { N, r: p.r, p: p.p, maxmem: 128 * p.r * (N + p.p + 2) + 1024 * 1024 };
}

export interface ParsedScrypt {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** Parses the payload after `{SCRYPT}`; throws ERR_BAD_HASH. */
export function parseScrypt(payload: string): ParsedScrypt {
  const m = /^\$scrypt\$ln=([0-9]{1,2}),r=([0-9]{1,2}),p=([0-9]{1,2})\$([^$]+)\$([^$]+)$/.exec(payload);
  if (m === null) throw badHash('malformed SCRYPT hash (expected $scrypt$ln=…,r=…,p=…$salt$hash)');
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < SCRYPT_LIMITS.lnMin || params.ln > SCRYPT_LIMITS.lnMax || params.r < 1 || params.r > SCRYPT_LIMITS.rMax || params.p < 1 || params.p > SCRYPT_LIMITS.pMax) {
    throw badHash('SCRYPT parameters out of bounds');
  }
  const salt = unb64(m[4] ?? '', 'SCRYPT salt');
  const hash = unb64(m[5] ?? '', 'SCRYPT hash');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) throw badHash('SCRYPT salt or hash has a bad length');
  return { params, salt, hash };
}

/** Hashes with SCRYPT_PARAMS (or `params`); returns the full `{SCRYPT}…` string. */
export async function hashScrypt(password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const salt = crypto.randomBytes(SCRYPT_PARAMS.saltBytes);
  const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, SCRYPT_PARAMS.keyBytes, scryptOptions(params));
  return `{SCRYPT}$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

export async function verifyScrypt(password: string, payload: string): Promise<boolean> {
  const { params, salt, hash } = parseScrypt(payload);
  const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, hash.length, scryptOptions(params));
  return crypto.timingSafeEqual(key, hash);
}

/** True when a `{SCRYPT}` payload uses exactly the current parameters. */
export function scryptIsCurrent(payload: string): boolean {
  const { params, salt, hash } = parseScrypt(payload);
  return params.ln === SCRYPT_PARAMS.ln && params.r === SCRYPT_PARAMS.r && params.p === SCRYPT_PARAMS.p
    && salt.length === SCRYPT_PARAMS.saltBytes && hash.length === SCRYPT_PARAMS.keyBytes;
}

export type Argon2Algorithm = 'argon2i' | 'argon2id';

interface ParsedArgon2 {
  readonly memory: number;
  readonly passes: number;
  readonly parallelism: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** Parses `$argon2id$v=19$m=…,t=…,p=…$salt$hash` for the expected algorithm; throws ERR_BAD_HASH. */
export function parseArgon2(payload: string, algorithm: Argon2Algorithm): ParsedArgon2 {
  const m = /^\$(argon2id|argon2i)\$v=([0-9]+)\$m=([0-9]{1,8}),t=([0-9]{1,3}),p=([0-9]{1,3})\$([^$]+)\$([^$]+)$/.exec(payload);
  if (m === null || m[1] !== algorithm) throw badHash(`malformed ${algorithm.toUpperCase()} hash (expected $${algorithm}$v=19$m=…,t=…,p=…$salt$hash)`);
  // Version 0x13 (19) is the only one Node implements; v=16 hashes would verify wrongly.
  if (m[2] !== '19') throw badHash('only Argon2 version 19 (0x13) is supported');
  const memory = Number(m[3]);
  const passes = Number(m[4]);
  const parallelism = Number(m[5]);
  const L = ARGON2_LIMITS;
  if (parallelism < 1 || parallelism > L.maxLanes || passes < 1 || passes > L.maxPasses || memory < 8 * parallelism || memory > L.maxMemoryKiB) {
    throw badHash('Argon2 parameters out of bounds');
  }
  const salt = unb64(m[6] ?? '', 'Argon2 salt');
  const hash = unb64(m[7] ?? '', 'Argon2 hash');
  if (salt.length < L.minSaltBytes || hash.length < L.minHashBytes || hash.length > L.maxHashBytes) {
    throw badHash('Argon2 salt or hash has a bad length');
  }
  return { memory, passes, parallelism, salt, hash };
}

type Argon2Fn = (
  algorithm: Argon2Algorithm,
  params: { message: Buffer; nonce: Buffer; parallelism: number; tagLength: number; memory: number; passes: number },
  callback: (err: Error | null, key: Buffer) => void,
) => void;

export async function verifyArgon2(password: string, payload: string, algorithm: Argon2Algorithm): Promise<boolean> {
  const p = parseArgon2(payload, algorithm);
  const argon2 = (crypto as unknown as { argon2?: Argon2Fn }).argon2;
  if (typeof argon2 !== 'function') throw badHash('this Node.js has no crypto.argon2 (needs Node ≥ 24.7)');
  const key = await new Promise<Buffer>((resolve, reject) => {
    argon2(algorithm, {
      message: Buffer.from(password, 'utf8'),
      nonce: p.salt,
      parallelism: p.parallelism,
      tagLength: p.hash.length,
      memory: p.memory,
      passes: p.passes,
    }, (err, k) => (err ? reject(badHashFrom(err)) : resolve(k)));
  });
  return crypto.timingSafeEqual(key, p.hash);
}

function badHashFrom(err: Error): DirectoryError {
  return new DirectoryError('ERR_BAD_HASH', 'Argon2 computation failed', { cause: err });
}
