// A small authoritative DNS server on 127.0.0.1 for tests that need a resolver they
// control: reverse (PTR) and forward (A, AAAA) answers from a table the test writes,
// NXDOMAIN for names not in it, names that are never answered (to exercise timeouts),
// and a count of the queries per name (to prove a cache). UDP and TCP on one port (TCP
// for answers that do not fit a UDP datagram: the UDP answer then has TC set, RFC 7766).
// The wire format is dns-packet's; names are written byte for byte as the test gives
// them, so a test can serve a hostile PTR (spaces, CR LF) to the code under test.
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';

export type DnsRecordType = 'A' | 'AAAA' | 'PTR';

export interface TestDnsServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:PORT`, as `dns.Resolver#setServers` and the config's `dns.servers` take it. */
  readonly address: string;
  /** Sets the answers of NAME/TYPE (an empty list: the name exists, NOERROR without answers). */
  set(name: string, type: DnsRecordType, data: readonly string[]): void;
  /** The PTR names of an address (its in-addr.arpa or ip6.arpa name). */
  setPtr(address: string, names: readonly string[]): void;
  /** Forgets every record of NAME: NXDOMAIN again. */
  remove(name: string): void;
  /** Queries for NAME (any type) are read, counted and never answered. */
  silence(name: string): void;
  /** Queries received for NAME (of TYPE, if given), answered or not. */
  queryCount(name: string, type?: DnsRecordType): number;
  /** Resolves once a query for NAME (of TYPE, if given) has arrived (at once if one already has). */
  waitForQuery(name: string, type?: DnsRecordType): Promise<void>;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Above this a UDP answer is truncated (TC) and the client asks again over TCP (RFC 6891 §6.2.5 suggests 1232 bytes for EDNS). */
const MAX_UDP_ANSWER_BYTES = 1232;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;
/** Bind races (the UDP port taken for TCP by someone else) are retried this often. */
const MAX_ATTEMPTS = 5;

/** The name a PTR query asks for: `2.0.0.127.in-addr.arpa`, or the nibbles of an IPv6 address under ip6.arpa (RFC 3596 §2.5). */
export function reverseName(address: string): string {
  if (net.isIPv4(address)) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  if (!net.isIPv6(address) || address.includes('.')) throw new Error(`reverseName: not an IPv4 or plain IPv6 address: ${address}`);
  const [head = '', tail] = address.split('::');
  const groupsOf = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groupsOf(head);
  const t = tail === undefined ? [] : groupsOf(tail);
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const hex = groups.map((g) => g.padStart(4, '0')).join('');
  return `${hex.split('').reverse().join('.')}.ip6.arpa`;
}

const key = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export async function startDnsServer(): Promise<TestDnsServer> {
  const records = new Map<string, Map<DnsRecordType, readonly string[]>>();
  const silent = new Set<string>();
  const counts = new Map<string, number>();
  const waiters = new Map<string, Array<() => void>>();

  /** The answer to one query, or null when it must go unanswered. */
  const answer = (query: Buffer): Buffer | null => {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(query);
    } catch {
      return null;
    }
    const question = q.questions?.[0];
    if (question === undefined) return dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: RCODE_FORMERR });
    const name = key(question.name);
    for (const k of [`${name}/*`, `${name}/${question.type}`]) {
      counts.set(k, (counts.get(k) ?? 0) + 1);
      for (const wake of waiters.get(k) ?? []) wake();
      waiters.delete(k);
    }
    if (silent.has(name)) return null;
    const byType = records.get(name);
    const data = byType?.get(question.type as DnsRecordType) ?? [];
    const rd = (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    return dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | rd | (byType === undefined ? RCODE_NXDOMAIN : 0),
      questions: [question],
      answers: data.map((d) => ({ type: question.type as DnsRecordType, name: question.name, ttl: 60, data: d })),
    });
  };

  const { udp, tcp, port } = await bind(answer);
  const sockets = new Set<net.Socket>();
  tcp.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // RFC 1035 §4.2.2: each message is preceded by its two-byte length.
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const reply = answer(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (reply === null) continue;
        const framed = Buffer.alloc(2 + reply.length);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        s.write(framed);
      }
    });
  });

  const set = (name: string, type: DnsRecordType, data: readonly string[]): void => {
    const k = key(name);
    const byType = records.get(k) ?? new Map<DnsRecordType, readonly string[]>();
    byType.set(type, [...data]);
    records.set(k, byType);
  };
  return {
    host: HOST,
    port,
    address: `${HOST}:${port}`,
    set,
    setPtr: (address, names) => set(reverseName(address), 'PTR', names),
    remove(name) {
      records.delete(key(name));
      silent.delete(key(name));
    },
    silence(name) {
      silent.add(key(name));
    },
    queryCount(name, type) {
      return counts.get(`${key(name)}/${type ?? '*'}`) ?? 0;
    },
    waitForQuery(name, type) {
      const k = `${key(name)}/${type ?? '*'}`;
      if ((counts.get(k) ?? 0) > 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.set(k, [...(waiters.get(k) ?? []), resolve]));
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
    },
  };
}

/** UDP on a free port, then TCP on the same port (retried if someone else holds it). */
async function bind(answer: (query: Buffer) => Buffer | null): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      let reply = answer(msg);
      if (reply === null) return;
      if (reply.length > MAX_UDP_ANSWER_BYTES) {
        const r = dnsPacket.decode(reply);
        reply = dnsPacket.encode({ type: 'response', id: r.id ?? 0, flags: (r.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, questions: r.questions ?? [] });
      }
      udp.send(reply, rinfo.port, rinfo.address);
    });
    udp.bind(0, HOST);
    await once(udp, 'listening');
    const port = udp.address().port;
    const tcp = net.createServer();
    try {
      tcp.listen(port, HOST);
      await once(tcp, 'listening');
      return { udp, tcp, port };
    } catch (err) {
      udp.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
