/**
 * The one error class of @gatehouse/directory.
 *
 * Callers branch on `code`, never on the message: the codes below are stable and are
 * listed (with what the client sees and what the operator does) in docs/errors.md.
 * A failed login is not an error — `Directory.authenticate` returns a result for it;
 * errors are for malformed input, missing or duplicate records and an unreachable
 * directory.
 */
import { GatehouseError } from '@gatehouse/protocol';

/** Every code a DirectoryError can carry, with its meaning (the source for docs/errors.md). */
export const DIRECTORY_ERROR_CODES = {
  ERR_BAD_USERNAME: 'a user name fails the strict charset (injection guard) or is not user@domain where one is required',
  ERR_BAD_NAME: 'a domain, back-end name or key prefix fails its strict charset, or a directory address is malformed',
  ERR_DIRECTORY_UNAVAILABLE: 'Redis could not be reached or did not answer in time (connection, timeout, cluster down)',
  ERR_NOT_FOUND: 'the user, back-end or domain does not exist (or a record refers to one that does not)',
  ERR_EXISTS: 'the user, back-end or domain already exists',
  ERR_IN_USE: 'the back-end or domain is still referenced by users and cannot be deleted',
  ERR_BAD_RECORD: 'a record (as given, or as stored in Redis) has a missing or invalid field',
  ERR_BAD_HASH: 'a password hash uses an unknown scheme, is malformed, or has out-of-bounds cost parameters',
} as const;

export type DirectoryErrorCode = keyof typeof DIRECTORY_ERROR_CODES;

export class DirectoryError extends GatehouseError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DirectoryError';
  }
}

export function isDirectoryError(err: unknown, code?: DirectoryErrorCode): err is DirectoryError {
  return err instanceof DirectoryError && (code === undefined || err.code === code);
}
