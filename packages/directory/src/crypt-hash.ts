/**
 * crypt(3)-style strings told apart by their `$id$`: `$1$` MD5-crypt, `$5$`/`$6$`
 * SHA-crypt, `$2a$`/`$2b$`/`$2y$` bcrypt. Dovecot's CRYPT, MD5-CRYPT, SHA256-CRYPT,
 * SHA512-CRYPT and BLF-CRYPT schemes all store such strings, and passwd-files often
 * hold them without any `{SCHEME}` prefix.
 *
 * bcrypt comes from bcryptjs (pure JavaScript, in the catalog; its async API computes
 * in chunks between event-loop turns). Traditional DES crypt (13 characters, no `$`)
 * is not supported: it truncates passwords to 8 bytes and has no place in a new system.
 */
import { timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { DirectoryError } from './directory-error.ts';
import { md5Crypt, parseMd5Crypt } from './md5-crypt.ts';
import { parseShaCrypt, shaCrypt } from './sha-crypt.ts';

/** The crypt ids we verify. */
export const CRYPT_IDS = ['1', '5', '6', '2a', '2b', '2y'] as const;
export type CryptId = (typeof CRYPT_IDS)[number];

/** bcrypt costs above this make every login of that user a denial of service in JS. */
export const BCRYPT_MAX_COST = 15;
const BCRYPT = /^\$(2[aby])\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;

function badHash(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_HASH', message);
}

/**
 * Validates a complete crypt string and returns its id. Throws ERR_BAD_HASH for an
 * unknown id, a malformed string, a missing digest or a cost above our caps.
 */
export function checkCrypt(stored: string): CryptId {
  const m = /^\$(1|5|6|2[aby])\$/.exec(stored);
  if (m === null) throw badHash('unsupported crypt string (known ids: $1$ $5$ $6$ $2a$ $2b$ $2y$)');
  const id = m[1] as CryptId;
  switch (id) {
    case '1':
      if (parseMd5Crypt(stored).hash === undefined) throw badHash('MD5-crypt string has no digest');
      break;
    case '5':
    case '6':
      if (parseShaCrypt(stored).hash === undefined) throw badHash('SHA-crypt string has no digest');
      break;
    case '2a':
    case '2b':
    case '2y': {
      const b = BCRYPT.exec(stored);
      if (b === null) throw badHash('malformed bcrypt string');
      const cost = Number(b[2]);
      if (cost < 4 || cost > BCRYPT_MAX_COST) throw badHash(`bcrypt cost must be 4..${BCRYPT_MAX_COST}`);
      break;
    }
  }
  return id;
}

function equalAscii(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  // Lengths are fixed by the algorithm and were checked; a mismatch is simply false.
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Verifies `password` against a crypt string (validated with checkCrypt first). */
export async function verifyCrypt(password: string, stored: string): Promise<boolean> {
  const id = checkCrypt(stored);
  const pw = Buffer.from(password, 'utf8');
  switch (id) {
    case '1':
      return equalAscii(md5Crypt(pw, stored), stored);
    case '5':
    case '6': {
      const setting = parseShaCrypt(stored);
      const computed = await shaCrypt(pw, setting);
      return equalAscii(computed.slice(computed.lastIndexOf('$') + 1), setting.hash ?? '');
    }
    case '2a':
    case '2b':
    case '2y': {
      // bcryptjs keeps the minor version of the salt it is given; compare the digest only.
      const computed = await bcrypt.hash(password, stored.slice(0, 29));
      return equalAscii(computed.slice(29), stored.slice(29));
    }
  }
}
