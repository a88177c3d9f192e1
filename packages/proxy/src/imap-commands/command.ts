// The shape of one pre-login IMAP command handled by Gatehouse itself. Each command is
// a declarative record; the session's dispatcher checks the preconditions (TLS state,
// plaintext policy) once, so handlers hold only their own logic.
import type { ImapArg } from '@gatehouse/protocol';
import type { PreAuthContext } from '../pre-auth-context.ts';

export interface PreAuthCommand {
  name: string;
  /** Carries credentials: refused with PRIVACYREQUIRED on a cleartext connection unless allowed. */
  sendsCredentials: boolean;
  /** Only before TLS (STARTTLS itself). */
  plaintextOnly: boolean;
  handle(ctx: PreAuthContext, tag: string, args: ImapArg[]): Promise<void> | void;
}
