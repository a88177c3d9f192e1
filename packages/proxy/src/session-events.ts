// The proxy publishes session lifecycle events on a diagnostics channel; metrics, the
// session registry and the live feed subscribe to it, so the proxy imports none of them
// and the channel costs nothing when no one listens.
import diagnostics from 'node:diagnostics_channel';

export interface SessionView {
  readonly id: string;
  readonly startedAt: number;
  readonly remoteAddress: string;
  readonly user: string | null;
  readonly backendName: string | null;
  /** `pop3` on POP3 sessions; absent on IMAP sessions (read it as `imap`). */
  readonly protocol?: 'imap' | 'pop3';
  readonly remotePort: number;
  /** Id of the node that accepted the session (several nodes may share a process in tests). */
  readonly nodeId: string;
  readonly vserverName: string;
  /** Why a logged-in session ended (the pipe's reason: `client-closed`, `kicked`, …); set before `close` is published, null until then and for sessions that never logged in. */
  readonly endReason?: string | null;
  /** Live figures, computed when asked (never on the hot path). */
  stats(): SessionStats;
  /** Ends the session: IMAP with `* BYE text` where that is safe, POP3 by closing. */
  kick(text?: string): void;
}

export interface SessionStats {
  /** Negotiated TLS version (`TLSv1.3`), null in cleartext. */
  readonly tlsProtocol: string | null;
  /** Bytes read from and written to the client socket since accept. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** `idle`: inside IMAP IDLE (RFC 2177). */
  readonly state: 'pre-auth' | 'authenticated' | 'idle';
}

export type SessionEvent = { event: 'open' | 'login' | 'close'; session: SessionView };

export const sessionChannel = diagnostics.channel('gatehouse:session');

export function publishSession(ev: SessionEvent): void {
  if (sessionChannel.hasSubscribers) sessionChannel.publish(ev);
}
