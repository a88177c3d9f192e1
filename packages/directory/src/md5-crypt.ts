/**
 * MD5-crypt (`$1$`), Poul-Henning Kamp's FreeBSD crypt of 1994 — still what Dovecot's
 * MD5-CRYPT and MD5 schemes write. Weak (1000 fixed MD5 rounds); supported only so that
 * old passwd-files import, and needsRehash() flags it. Implemented on node:crypto from
 * the reference C code; verified against glibc/libxcrypt crypt(3) and `doveadm pw`.
 */
import { createHash } from 'node:crypto';
import { cryptB64Permuted } from './crypt-base64.ts';
import { DirectoryError } from './directory-error.ts';

const MAGIC = '$1$';
const SALT_MAX_CHARS = 8;
const GROUPS = [[0, 6, 12, 4], [1, 7, 13, 4], [2, 8, 14, 4], [3, 9, 15, 4], [4, 10, 5, 4], [-1, -1, 11, 2]] as const;

/** Parses `$1$salt[$hash]`; the salt is cut at 8 characters. Throws ERR_BAD_HASH. */
export function parseMd5Crypt(setting: string): { salt: string; hash: string | undefined } {
  const m = /^\$1\$([\x21-\x23\x25-\x7e]*)(?:\$([./0-9A-Za-z]*))?$/.exec(setting);
  if (m === null) throw new DirectoryError('ERR_BAD_HASH', 'malformed MD5-crypt string');
  const hash = m[2];
  if (hash !== undefined && hash !== '' && hash.length !== 22) throw new DirectoryError('ERR_BAD_HASH', 'MD5-crypt digest has the wrong length');
  return { salt: (m[1] ?? '').slice(0, SALT_MAX_CHARS), hash: hash === '' ? undefined : hash };
}

/** Computes `$1$salt$digest` for `password` and a setting or full MD5-crypt string. */
export function md5Crypt(password: Buffer, setting: string): string {
  const { salt } = parseMd5Crypt(setting);
  const P = password;
  const S = Buffer.from(salt, 'latin1');
  const md5 = () => createHash('md5');

  const alt = md5().update(P).update(S).update(P).digest();
  const ctx = md5().update(P).update(MAGIC).update(S);
  for (let left = P.length; left > 0; left -= 16) ctx.update(alt.subarray(0, Math.min(left, 16)));
  // The reference code's famous quirk: a zero byte for a 1 bit, the first password byte for a 0 bit.
  const zero = Buffer.alloc(1);
  const first = P.subarray(0, 1);
  for (let n = P.length; n > 0; n >>>= 1) ctx.update(n & 1 ? zero : first);
  let final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = md5();
    c.update(i & 1 ? P : final);
    if (i % 3 !== 0) c.update(S);
    if (i % 7 !== 0) c.update(P);
    c.update(i & 1 ? final : P);
    final = c.digest();
  }
  return `${MAGIC}${salt}$${cryptB64Permuted(final, GROUPS)}`;
}
