/**
 * The capability list Gatehouse gives a client after login.
 *
 * Before login the client sees Gatehouse's own capabilities; after login it talks to the
 * back-end and should see the back-end's (a mismatch breaks clients that rely on
 * extensions, see anchors §8.2). Some back-end capabilities are about the
 * not-authenticated state that Gatehouse handled itself, or cannot apply to a session
 * that is already logged in, and would mislead the client if relayed:
 *
 * - STARTTLS, LOGINDISABLED (RFC 9051 §6.2.1, §7.2.2): TLS is the front-end's business;
 *   the back-end link may be plain on a trusted network and advertise these.
 * - AUTH=* and SASL-IR (RFC 9051 §6.2.2, RFC 4959): authentication is over.
 * - LOGIN-REFERRALS (RFC 2221): referrals would point the client past the front-end.
 */

const REMOVED: ReadonlySet<string> = new Set(['STARTTLS', 'LOGINDISABLED', 'SASL-IR', 'LOGIN-REFERRALS']);

/** `caps` without what does not apply after login through Gatehouse; order kept. */
export function filterPostLoginCapabilities(caps: readonly string[]): string[] {
  return caps.filter((cap) => {
    const upper = cap.toUpperCase();
    return !REMOVED.has(upper) && !upper.startsWith('AUTH=');
  });
}

/** The untagged data response `* CAPABILITY …` with its CRLF (RFC 9051 §7.2.2). */
export function formatCapabilityResponse(caps: readonly string[]): string {
  return `* CAPABILITY ${caps.join(' ')}\r\n`;
}

/** The response code `[CAPABILITY …]` for a greeting or a tagged OK (RFC 9051 §7.1). */
export function formatCapabilityCode(caps: readonly string[]): string {
  return `[CAPABILITY ${caps.join(' ')}]`;
}
