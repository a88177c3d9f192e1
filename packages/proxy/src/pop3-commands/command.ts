// The shape of one pre-login POP3 command handled by Gatehouse itself, and what a handler
// may do to its session. Each command is a declarative record; the session's dispatcher
// checks the preconditions (TLS state, plaintext policy) once, so handlers hold only
// their own logic.

export interface Pop3Context {
  readonly isTls: boolean;
  /** The CAPA lines to advertise now (they change with TLS). */
  capabilities(): string[];
  write(text: string): void;
  /** Reads one raw line from the client (a SASL response); null when the connection ended. */
  readLine(): Promise<Buffer | null>;
  startTls(): Promise<void>;
  /** Checks credentials and, on success, switches the session to the pipe. */
  login(user: string, password: string): Promise<void>;
  /** A refused login decided by the command itself: same delay and failure count as a wrong password. */
  refuseLogin(reason: string, reply: string): Promise<void>;
  quit(): void;
  /** The name given with USER, until PASS, STLS or another USER. */
  pendingUser: string | null;
}

export interface Pop3Command {
  name: string;
  /** Carries credentials: refused on a cleartext connection unless the listener allows it. */
  sendsCredentials: boolean;
  /** Only before TLS (STLS itself). */
  plaintextOnly: boolean;
  /** `argument` is the raw text after the keyword's space (null without one). */
  handle(ctx: Pop3Context, argument: Buffer | null): Promise<void> | void;
}

/** The replies that are the same wherever they are sent from. */
export const Pop3Reply = {
  AUTH_FAILED: '-ERR [AUTH] Authentication failed.\r\n',
} as const;

/** True when a command that takes no argument got none (a trailing space is tolerated). */
export function noArgument(argument: Buffer | null): boolean {
  return argument === null || argument.length === 0;
}
