/**
 * SHA-256-crypt (`$5$`) and SHA-512-crypt (`$6$`): Ulrich Drepper, "Unix crypt using
 * SHA-256 and SHA-512" (2008, akkadia.org/drepper/SHA-crypt.txt), implemented on
 * node:crypto because no maintained npm package clearly owns it and the algorithm is
 * short. Verified against the spec's own test vectors, against glibc/libxcrypt
 * crypt(3) and against hashes written by `doveadm pw` (test/sha-crypt.test.ts).
 *
 * The rounds loop is pure JavaScript on the main thread (≈ one createHash per round),
 * so it yields to the event loop every YIELD_EVERY_ROUNDS rounds: a proxy verifying a
 * 5000-round hash keeps serving its other sockets. Rounds and password length bound
 * the work; both are capped (MAX_ROUNDS here, the password cap in password-hash.ts).
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { cryptB64Permuted } from './crypt-base64.ts';
import { DirectoryError } from './directory-error.ts';

export const SHA_CRYPT_DEFAULT_ROUNDS = 5000;
export const SHA_CRYPT_MIN_ROUNDS = 1000;
/** The spec allows 999,999,999; beyond this a stored hash is a denial of service. */
export const SHA_CRYPT_MAX_ROUNDS = 1_000_000;
const SALT_MAX_CHARS = 16;
const YIELD_EVERY_ROUNDS = 1000;

type Variant = { readonly id: '5' | '6'; readonly alg: 'sha256' | 'sha512'; readonly len: number; readonly groups: ReadonlyArray<readonly [number, number, number, number]> };

// Byte orders of the final encoding, straight from the spec's b64_from_24bit calls.
const SHA256: Variant = {
  id: '5', alg: 'sha256', len: 32,
  groups: [
    [0, 10, 20, 4], [21, 1, 11, 4], [12, 22, 2, 4], [3, 13, 23, 4], [24, 4, 14, 4],
    [15, 25, 5, 4], [6, 16, 26, 4], [27, 7, 17, 4], [18, 28, 8, 4], [9, 19, 29, 4],
    [-1, 31, 30, 3],
  ],
};
const SHA512: Variant = {
  id: '6', alg: 'sha512', len: 64,
  groups: [
    [0, 21, 42, 4], [22, 43, 1, 4], [44, 2, 23, 4], [3, 24, 45, 4], [25, 46, 4, 4],
    [47, 5, 26, 4], [6, 27, 48, 4], [28, 49, 7, 4], [50, 8, 29, 4], [9, 30, 51, 4],
    [31, 52, 10, 4], [53, 11, 32, 4], [12, 33, 54, 4], [34, 55, 13, 4], [56, 14, 35, 4],
    [15, 36, 57, 4], [37, 58, 16, 4], [59, 17, 38, 4], [18, 39, 60, 4], [40, 61, 19, 4],
    [62, 20, 41, 4], [-1, -1, 63, 2],
  ],
};

export interface ShaCryptSetting {
  readonly variant: '5' | '6';
  /** Rounds as written in the string (clamped to the spec's minimum), or undefined for the default. */
  readonly rounds: number | undefined;
  readonly salt: string;
  /** The encoded digest after the last `$`, or undefined when only a salt setting was given. */
  readonly hash: string | undefined;
}

function badHash(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_HASH', message);
}

/**
 * Parses `$5$[rounds=N$]salt[$hash]` / `$6$…`. The salt is cut at 16 characters as the
 * spec says; rounds below 1000 are raised to 1000 (spec) and rounds above
 * SHA_CRYPT_MAX_ROUNDS are refused (ERR_BAD_HASH).
 */
export function parseShaCrypt(setting: string): ShaCryptSetting {
  const m = /^\$([56])\$(?:rounds=([0-9]{1,9})\$)?([\x21-\x23\x25-\x7e]*)(?:\$([./0-9A-Za-z]*))?$/.exec(setting);
  if (m === null) throw badHash('malformed SHA-crypt string');
  const variant = m[1] === '5' ? '5' : '6';
  let rounds: number | undefined;
  if (m[2] !== undefined) {
    rounds = Math.max(SHA_CRYPT_MIN_ROUNDS, Number(m[2]));
    if (rounds > SHA_CRYPT_MAX_ROUNDS) throw badHash(`SHA-crypt rounds above ${SHA_CRYPT_MAX_ROUNDS}`);
  }
  const salt = (m[3] ?? '').slice(0, SALT_MAX_CHARS);
  const hash = m[4] === '' ? undefined : m[4];
  if (hash !== undefined && hash.length !== (variant === '5' ? 43 : 86)) throw badHash('SHA-crypt digest has the wrong length');
  return { variant, rounds, salt, hash };
}

/** Concatenates `block` repeatedly (whole and partial) up to `length` bytes. */
function repeatTo(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let off = 0; off < length; off += block.length) block.copy(out, off, 0, Math.min(block.length, length - off));
  return out;
}

/**
 * Computes the SHA-crypt string for `password` and a setting (`$6$salt`, `$6$rounds=N$salt`
 * or a full hash whose salt and rounds are reused). Returns `$id$[rounds=N$]salt$digest`.
 */
export async function shaCrypt(password: Buffer, setting: string | ShaCryptSetting): Promise<string> {
  const s = typeof setting === 'string' ? parseShaCrypt(setting) : setting;
  const v = s.variant === '5' ? SHA256 : SHA512;
  const rounds = s.rounds ?? SHA_CRYPT_DEFAULT_ROUNDS;
  const P = password;
  const S = Buffer.from(s.salt, 'latin1');
  const H = () => createHash(v.alg);

  // Steps 4-8: digest B = H(P S P).
  const B = H().update(P).update(S).update(P).digest();
  // Steps 1-3, 9-12: digest A.
  const a = H().update(P).update(S).update(repeatTo(B, P.length));
  for (let n = P.length; n > 0; n >>>= 1) a.update(n & 1 ? B : P);
  const A = a.digest();
  // Steps 13-16: P sequence from digest DP = H(P repeated |P| times).
  const dp = H();
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeatTo(dp.digest(), P.length);
  // Steps 17-20: S sequence from digest DS = H(S repeated 16 + A[0] times).
  const ds = H();
  for (let i = 0; i < 16 + (A[0] ?? 0); i++) ds.update(S);
  const Sseq = repeatTo(ds.digest(), S.length);
  // Step 21: the rounds.
  let C = A;
  for (let i = 0; i < rounds; i++) {
    const c = H();
    c.update(i & 1 ? Pseq : C);
    if (i % 3 !== 0) c.update(Sseq);
    if (i % 7 !== 0) c.update(Pseq);
    c.update(i & 1 ? C : Pseq);
    C = c.digest();
    if (i % YIELD_EVERY_ROUNDS === YIELD_EVERY_ROUNDS - 1) await yieldToLoop();
  }
  const roundsPart = s.rounds === undefined ? '' : `rounds=${rounds}$`;
  return `$${v.id}$${roundsPart}${s.salt}$${cryptB64Permuted(C, v.groups)}`;
}
