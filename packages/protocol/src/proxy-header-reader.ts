/**
 * The PROXY protocol header (HAProxy's "PROXY protocol" spec, versions 1 and 2) that a
 * load balancer sends before the client's first byte, naming the real client.
 *
 * Why strict: the header decides the address that access rules, logs, rate limits and the
 * store's ID/XCLIENT see. The spec says a receiver "MUST not try to guess whether the
 * protocol header is present" (anchors-proxy.md §8.9): on a PROXY listener the first
 * bytes must be a complete, valid header, or the connection is dropped — never read as
 * IMAP or POP3. Who may send it (trusted balancer addresses) and the read timeout are
 * the proxy's business; this reader only turns bytes into a header or an error.
 *
 * Incremental: fed chunks of any size (one byte at a time included) until it returns
 * `done` (with the bytes after the header, which belong to the client's protocol) or
 * `error`. Nothing is buffered beyond the header's own bounded size.
 *
 * v1 (§2.1): `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or `PROXY UNKNOWN…\r\n`, at most
 * 107 bytes with CRLF. v2 (§2.2): a 12-byte signature, version/command, family/transport,
 * a 16-bit length, the addresses, then TLVs, which are checked for well-formed lengths
 * and skipped.
 */

export const PROXY_V1_MAX_BYTES = 107;
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_FIXED_BYTES = 16;
const V2_IPV4_BYTES = 12;
const V2_IPV6_BYTES = 36;
const V2_UNIX_BYTES = 216;
const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const AF_UNSPEC = 0x0;
const AF_INET = 0x1;
const AF_INET6 = 0x2;
const AF_UNIX = 0x3;
const TRANSPORT_STREAM = 0x1;

export interface ProxyHeaderLimits {
  /** Whole v2 header with its TLVs. The addresses need at most 232 bytes; TLVs (SSL info, AWS/Azure ids) rarely exceed a few hundred. */
  maxV2Bytes: number;
}

export const DEFAULT_PROXY_HEADER_LIMITS: Readonly<ProxyHeaderLimits> = Object.freeze({ maxV2Bytes: 1024 });

export interface ProxyEndpoint {
  /** IPv4 dotted quad or IPv6 (v1: as sent, already checked; v2: eight hex groups). */
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** `local`: the balancer speaking for itself (health check); use the connection's own addresses. */
  readonly command: 'proxy' | 'local';
  /** `unknown`: v1 UNKNOWN or a v2 family without IP addresses; use the connection's own addresses. */
  readonly family: 'tcp4' | 'tcp6' | 'unknown';
  readonly source: ProxyEndpoint | null;
  readonly destination: ProxyEndpoint | null;
  /** Bytes the header took. */
  readonly length: number;
}

export type ProxyHeaderErrorCode = 'ERR_PROXY_HEADER';

export type ProxyHeaderResult =
  | { readonly state: 'need-more' }
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly rest: Buffer }
  | { readonly state: 'error'; readonly code: ProxyHeaderErrorCode; readonly reason: string };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^(0|[1-9]\d{0,4})$/;

/** IPv6 text: hex groups with at most one `::`, optionally an IPv4 tail. */
function isIpv6(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false;
  let body = text;
  let groups = 0;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    if (!IPV4.test(text.slice(lastColon + 1))) return false;
    body = text.slice(0, lastColon + 1);
    body = body.endsWith('::') ? body : body.slice(0, -1);
    groups = 2;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  for (const half of halves) {
    if (half === '') continue;
    for (const g of half.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      groups++;
    }
  }
  return halves.length === 2 ? groups <= 7 : groups === 8;
}

function port(text: string): number | null {
  if (!PORT.test(text)) return null;
  const n = Number(text);
  return n > 65535 ? null : n;
}

function ipv4At(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function ipv6At(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16));
  return groups.join(':');
}

type State = 'start' | 'v1' | 'v2' | 'finished';

export class ProxyHeaderReader {
  readonly #limits: ProxyHeaderLimits;
  #buf: Buffer = Buffer.alloc(0);
  #state: State = 'start';

  constructor(limits: Partial<ProxyHeaderLimits> = {}) {
    this.#limits = { ...DEFAULT_PROXY_HEADER_LIMITS, ...limits };
  }

  /** Feeds received bytes. After `done` or `error` the reader is finished and must not be fed again. */
  push(chunk: Buffer): ProxyHeaderResult {
    if (this.#state === 'finished') return this.#fail('reader already finished');
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#state === 'start') {
      const n = Math.min(this.#buf.length, PROXY_V2_SIGNATURE.length);
      if (this.#buf.subarray(0, n).equals(PROXY_V2_SIGNATURE.subarray(0, n))) {
        if (n < PROXY_V2_SIGNATURE.length) return { state: 'need-more' };
        this.#state = 'v2';
      } else {
        const m = Math.min(this.#buf.length, V1_PREFIX.length);
        if (!this.#buf.subarray(0, m).equals(V1_PREFIX.subarray(0, m))) return this.#fail('no PROXY header');
        if (m < V1_PREFIX.length) return { state: 'need-more' };
        this.#state = 'v1';
      }
    }
    return this.#state === 'v1' ? this.#v1() : this.#v2();
  }

  #fail(reason: string): ProxyHeaderResult {
    this.#state = 'finished';
    this.#buf = Buffer.alloc(0);
    return { state: 'error', code: 'ERR_PROXY_HEADER', reason };
  }

  #done(header: ProxyHeader): ProxyHeaderResult {
    const rest = this.#buf.subarray(header.length);
    this.#state = 'finished';
    this.#buf = Buffer.alloc(0);
    return { state: 'done', header, rest };
  }

  #v1(): ProxyHeaderResult {
    const lf = this.#buf.indexOf(0x0a);
    if (lf < 0 || lf >= PROXY_V1_MAX_BYTES) {
      return this.#buf.length >= PROXY_V1_MAX_BYTES || lf >= 0 ? this.#fail('v1 line too long') : { state: 'need-more' };
    }
    if (this.#buf[lf - 1] !== 0x0d) return this.#fail('v1 line not ended by CRLF');
    const line = this.#buf.subarray(0, lf - 1).toString('latin1');
    const length = lf + 1;
    const parts = line.split(' ');
    // §2.1: "PROXY UNKNOWN" may be followed by anything up to the CRLF, which is ignored.
    if (parts[1] === 'UNKNOWN') return this.#done({ version: 1, command: 'proxy', family: 'unknown', source: null, destination: null, length });
    if (parts.length !== 6) return this.#fail('v1 needs protocol, two addresses and two ports');
    const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
    const valid = proto === 'TCP4' ? (a: string) => IPV4.test(a) : proto === 'TCP6' ? isIpv6 : null;
    if (valid === null) return this.#fail('v1 protocol must be TCP4, TCP6 or UNKNOWN');
    if (!valid(src) || !valid(dst)) return this.#fail(`v1 address is not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
    const sp = port(sport);
    const dp = port(dport);
    if (sp === null || dp === null) return this.#fail('v1 port must be 0-65535 in decimal');
    return this.#done({
      version: 1,
      command: 'proxy',
      family: proto === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { address: src, port: sp },
      destination: { address: dst, port: dp },
      length,
    });
  }

  #v2(): ProxyHeaderResult {
    const b = this.#buf;
    if (b.length < V2_FIXED_BYTES) return { state: 'need-more' };
    const verCmd = b[12] as number;
    if (verCmd >> 4 !== 0x2) return this.#fail('v2 version must be 2');
    const cmd = verCmd & 0x0f;
    if (cmd !== CMD_LOCAL && cmd !== CMD_PROXY) return this.#fail('v2 command must be LOCAL or PROXY');
    const famByte = b[13] as number;
    const length = V2_FIXED_BYTES + b.readUInt16BE(14);
    if (length > this.#limits.maxV2Bytes) return this.#fail('v2 header over the limit');
    if (b.length < length) return { state: 'need-more' };
    const family = famByte >> 4;
    const transport = famByte & 0x0f;
    let addrBytes = 0;
    if (family === AF_INET) addrBytes = V2_IPV4_BYTES;
    else if (family === AF_INET6) addrBytes = V2_IPV6_BYTES;
    else if (family === AF_UNIX) addrBytes = V2_UNIX_BYTES;
    else if (family !== AF_UNSPEC) return this.#fail('v2 unknown address family');
    if (transport > 0x2) return this.#fail('v2 unknown transport');
    if (length - V2_FIXED_BYTES < addrBytes) return this.#fail('v2 length too short for its addresses');
    // TLVs (§2.2.7): type, 16-bit length, value; each must fit exactly in what is left.
    for (let at = V2_FIXED_BYTES + addrBytes; at < length; ) {
      if (at + 3 > length) return this.#fail('v2 truncated TLV');
      at += 3 + b.readUInt16BE(at + 1);
      if (at > length) return this.#fail('v2 TLV overruns the header');
    }
    // LOCAL (§2.2): the balancer's own connection; the address block, if any, is ignored.
    if (cmd === CMD_LOCAL) return this.#done({ version: 2, command: 'local', family: 'unknown', source: null, destination: null, length });
    if ((family === AF_INET || family === AF_INET6) && transport === TRANSPORT_STREAM) {
      const v4 = family === AF_INET;
      const at = V2_FIXED_BYTES;
      const [src, dst, ports] = v4 ? [ipv4At(b, at), ipv4At(b, at + 4), at + 8] : [ipv6At(b, at), ipv6At(b, at + 16), at + 32];
      return this.#done({
        version: 2,
        command: 'proxy',
        family: v4 ? 'tcp4' : 'tcp6',
        source: { address: src, port: b.readUInt16BE(ports) },
        destination: { address: dst, port: b.readUInt16BE(ports + 2) },
        length,
      });
    }
    // UNSPEC, UNIX or a datagram transport: nothing a mail client connection can be;
    // §2.2 says to accept the connection and use its real addresses.
    return this.#done({ version: 2, command: 'proxy', family: 'unknown', source: null, destination: null, length });
  }
}
