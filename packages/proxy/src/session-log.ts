// Per-session logging that creates its pino child only when a line is actually written.
//
// A pino child costs about 1 KiB that the session keeps (the child object, its bindings
// serialised into a string of concatenated pieces, and for a child of a child a hidden
// class of its own) and some 9 KiB of garbage while it is made (each binding value goes
// through the redaction stringifier). At a level that writes a session's lines the child
// is made exactly as before; at a level that writes none of them (warn and above for the
// info lines, the usual setting for a loaded node) no child is made at all; and a piped
// session, which logs nothing more until it closes, release()s its children meanwhile.
//
// The output is the same line for line: `child()` of a SessionLog binds its fields into
// one child of the node logger (node bindings, then the session's, then the new ones),
// which serialises exactly as pino's child of a child did.
import type { Logger } from 'pino';
import type { SessionStats } from './session-events.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

export class SessionLog {
  readonly #root: Logger;
  readonly #bindings: Record<string, unknown>;
  #child: Logger | null = null;

  constructor(root: Logger, bindings: Record<string, unknown>) {
    this.#root = root;
    this.#bindings = bindings;
  }

  /**
   * Drops the pino child (a later line makes it again, the same). For a log an idle
   * session may not write to for hours: at info level the child would otherwise stay.
   */
  release(): void {
    this.#child = null;
  }

  /** A log with more bindings (as `Logger.child`), itself created lazily. */
  child(bindings: Record<string, unknown>): SessionLog {
    return new SessionLog(this.#root, { ...this.#bindings, ...bindings });
  }

  debug(obj: object, msg: string): void;
  debug(msg: string): void;
  debug(objOrMsg: object | string, msg?: string): void {
    this.#write('debug', objOrMsg, msg);
  }

  info(obj: object, msg: string): void;
  info(msg: string): void;
  info(objOrMsg: object | string, msg?: string): void {
    this.#write('info', objOrMsg, msg);
  }

  warn(obj: object, msg: string): void;
  warn(msg: string): void;
  warn(objOrMsg: object | string, msg?: string): void {
    this.#write('warn', objOrMsg, msg);
  }

  error(obj: object, msg: string): void;
  error(msg: string): void;
  error(objOrMsg: object | string, msg?: string): void {
    this.#write('error', objOrMsg, msg);
  }

  #write(level: Level, objOrMsg: object | string, msg: string | undefined): void {
    // The child's level is the root's (a child made without options inherits it, even
    // when the root's level changes later), so asking the root decides the same thing.
    if (!this.#root.isLevelEnabled(level)) return;
    const child = (this.#child ??= this.#root.child(this.#bindings));
    if (typeof objOrMsg === 'string') child[level](objOrMsg);
    else child[level](objOrMsg, msg);
  }
}

/**
 * The session registry's fields that a connection's bindings lack (`node`, `cid`,
 * `proto`, `vserver`, `remoteAddress` are bound; `user`, `backend` by the login child):
 * for the one line of a session's start (`auth.ok`) and end (`session.close`).
 */
export function sessionLineFields(s: { readonly remotePort: number; readonly startedAt: number; stats(): SessionStats }): {
  remotePort: number;
  tlsProtocol: string;
  since: string;
} {
  return { remotePort: s.remotePort, tlsProtocol: s.stats().tlsProtocol ?? 'none', since: new Date(s.startedAt).toISOString() };
}
