/**
 * Reads Dovecot passwd-files (doc.dovecot.org, "Passwd-file"):
 *
 *     user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
 *
 * Only the first two fields matter to Gatehouse. A user name goes through
 * normalizeUserName (so an injected name can never reach the directory); a hash
 * without `{SCHEME}` is a crypt(3) string and is stored as `{CRYPT}…`; every hash is
 * validated. A bad line becomes an error entry and never stops the others, so an
 * operator gets the whole list of problems from one run.
 */
import { DirectoryError } from './directory-error.ts';
import { checkPasswordHash } from './password-hash.ts';
import { normalizeUserName } from './user-name.ts';

export interface PasswdEntry {
  readonly user: string;
  readonly hash: string;
  /** 1-based line number in the file. */
  readonly line: number;
}

export interface PasswdError {
  readonly line: number;
  readonly code: string;
  readonly message: string;
}

export interface PasswdFile {
  readonly entries: PasswdEntry[];
  readonly errors: PasswdError[];
}

export interface ParsePasswdOptions {
  /** Domain for unqualified user names (else they are kept unqualified). */
  readonly defaultDomain?: string;
}

/** Parses passwd-file text. Duplicate users after normalisation are errors (the first line wins). */
export function parsePasswdFile(text: string, options: ParsePasswdOptions = {}): PasswdFile {
  const entries: PasswdEntry[] = [];
  const errors: PasswdError[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i] ?? '';
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const colon = raw.indexOf(':');
    const rawUser = colon === -1 ? raw : raw.slice(0, colon);
    if (colon === -1) {
      errors.push({ line, code: 'ERR_BAD_RECORD', message: 'no password field (expected user:{SCHEME}hash:…)' });
      continue;
    }
    // The hash ends at the next colon; Dovecot hashes never contain one.
    const rest = raw.slice(colon + 1);
    const colon2 = rest.indexOf(':');
    let hash = colon2 === -1 ? rest : rest.slice(0, colon2);
    let user: string;
    try {
      user = normalizeUserName(rawUser, options.defaultDomain);
    } catch (err) {
      errors.push(toError(line, err));
      continue;
    }
    if (hash === '') {
      errors.push({ line, code: 'ERR_BAD_HASH', message: `empty password field for ${user}` });
      continue;
    }
    if (!hash.startsWith('{')) hash = `{CRYPT}${hash}`;
    try {
      checkPasswordHash(hash);
    } catch (err) {
      errors.push(toError(line, err));
      continue;
    }
    const first = seen.get(user);
    if (first !== undefined) {
      errors.push({ line, code: 'ERR_EXISTS', message: `duplicate user ${user} (first on line ${first})` });
      continue;
    }
    seen.set(user, line);
    entries.push({ user, hash, line });
  }
  return { entries, errors };
}

function toError(line: number, err: unknown): PasswdError {
  if (err instanceof DirectoryError) return { line, code: err.code, message: err.message };
  throw err;
}
