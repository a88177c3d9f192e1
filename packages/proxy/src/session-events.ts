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
}

export type SessionEvent = { event: 'open' | 'login' | 'close'; session: SessionView };

export const sessionChannel = diagnostics.channel('gatehouse:session');

export function publishSession(ev: SessionEvent): void {
  if (sessionChannel.hasSubscribers) sessionChannel.publish(ev);
}
