// The Received: trace field (RFC 5321 §4.4) Gatehouse prepends when the store did not
// accept XCLIENT, so the store's copy still names the real client. With XCLIENT the
// store writes its own Received: with the client's address, and Gatehouse adds none.

export interface ReceivedInfo {
  /** The client's EHLO/LHLO name. */
  helo: string | undefined;
  clientAddress: string;
  /** Our host name. */
  byName: string;
  /** `LMTP`, `ESMTP`, `ESMTPS` … (RFC 3848). */
  protocol: string;
  /** Session id (the `cid` of the logs). */
  id: string;
  /** Only for a single recipient (RFC 5321 §4.4: a "for" clause with several would disclose them). */
  recipient: string | undefined;
  date: Date;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in UTC. */
export function rfc5322Date(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Client-supplied names become printable ASCII without parentheses or brackets. */
function clean(text: string): string {
  return text.replace(/[^\x21-\x7e]|[()[\]\\]/g, '?').slice(0, 255);
}

export function receivedHeader(info: ReceivedInfo, eol: string): Buffer {
  const helo = info.helo === undefined || info.helo === '' ? 'unknown' : clean(info.helo);
  const addr = info.clientAddress.includes(':') ? `IPv6:${info.clientAddress}` : info.clientAddress;
  const forClause = info.recipient === undefined ? '' : `${eol}\tfor <${clean(info.recipient)}>`;
  return Buffer.from(
    `Received: from ${helo} ([${addr}])${eol}\tby ${clean(info.byName)} (Gatehouse) with ${info.protocol} id ${clean(info.id)}${forClause};${eol}\t${rfc5322Date(info.date)}${eol}`,
    'latin1',
  );
}

/** CRLF unless the message's first line ends with a bare LF. */
export function lineEnding(message: Buffer): string {
  const nl = message.indexOf(0x0a);
  return nl > 0 && message[nl - 1] !== 0x0d ? '\n' : '\r\n';
}
