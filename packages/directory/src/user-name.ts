/**
 * Strict names: the guard against username injection.
 *
 * A client-supplied user name travels into two places where a stray byte is an attack:
 * the back-end LOGIN / AUTHENTICATE line (CR LF, quotes, `*` master-user separators,
 * `{n}` literals) and the Redis key we look the user up under (a `:` or a wildcard
 * could reach another record — Zimbra CVE-2022-27924 poisoned its route cache exactly
 * so; Dovecot CVE-2026-24031 was SQL/LDAP injection through an empty
 * `auth_username_chars`). So names are *allow-listed*, never escaped: one lower-case
 * ASCII form, checked here once, and every key and every back-end login is built from
 * that form only.
 *
 * Order matters: the charset is checked *before* lower-casing, because
 * `String#toLowerCase` maps non-ASCII to ASCII (U+212A KELVIN SIGN → `k`, U+0130 → `i̇`),
 * which would let a look-alike name normalise onto someone else's account.
 */
import { DirectoryError } from './directory-error.ts';

export const USER_LOCAL_MAX_CHARS = 64;
export const DOMAIN_MAX_CHARS = 253;
export const DOMAIN_LABEL_MAX_CHARS = 63;

// Raw input may use upper case; anything outside this set is refused before lower-casing.
const RAW_USER = /^[A-Za-z0-9._+-]+(?:@[A-Za-z0-9.-]+)?$/;
const LOCAL_PART = /^[a-z0-9_+-](?:[a-z0-9._+-]*[a-z0-9_+-])?$/;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const BACKEND_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function badUser(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_USERNAME', message);
}

/** True when `name` (already lower-case) is a valid DNS domain by our rules. */
function isDomain(name: string): boolean {
  if (name.length === 0 || name.length > DOMAIN_MAX_CHARS) return false;
  for (const label of name.split('.')) {
    if (label.length > DOMAIN_LABEL_MAX_CHARS || !DOMAIN_LABEL.test(label)) return false;
  }
  return true;
}

/**
 * Lower-cases and validates a mail domain (`example.com`): labels of `[a-z0-9-]`,
 * 1..63 characters, no leading or trailing hyphen, 1..253 in all, no trailing dot.
 * Throws DirectoryError ERR_BAD_NAME.
 */
export function normalizeDomain(raw: string): string {
  if (typeof raw !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(raw)) {
    throw new DirectoryError('ERR_BAD_NAME', 'domain must be 1..253 characters of [a-z0-9.-]');
  }
  const name = raw.toLowerCase();
  if (!isDomain(name)) {
    throw new DirectoryError('ERR_BAD_NAME', 'domain labels must be 1..63 characters of [a-z0-9-] without a leading or trailing hyphen');
  }
  return name;
}

/**
 * Lower-cases and validates a user name: local part of `[a-z0-9._+-]` (1..64, no leading,
 * trailing or doubled dot), optionally `@domain` (see normalizeDomain). An unqualified
 * name gets `@defaultDomain` when one is given. Everything else — CR, LF, NUL, quotes,
 * spaces, `*`, `%`, `{`, `:`, backslash, non-ASCII, empty, over-long — throws
 * DirectoryError ERR_BAD_USERNAME.
 */
export function normalizeUserName(raw: string, defaultDomain?: string): string {
  if (typeof raw !== 'string' || raw.length === 0) throw badUser('user name is empty');
  if (raw.length > USER_LOCAL_MAX_CHARS + 1 + DOMAIN_MAX_CHARS) throw badUser('user name is too long');
  if (!RAW_USER.test(raw)) throw badUser('user name may contain only [a-z0-9._+-] and one @');
  const lower = raw.toLowerCase();
  const at = lower.indexOf('@');
  const local = at === -1 ? lower : lower.slice(0, at);
  let domain = at === -1 ? undefined : lower.slice(at + 1);
  if (local.length > USER_LOCAL_MAX_CHARS) throw badUser('local part is longer than 64 characters');
  if (!LOCAL_PART.test(local) || local.includes('..')) {
    throw badUser('local part must not start or end with a dot, nor contain two dots in a row');
  }
  if (domain !== undefined) {
    if (!isDomain(domain)) throw badUser('domain part is not a valid DNS domain');
  } else if (defaultDomain !== undefined) {
    try {
      domain = normalizeDomain(defaultDomain);
    } catch (err) {
      throw new DirectoryError('ERR_BAD_NAME', 'default domain is not a valid DNS domain', { cause: err });
    }
  }
  return domain === undefined ? local : `${local}@${domain}`;
}

/** The domain part of a normalized user name, or undefined for an unqualified name. */
export function userDomain(name: string): string | undefined {
  const at = name.indexOf('@');
  return at === -1 ? undefined : name.slice(at + 1);
}

/**
 * Validates a back-end name: `[a-z0-9][a-z0-9._-]{0,62}` (exactly, no case folding).
 * Returns it unchanged; throws DirectoryError ERR_BAD_NAME.
 */
export function validateBackendName(name: string): string {
  if (typeof name !== 'string' || !BACKEND_NAME.test(name)) {
    throw new DirectoryError('ERR_BAD_NAME', 'back-end name must match [a-z0-9][a-z0-9._-]{0,62}');
  }
  return name;
}
