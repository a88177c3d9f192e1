// What a pre-login command handler may do to its session, and nothing more.
import type { ImapArg } from '@gatehouse/protocol';

export interface PreAuthContext {
  readonly isTls: boolean;
  /** Capabilities to advertise now (they change with TLS). */
  capabilities(): string[];
  write(line: string): void;
  /** Reads one raw line from the client (a SASL response); null when the connection ended. */
  readLine(): Promise<Buffer | null>;
  startTls(tag: string): Promise<void>;
  /** Checks credentials and, on success, switches the session to the pipe. */
  login(tag: string, user: string, password: string): Promise<void>;
  /** A refused login decided by the command itself: same delay and failure count as a wrong password. */
  refuseLogin(tag: string, reason: string, code: string, text: string): Promise<void>;
  logout(tag: string): void;
  setClientId(params: Map<string, string>): void;
}

export type { ImapArg };
