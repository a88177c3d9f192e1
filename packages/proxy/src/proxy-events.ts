// Diagnostics channels for what metrics need besides the session lifecycle
// (session-events.ts): the outcome and duration of each login attempt, and each
// connection to a back-end store. Published only when someone subscribes, so they cost
// nothing otherwise; the proxy never imports a metrics library.
import diagnostics from 'node:diagnostics_channel';
import type { SessionView } from './session-events.ts';

/** `ok`: logged in at the store; `fail`: refused (wrong password, account rules); `unavailable`: directory or store down, drain. */
export type AuthOutcome = 'ok' | 'fail' | 'unavailable';

export interface AuthEvent {
  readonly session: SessionView;
  readonly result: AuthOutcome;
  /** `ok`, a refusal reason (`bad-password`, `unknown-user`, `disabled`, …) or `unavailable`. */
  readonly reason: string;
  /** From the login command to the answer (0 for refusals made before any lookup). */
  readonly durationMs: number;
}

export interface BackendConnectEvent {
  readonly backend: string;
  readonly protocol: 'imap' | 'pop3';
  /** TCP connect, TLS, greeting and capabilities. */
  readonly durationMs: number;
  readonly ok: boolean;
  /** The ProxyError code of a failure. */
  readonly code?: string;
}

export const authChannel = diagnostics.channel('gatehouse:auth');
export const backendChannel = diagnostics.channel('gatehouse:backend');

export function publishAuth(session: SessionView, result: AuthOutcome, reason: string, startedAt: number): void {
  if (!authChannel.hasSubscribers) return;
  authChannel.publish({ session, result, reason, durationMs: startedAt > 0 ? Date.now() - startedAt : 0 } satisfies AuthEvent);
}

/** Times a back-end connect and publishes its outcome; the promise is returned as it is. */
export function timedBackendConnect<T>(backend: string, protocol: 'imap' | 'pop3', connect: Promise<T>): Promise<T> {
  if (!backendChannel.hasSubscribers) return connect;
  const started = Date.now();
  connect.then(
    () => backendChannel.publish({ backend, protocol, durationMs: Date.now() - started, ok: true } satisfies BackendConnectEvent),
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      backendChannel.publish({ backend, protocol, durationMs: Date.now() - started, ok: false, ...(typeof code === 'string' ? { code } : {}) } satisfies BackendConnectEvent);
    },
  );
  return connect;
}

/** A connection refused at accept time by the virtual server's access rules (or because they could not be read). */
export interface AccessDeniedEvent {
  readonly nodeId: string;
  readonly vserver: string;
  readonly listener: string;
  readonly protocol: 'imap' | 'pop3';
  readonly remoteAddress: string;
  /**
   * `denied` by a rule or the default; `unavailable`: the rules were never read;
   * `proxy-untrusted`: a PROXY listener's peer is not a trusted balancer;
   * `proxy-header`: the PROXY header was missing, malformed or late (`remoteAddress` is then the peer's);
   * `limit-total` / `limit-client`: the virtual server's connection limit (in total / per client address) was reached.
   */
  readonly reason: 'denied' | 'unavailable' | 'proxy-untrusted' | 'proxy-header' | 'limit-total' | 'limit-client';
  /** The deciding rule's network, null when the default decided. */
  readonly rule: string | null;
}

export const accessChannel = diagnostics.channel('gatehouse:access');

export function publishAccessDenied(ev: AccessDeniedEvent): void {
  if (accessChannel.hasSubscribers) accessChannel.publish(ev);
}
