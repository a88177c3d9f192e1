// The moment a session has logged in at its store, the same for IMAP and POP3: the
// `auth.ok` line and the login events, the byte pipe (session-pipe.ts), and when the
// pipe ends the `session.close` line. The session has already answered the login and
// taken its socket back from ClientConnection; what it answered is its protocol's.
import type net from 'node:net';
import { publishAuth } from './proxy-events.ts';
import { publishSession, type SessionView } from './session-events.ts';
import { sessionLineFields, type SessionLog } from './session-log.ts';
import { pipeSession, type PipeHandle, type PipeNotices, type PipeSummary } from './session-pipe.ts';

export interface LoginPipeOptions {
  /** The client's socket and what it pipelined behind its login (ClientConnection.handOff). */
  client: { socket: net.Socket; pipelined: Buffer };
  store: net.Socket;
  /** What the store sent behind its answer to the login. */
  fromStore: Buffer;
  idleTimeoutMs: number;
  /** The lines Gatehouse may write into the session; null for POP3, which has none. */
  notices: PipeNotices | null;
  /** The login's log (`user` and `backend` bound). */
  log: SessionLog;
  /** The protocol's own fields of `auth.ok` (IMAP: the client's ID). */
  authOkFields: Record<string, unknown>;
  /** When the login command started, for the auth latency metric. */
  loginStartedAt: number;
  /** After `session.close` is logged: the session publishes its end. */
  onClose: (summary: PipeSummary) => void;
}

export function startLoginPipe(session: SessionView, opts: LoginPipeOptions): PipeHandle {
  const { log } = opts;
  // Read now: a TLS socket forgets its protocol once destroyed.
  const lineFields = sessionLineFields(session);
  log.info({ ...lineFields, ...opts.authOkFields, pipelined: opts.client.pipelined.length }, 'auth.ok');
  // Nothing is logged until the session closes, maybe hours later: no pino child kept.
  log.release();
  publishAuth(session, 'ok', 'ok', opts.loginStartedAt);
  publishSession({ event: 'login', session });
  const started = Date.now();
  return pipeSession(opts.client.socket, opts.store, {
    toBackend: opts.client.pipelined,
    toClient: opts.fromStore,
    idleTimeoutMs: opts.idleTimeoutMs,
    notices: opts.notices,
    onClose: (summary) => {
      log.info(
        {
          ...lineFields,
          reason: summary.reason,
          durationMs: Date.now() - started,
          bytesIn: summary.bytesFromClient,
          bytesOut: summary.bytesFromBackend,
          // Only where Gatehouse may write into the session (IMAP) can it have written a
          // BYE, or have had to stay silent because COMPRESS was on.
          ...(opts.notices === null ? {} : { byeInjected: summary.byeInjected, compressed: summary.compressed }),
        },
        'session.close',
      );
      opts.onClose(summary);
    },
  });
}
