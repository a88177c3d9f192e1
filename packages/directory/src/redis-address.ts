/**
 * The directory's address: one string naming a single Redis, a Sentinel-managed master
 * or a Redis Cluster. Pure parsing (no I/O); Directory.connect builds the ioredis client.
 *
 *   redis://[user:password@]host[:port][/db]                 one server (port 6379, db 0)
 *   rediss://…                                              the same over TLS
 *   redis+sentinel://[user:password@]host[:port][,host[:port]…]/MASTERNAME[?params]
 *                                                           Sentinels (port 26379) that name
 *                                                           the master; user:password and db
 *                                                           are for the master
 *   rediss+sentinel://…                                     TLS to the master (Sentinels in
 *                                                           clear unless sentinelTls=1)
 *   redis+cluster://[user:password@]host[:port][,host[:port]…]   seed nodes of a cluster
 *   rediss+cluster://…                                      TLS to every node
 *
 * Sentinel parameters: db=N, sentinelUsername=…, sentinelPassword=…, sentinelTls=1|0.
 * Hosts are DNS names, IPv4 addresses or [IPv6] addresses. User names, passwords and
 * parameter values are percent-decoded; reserved characters in them (`@ : / ? # & = %`)
 * must be percent-encoded.
 *
 * Errors are DirectoryError ERR_BAD_NAME and never quote the user name, a password or
 * anything that could be part of one (a malformed address may put a piece of a password
 * where a host or parameter was expected, so only the scheme, hosts, ports, the master
 * name and the database are quoted, and only once the credentials are known to be in
 * their place).
 */
import { DirectoryError } from './directory-error.ts';

export interface RedisHostPort {
  readonly host: string;
  readonly port: number;
}

interface Credentials {
  /** Redis ACL user (absent: the default user). */
  readonly username?: string;
  readonly password?: string;
}

export interface StandaloneRedisAddress extends Credentials {
  readonly kind: 'standalone';
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly db: number;
}

export interface SentinelRedisAddress extends Credentials {
  readonly kind: 'sentinel';
  /** TLS to the master (and only to it: see sentinelTls). */
  readonly tls: boolean;
  readonly sentinels: readonly RedisHostPort[];
  readonly masterName: string;
  readonly db: number;
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
  /** TLS to the Sentinels. */
  readonly sentinelTls: boolean;
}

export interface ClusterRedisAddress extends Credentials {
  readonly kind: 'cluster';
  readonly tls: boolean;
  /** Seed nodes; the client learns the rest from CLUSTER SLOTS. */
  readonly nodes: readonly RedisHostPort[];
}

export type RedisAddress = StandaloneRedisAddress | SentinelRedisAddress | ClusterRedisAddress;
export type RedisAddressKind = RedisAddress['kind'];

/** Every scheme parseRedisAddress accepts, with what it names. */
export const REDIS_ADDRESS_SCHEMES = {
  'redis:': { kind: 'standalone', tls: false },
  'rediss:': { kind: 'standalone', tls: true },
  'redis+sentinel:': { kind: 'sentinel', tls: false },
  'rediss+sentinel:': { kind: 'sentinel', tls: true },
  'redis+cluster:': { kind: 'cluster', tls: false },
  'rediss+cluster:': { kind: 'cluster', tls: true },
} as const satisfies Record<string, { kind: RedisAddressKind; tls: boolean }>;

type Scheme = keyof typeof REDIS_ADDRESS_SCHEMES;

const DEFAULT_PORT: Record<RedisAddressKind, number> = { standalone: 6379, sentinel: 26379, cluster: 6379 };
const SCHEME_LIST = Object.keys(REDIS_ADDRESS_SCHEMES).map((s) => `${s}//`);
const SCHEMES_TEXT = `${SCHEME_LIST.slice(0, -1).join(', ')} or ${SCHEME_LIST.at(-1) ?? ''}`;
const SENTINEL_PARAMS = ['db', 'sentinelUsername', 'sentinelPassword', 'sentinelTls'] as const;
type SentinelParam = (typeof SENTINEL_PARAMS)[number];
const DNS_HOST = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$/;
const IPV6_HOST = /^\[([0-9A-Fa-f:.]{2,45})\]$/;
const MASTER_NAME = /^[A-Za-z0-9._-]{1,128}$/;
const DB = /^(?:0|[1-9][0-9]{0,8})$/;

function bad(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_NAME', `directory address: ${message}`);
}

function decode(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw bad(`bad percent-encoding in ${what}`);
  }
}

function parseHostPort(item: string, defaultPort: number, index: number, count: number): RedisHostPort {
  const which = count > 1 ? `host ${index + 1} of ${count}` : 'the host';
  if (item === '') throw bad(count > 1 ? `${which} is empty` : 'empty host list (expected host:port)');
  let host: string;
  let portText: string | undefined;
  if (item.startsWith('[')) {
    const end = item.indexOf(']');
    if (end < 0) throw bad(`${which}: unclosed "[" of an IPv6 address`);
    host = item.slice(0, end + 1);
    const after = item.slice(end + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw bad(`${which}: expected ":port" after "${host}"`);
      portText = after.slice(1);
    }
    const v6 = IPV6_HOST.exec(host)?.[1];
    if (v6 === undefined || !v6.includes(':')) throw bad(`bad IPv6 address "${host}"`);
    host = v6;
  } else {
    const colon = item.lastIndexOf(':');
    host = colon < 0 ? item : item.slice(0, colon);
    if (host.includes(':')) throw bad(`${which}: put an IPv6 address in brackets, e.g. [::1]:${defaultPort}`);
    if (colon >= 0) portText = item.slice(colon + 1);
    if (host === '') throw bad(`${which} has a port but no host name`);
    if (!DNS_HOST.test(host) || host.includes('..')) {
      throw bad(`bad host "${host}" (expected a DNS name, an IPv4 address or an [IPv6] address)`);
    }
  }
  let port = defaultPort;
  if (portText !== undefined) {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : 0;
    if (port < 1 || port > 65535) throw bad(`bad port "${portText}" for host "${host}" (expected 1..65535)`);
  }
  return { host, port };
}

function parseHosts(list: string, kind: RedisAddressKind, scheme: Scheme): RedisHostPort[] {
  if (list === '') {
    throw bad(kind === 'standalone' ? 'missing host (expected host:port)' : 'empty host list (expected host:port[,host:port…])');
  }
  const items = list.split(',');
  if (kind === 'standalone' && items.length > 1) {
    throw bad(`${scheme}// takes one host; for several, use ${scheme.replace(':', '')}+sentinel:// or ${scheme.replace(':', '')}+cluster://`);
  }
  return items.map((item, i) => parseHostPort(item, DEFAULT_PORT[kind], i, items.length));
}

function parseDb(text: string): number {
  if (!DB.test(text)) throw bad(`bad database "${text}" (expected a number 0 or more)`);
  return Number(text);
}

function parseQuery(query: string, scheme: Scheme): Map<SentinelParam, string> {
  const params = new Map<SentinelParam, string>();
  if (query === '') return params;
  const kind = REDIS_ADDRESS_SCHEMES[scheme].kind;
  if (kind !== 'sentinel') throw bad(`${scheme}// takes no ?parameters`);
  query.split('&').forEach((pair, i) => {
    if (pair === '') return;
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    // An unknown name is not quoted: it may be a piece of a password with an unencoded '&'.
    const known = SENTINEL_PARAMS.find((p) => p === name);
    if (known === undefined) throw bad(`unknown parameter ${i + 1} (${scheme}// takes ${SENTINEL_PARAMS.join(', ')})`);
    if (params.has(known)) throw bad(`parameter ${known} given twice`);
    if (eq < 0) throw bad(`parameter ${known} has no value (${known}=…)`);
    params.set(known, decode(pair.slice(eq + 1), `parameter ${known}`));
  });
  return params;
}

/**
 * Parses a directory address. Throws DirectoryError ERR_BAD_NAME naming what is wrong
 * (missing master name, bad port, empty host list, unknown scheme, …); the message never
 * contains a password.
 */
export function parseRedisAddress(address: string): RedisAddress {
  if (typeof address !== 'string' || address.trim() === '') throw bad('empty (expected e.g. redis://host:6379)');
  const m = /^([A-Za-z][A-Za-z0-9+.-]{0,31}:)\/\//.exec(address);
  if (m === null) throw bad(`must start with ${SCHEMES_TEXT}`);
  const scheme = (m[1] ?? '').toLowerCase();
  if (!Object.hasOwn(REDIS_ADDRESS_SCHEMES, scheme)) throw bad(`unknown scheme "${scheme}//" (expected ${SCHEMES_TEXT})`);
  const s = scheme as Scheme;
  const { kind, tls } = REDIS_ADDRESS_SCHEMES[s];
  const rest = address.slice(m[0].length);
  if (rest.includes('#')) throw bad('"#" is not allowed (percent-encode it as %23 in a password)');

  const authorityEnd = rest.search(/[/?]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  if (tail.includes('@')) {
    throw bad('"@" after the host list (percent-encode "@", ":", "/", "?", "#", "&", "=" and "%" in user names, passwords and parameter values)');
  }
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const hostList = at < 0 ? authority : authority.slice(at + 1);
  const credentials: { username?: string; password?: string } = {};
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'the user name');
    const password = colon < 0 ? '' : decode(userinfo.slice(colon + 1), 'the password');
    if (user !== '') credentials.username = user;
    if (password !== '') credentials.password = password;
  }

  const q = tail.indexOf('?');
  const path = q < 0 ? tail : tail.slice(0, q);
  const params = parseQuery(q < 0 ? '' : tail.slice(q + 1), s);
  const hosts = parseHosts(hostList, kind, s);

  switch (kind) {
    case 'standalone': {
      const [only] = hosts;
      if (only === undefined) throw bad('missing host');
      const db = path === '' || path === '/' ? 0 : parseDb(path.slice(1));
      return { kind, tls, host: only.host, port: only.port, db, ...credentials };
    }
    case 'cluster':
      if (path !== '' && path !== '/') throw bad(`${s}// takes no /path (a cluster has only database 0)`);
      return { kind, tls, nodes: hosts, ...credentials };
    case 'sentinel': {
      const masterName = path.slice(1);
      if (masterName === '') throw bad(`missing master name (expected ${s}//host:port[,host:port…]/MASTERNAME)`);
      if (!MASTER_NAME.test(masterName)) throw bad(`bad master name "${masterName}" (expected 1..128 letters, digits, ".", "_" or "-")`);
      const tlsParam = params.get('sentinelTls');
      if (tlsParam !== undefined && tlsParam !== '1' && tlsParam !== '0') throw bad('sentinelTls must be 1 or 0');
      const dbParam = params.get('db');
      const sentinelUsername = params.get('sentinelUsername');
      const sentinelPassword = params.get('sentinelPassword');
      return {
        kind,
        tls,
        sentinels: hosts,
        masterName,
        db: dbParam === undefined ? 0 : parseDb(dbParam),
        sentinelTls: tlsParam === '1',
        ...credentials,
        ...(sentinelUsername !== undefined && sentinelUsername !== '' ? { sentinelUsername } : {}),
        ...(sentinelPassword !== undefined && sentinelPassword !== '' ? { sentinelPassword } : {}),
      };
    }
  }
}

/**
 * The address with its passwords replaced by `redacted` (the user's and
 * sentinelPassword), for showing it. An address that does not parse is shown as its
 * scheme only, since a password could be anywhere in it.
 */
export function redactRedisAddress(address: string): string {
  let parsed: RedisAddress;
  try {
    parsed = parseRedisAddress(address);
  } catch {
    const m = /^([A-Za-z][A-Za-z0-9+.-]{0,31}:)\/\//.exec(address);
    return m === null ? '(invalid address)' : `${m[0]}(invalid address)`;
  }
  const schemeEnd = address.indexOf('//') + 2;
  let rest = address.slice(schemeEnd);
  const authorityEnd = rest.search(/[/?]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  if (parsed.password !== undefined && at >= 0) {
    const colon = authority.indexOf(':');
    rest = `${authority.slice(0, colon + 1)}redacted${rest.slice(at)}`;
  }
  if (parsed.kind === 'sentinel' && parsed.sentinelPassword !== undefined) {
    rest = rest.replace(/([?&]sentinelPassword=)[^&]*/, '$1redacted');
  }
  return address.slice(0, schemeEnd) + rest;
}
