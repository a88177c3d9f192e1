// Every limit and timeout of the IMAP front-end in one table, with the reason for its
// default. A virtual server may override any of them; nothing here is hard-coded
// elsewhere. Pre-login limits are tight because an unauthenticated peer is untrusted
// (anchors-proxy.md §8.3, §8.12); post-login the session is a byte pipe whose only
// limits are idle timeouts long enough for IMAP IDLE (RFC 2177 asks clients to re-issue
// IDLE at least every 29 minutes).
export interface ImapLimits {
  /** One command line before login, literal bodies excluded. Dovecot uses 8 KiB too. */
  maxLineBytes: number;
  /** One literal before login: a LOGIN password or a SASL response never needs more. */
  maxLiteralBytes: number;
  /** Commands a client may send before it authenticates (CAPABILITY, ID, NOOP… loops). */
  maxPreAuthCommands: number;
  /** Failed logins on one connection before it is closed (brute force on one socket). */
  maxAuthFailures: number;
  /** From accept to successful login: a slow or silent client holds no slot longer. */
  authTimeoutMs: number;
  /** TLS handshake on implicit-TLS listeners and after STARTTLS. */
  tlsHandshakeTimeoutMs: number;
  /** The PROXY protocol header on listeners that expect one: a balancer sends it at once. */
  proxyHeaderTimeoutMs: number;
  /** Added before answering a failed login, to slow guessing. Dovecot waits 2 s. */
  authFailureDelayMs: number;
  /** TCP connect to a back-end store. */
  backendConnectTimeoutMs: number;
  /** Back-end greeting, ID, STARTTLS and login answers, each. */
  backendResponseTimeoutMs: number;
  /** No byte in either direction after login: longer than IDLE's 29-minute cycle. */
  sessionIdleTimeoutMs: number;
  /**
   * Connections open at once on this virtual server, per node (0: no limit). Per node
   * because a node must decide at accept time without a round trip to Redis; with N nodes
   * behind a balancer the tier-wide ceiling is N times this.
   */
  maxConnections: number;
  /**
   * Connections open at once from one client address on this virtual server, per node
   * (0: no limit). Off by default: offices and carrier NAT put many users behind one address.
   */
  maxConnectionsPerClient: number;
}

export const defaultImapLimits: Readonly<ImapLimits> = Object.freeze({
  maxLineBytes: 8192,
  maxLiteralBytes: 64 * 1024,
  maxPreAuthCommands: 64,
  maxAuthFailures: 3,
  authTimeoutMs: 60_000,
  tlsHandshakeTimeoutMs: 10_000,
  proxyHeaderTimeoutMs: 5_000,
  authFailureDelayMs: 1_000,
  backendConnectTimeoutMs: 5_000,
  backendResponseTimeoutMs: 15_000,
  sessionIdleTimeoutMs: 35 * 60_000,
  maxConnections: 0,
  maxConnectionsPerClient: 0,
});
