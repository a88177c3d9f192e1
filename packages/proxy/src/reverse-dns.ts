// Forward-confirmed reverse DNS (FCrDNS) for the domain access rules (docs/access.md).
// The PTR record of an address is written by whoever holds the address block, so a PTR
// name alone proves nothing: anyone can make 192.0.2.7 claim to be good.example.net. A
// name counts only when the forward lookup of that name (A for IPv4, AAAA for IPv6),
// answered by the zone of the name itself, contains the client address again.
//
// Bounded in every direction, because each lookup runs while a client waits at accept:
// - time: one overall deadline (`timeoutMs`) for the PTR and the forward lookups together,
//   the resolver's own per-query timeout set to the same value and one try per server;
// - work: at most MAX_PTR_NAMES names of a PTR answer are confirmed (in parallel);
// - memory: a cache of at most `cacheMaxEntries` addresses, the oldest evicted first, a
//   confirmed answer kept `cacheTtlMs` and any other (no PTR, forged, timeout, error)
//   `negativeCacheTtlMs`; concurrent lookups of one address share one promise, so a burst
//   of connections from one address asks the DNS once.
// A PTR name that is not an LDH host name (spaces, CR/LF, non-ASCII, over-long) is never
// looked up forward and never confirmed; such names reach the logs only through
// `sanitizeDnsName` (printable ASCII, capped length).
import { Resolver } from 'node:dns/promises';
import { normalizeHostName, parseIp, type IpAddress } from '@gatehouse/policy';

export const DNS_DEFAULTS = Object.freeze({ timeoutMs: 2000, cacheTtlMs: 300_000, negativeCacheTtlMs: 60_000, cacheMaxEntries: 10_000 });
/** PTR names confirmed per address; an address with more (rare: shared hosting) is judged by its first few. */
export const MAX_PTR_NAMES = 4;
/** Longest unconfirmed name text put in a log line. */
export const MAX_LOGGED_NAME_CHARS = 100;

export interface ReverseDnsOptions {
  /** `ADDR[:PORT]` (`127.0.0.1:5353`, `[::1]:53`); default: the system resolver's (/etc/resolv.conf). */
  servers?: readonly string[] | undefined;
  timeoutMs?: number;
  cacheTtlMs?: number;
  negativeCacheTtlMs?: number;
  /** 0 turns the cache off (every connection looks up again; concurrent ones still share). */
  cacheMaxEntries?: number;
  /** Clock for the cache (tests); default performance.now. */
  now?: () => number;
}

/**
 * confirmed: at least one name confirmed. no-ptr: NXDOMAIN or no PTR record.
 * unconfirmed: PTR names, none confirmed (forged, hostile, or the forward name missing).
 * timeout: the deadline passed (or a query timed out) with nothing confirmed. error: any other resolver failure.
 */
export type ReverseDnsStatus = 'confirmed' | 'no-ptr' | 'unconfirmed' | 'timeout' | 'error';

export interface ConfirmedNames {
  readonly status: ReverseDnsStatus;
  /** Canonical forward-confirmed names (empty unless `confirmed`). */
  readonly names: readonly string[];
  /** PTR names that were not confirmed, already passed through sanitizeDnsName: safe to log. */
  readonly unconfirmed: readonly string[];
}

export interface ReverseDns {
  /** The confirmed names of a client address (canonical text, as AccessPolicy.checkAddress gives it). Never rejects. */
  lookup(address: string): Promise<ConfirmedNames>;
  /** Addresses cached now (tests, metrics). */
  readonly cacheSize: number;
  /** Cancels the queries in flight (they resolve as `error`). */
  close(): void;
}

/** A DNS name as it may appear in a log: printable ASCII only (others become `?`), at most MAX_LOGGED_NAME_CHARS. */
export function sanitizeDnsName(text: string): string {
  const clean = String(text).replace(/[^\x21-\x7e]/g, '?');
  return clean.length > MAX_LOGGED_NAME_CHARS ? `${clean.slice(0, MAX_LOGGED_NAME_CHARS)}…` : clean;
}

/**
 * The name a PTR query asks for (RFC 1035 §3.5, RFC 3596 §2.5): `7.2.0.192.in-addr.arpa`,
 * or the 32 nibbles of an IPv6 address under ip6.arpa. Queried as a plain PTR query
 * rather than with `Resolver#reverse`, which reads /etc/hosts first and reports every
 * failure (refused, SERVFAIL, timeout) as ENOTFOUND.
 */
export function reverseLookupName(ip: IpAddress): string {
  const parts: string[] = [];
  if (ip.family === 4) for (let i = 0n; i < 4n; i++) parts.push(String((ip.value >> (8n * i)) & 0xffn));
  else for (let i = 0n; i < 32n; i++) parts.push(((ip.value >> (4n * i)) & 0xfn).toString(16));
  return `${parts.join('.')}.${ip.family === 4 ? 'in-addr' : 'ip6'}.arpa`;
}

const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA']);
const TIMED_OUT = new Set(['ETIMEOUT', 'ETIMEDOUT']);

class Deadline extends Error {}

export function createReverseDns(opts: ReverseDnsOptions = {}): ReverseDns {
  const timeoutMs = opts.timeoutMs ?? DNS_DEFAULTS.timeoutMs;
  const ttlMs = opts.cacheTtlMs ?? DNS_DEFAULTS.cacheTtlMs;
  const negativeTtlMs = opts.negativeCacheTtlMs ?? DNS_DEFAULTS.negativeCacheTtlMs;
  const maxEntries = opts.cacheMaxEntries ?? DNS_DEFAULTS.cacheMaxEntries;
  const now = opts.now ?? (() => performance.now());
  // One try per server: a retry would only stretch a wait the deadline cuts anyway.
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (opts.servers !== undefined && opts.servers.length > 0) resolver.setServers([...opts.servers]);

  /** Map order is insertion order: the first entry is the oldest. */
  const cache = new Map<string, { expiresAt: number; value: ConfirmedNames }>();
  const inFlight = new Map<string, Promise<ConfirmedNames>>();

  const confirm = async (address: string): Promise<ConfirmedNames> => {
    const ip = parseIp(address);
    if (ip === null) return { status: 'error', names: [], unconfirmed: [] };
    let ptr: string[];
    try {
      ptr = await resolver.resolvePtr(reverseLookupName(ip));
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      return { status: NO_RECORD.has(code) ? 'no-ptr' : TIMED_OUT.has(code) ? 'timeout' : 'error', names: [], unconfirmed: [] };
    }
    if (ptr.length === 0) return { status: 'no-ptr', names: [], unconfirmed: [] };
    const candidates = ptr.slice(0, MAX_PTR_NAMES);
    let timedOut = false;
    const results = await Promise.all(
      candidates.map(async (raw): Promise<string | null> => {
        const name = normalizeHostName(raw);
        if (name === null) return null; // hostile: never sent back to the DNS
        try {
          const forward = ip.family === 4 ? await resolver.resolve4(name) : await resolver.resolve6(name);
          // Compared as numbers: `::1` and `0:0:0:0:0:0:0:1` are one address.
          return forward.some((a) => parseIp(a)?.value === ip.value && parseIp(a)?.family === ip.family) ? name : null;
        } catch (err) {
          if (TIMED_OUT.has((err as { code?: string }).code ?? '')) timedOut = true;
          return null;
        }
      }),
    );
    const names = [...new Set(results.filter((n): n is string => n !== null))];
    const unconfirmed = candidates.filter((_, i) => results[i] === null).map(sanitizeDnsName);
    if (names.length > 0) return { status: 'confirmed', names, unconfirmed };
    return { status: timedOut ? 'timeout' : 'unconfirmed', names, unconfirmed };
  };

  const withDeadline = async (address: string): Promise<ConfirmedNames> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Deadline()), timeoutMs);
    });
    try {
      return await Promise.race([confirm(address), deadline]);
    } catch (err) {
      if (err instanceof Deadline) return { status: 'timeout', names: [], unconfirmed: [] };
      return { status: 'error', names: [], unconfirmed: [] };
    } finally {
      clearTimeout(timer);
    }
  };

  const remember = (address: string, value: ConfirmedNames): void => {
    if (maxEntries <= 0) return;
    cache.delete(address);
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done === true) break;
      cache.delete(oldest.value);
    }
    cache.set(address, { expiresAt: now() + (value.status === 'confirmed' ? ttlMs : negativeTtlMs), value });
  };

  return {
    lookup(address) {
      const hit = cache.get(address);
      if (hit !== undefined) {
        if (hit.expiresAt > now()) return Promise.resolve(hit.value);
        cache.delete(address);
      }
      const running = inFlight.get(address);
      if (running !== undefined) return running;
      const p = withDeadline(address).then((value) => {
        inFlight.delete(address);
        remember(address, value);
        return value;
      });
      inFlight.set(address, p);
      return p;
    },
    get cacheSize() {
      return cache.size;
    },
    close() {
      resolver.cancel();
    },
  };
}
