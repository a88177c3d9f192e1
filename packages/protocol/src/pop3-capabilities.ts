/**
 * The CAPA list Gatehouse gives a POP3 client before login (RFC 2449 §5, §6).
 *
 * Before login the client talks to Gatehouse, and which store it will reach is not known
 * yet (that depends on the user). So the list is made of two parts:
 *
 * - The extensions of the TRANSACTION state that every common store offers after login
 *   (Dovecot, Cyrus and Courier all do): TOP, UIDL (RFC 1939 §7), RESP-CODES,
 *   PIPELINING (RFC 2449 §6.4, §6.6) and AUTH-RESP-CODE (RFC 3206 §6). RFC 2449 §5 lets
 *   the list change after login; a client that asks CAPA again after login gets the
 *   store's own answer through the pipe.
 * - What Gatehouse itself does in the AUTHORIZATION state: STLS (RFC 2595 §4) in
 *   cleartext on a listener that offers it; USER and `SASL PLAIN LOGIN` (RFC 2449 §6.2,
 *   §6.3) only when credentials may be sent now — before TLS on a listener that refuses
 *   plaintext logins they are left out, POP3's equivalent of IMAP's LOGINDISABLED.
 *
 * Never advertised: APOP (RFC 1939 §7; it needs the cleartext password on the server
 * side, which Gatehouse does not keep), XCLIENT (a store-side trust mechanism: Gatehouse
 * speaks it to stores, never accepts it from clients), IMPLEMENTATION (no version leak).
 */

/** The TRANSACTION-state extensions advertised before login. */
export const POP3_STORE_CAPABILITIES: readonly string[] = Object.freeze(['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE']);

export interface Pop3CapabilityOptions {
  /** Offer STLS (cleartext connection on a listener with STLS). */
  stls: boolean;
  /** Credentials may be sent now (TLS is active, or the listener allows plaintext logins). */
  credentials: boolean;
  /** SASL mechanisms accepted by AUTH. */
  mechanisms: readonly string[];
}

/** The capability lines to advertise, in a fixed order. */
export function pop3Capabilities(opts: Pop3CapabilityOptions): string[] {
  const caps = [...POP3_STORE_CAPABILITIES];
  if (opts.stls) {
    caps.push('STLS');
  }
  if (opts.credentials) {
    caps.push('USER');
    if (opts.mechanisms.length > 0) {
      caps.push(`SASL ${opts.mechanisms.join(' ')}`);
    }
  }
  return caps;
}

/** A multi-line `+OK` response holding `lines` (RFC 1939 §3), dot-stuffed, with CRLFs. */
export function formatPop3MultiLine(status: string, lines: readonly string[]): string {
  const body = lines.map((line) => `${line.startsWith('.') ? '.' : ''}${line}\r\n`).join('');
  return `+OK ${status}\r\n${body}.\r\n`;
}
