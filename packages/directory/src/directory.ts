/**
 * The Redis directory: users, back-ends and domains, and the login decision.
 *
 * Redis schema (prefix `gh:` by default; every name below was validated by
 * user-name.ts, so no key is ever built from raw client bytes):
 *
 *   gh:user:<user@domain>   hash  password  stored hash, `{SCHEME}…` (absent: the back-end
 *                                           checks passwords, or nobody can log in)
 *                                 backend   back-end name
 *                                 state     active | disabled
 *                                 imap      1 | 0   IMAP allowed (absent: the virtual server's
 *                                           default, vserver-policy.ts, itself on unless set)
 *                                 pop3      1 | 0   POP3 allowed (absent: likewise)
 *                                 delivery  1 | 0   mail delivery (LMTP/SMTP) allowed (absent = 1)
 *                                 tnef      convert | keep | off   TNEF policy at delivery (absent: the domain's)
 *                                 networks  comma-separated canonical networks the user may log in from
 *                                           (absent: anywhere the virtual server's rules allow)
 *                                 created   ISO 8601 time
 *                                 updated   ISO 8601 time
 *   gh:users                set   every user name
 *
 *   gh:backend:<name>       hash  host      DNS name or IP address of the store
 *                                 imapPort  TCP port (default 143, or 993 with tls=implicit)
 *                                 pop3Port  TCP port (absent: no POP3 on this back-end)
 *                                 lmtpPort  TCP port of its LMTP (absent: no delivery to this back-end)
 *                                 tls       none | starttls | implicit
 *                                 login     master | user   how Gatehouse logs in there:
 *                                           `master` = as masterUser with the user as SASL
 *                                           authorization identity; `user` = relays the user's
 *                                           own credentials (the back-end checks passwords)
 *                                 masterUser, masterPassword
 *                                           the master credentials, stored here in clear:
 *                                           anyone who can read the directory can log in
 *                                           as every user of that back-end — protect Redis
 *                                           (ACL, TLS, network) accordingly
 *                                 state     active | drain
 *                                 tlsVerify 1 | 0   verify the back-end's certificate (absent =
 *                                           0: accept self-signed certificates on the
 *                                           store network)
 *                                 created, updated
 *   gh:backends             set   every back-end name
 *
 *   gh:domain:<domain>      hash  created
 *                                 delivery  1 | 0   mail delivery to this domain allowed (absent = 1)
 *                                 tnef      convert | keep | off   TNEF policy at delivery (absent = convert)
 *   gh:domains              set   every domain name
 *
 *   gh:vserver:<name>       hash  a virtual server's policy (vserver-policy.ts)
 *   gh:vservers             set   every virtual server with a stored policy
 *   gh:access:<name>        hash  a virtual server's access rules (access-rules.ts)
 *
 *   gh:alias:<addr@domain>  hash  target    the local user mail for this address goes to
 *                                 created
 *   gh:aliases              set   every alias address
 *
 * Redis Cluster: every command touches one key (records carry no hash tag, so they
 * spread over slots); multi-step writes use single-key Lua scripts or plain per-key
 * commands, never MULTI or a script across keys. Consequently a record and its index
 * set are written by two commands. The invariant kept is "the set ⊇ the records": a
 * name is added to its set *before* its hash is created and removed *after* its hash is
 * deleted, and listings skip set members whose hash is gone. Likewise "a user's
 * back-end and domain exist" is checked when the user is written, not enforced by Redis:
 * a concurrent `backend del` can still race an `user add`.
 *
 * Failures: a failed login is an AuthResult; a Redis connection, timeout or cluster
 * failure is DirectoryError ERR_DIRECTORY_UNAVAILABLE (Directory.connect sets fail-fast
 * options so this happens within about two seconds instead of queueing forever).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { DirectoryError } from './directory-error.ts';
import { timedLookup } from './directory-events.ts';
import { DEFAULT_PREFIX, directoryKeys, type DirectoryKeys } from './keys.ts';
import {
  ACCESS_DEFAULT_FIELD,
  parseAccessHash,
  validateAccessAction,
  validateAccessRuleField,
  validateVserverName,
  type StoredAccessRules,
} from './access-rules.ts';
import { parseVserverPolicy, vserverPolicyFields, type VserverPolicy, type VserverPolicyPatch } from './vserver-policy.ts';
import { checkPasswordHash, hashPassword, needsRehash, verifyPassword } from './password-hash.ts';
import type { PasswdEntry, PasswdError } from './passwd-file.ts';
import { parseRedisAddress } from './redis-address.ts';
import { createRedisClient } from './redis-client.ts';
import { normalizeDomain, normalizeUserName, userDomain, validateBackendName } from './user-name.ts';
import { VerifiedPasswordCache, type VerifiedPasswordCacheOptions } from './verified-password-cache.ts';

export type RedisClient = Redis | Cluster;

export const USER_STATES = ['active', 'disabled'] as const;
export type UserState = (typeof USER_STATES)[number];
export const BACKEND_STATES = ['active', 'drain'] as const;
export type BackendState = (typeof BACKEND_STATES)[number];
export const BACKEND_TLS = ['none', 'starttls', 'implicit'] as const;
export type BackendTls = (typeof BACKEND_TLS)[number];
export const BACKEND_LOGIN = ['master', 'user'] as const;
export type BackendLogin = (typeof BACKEND_LOGIN)[number];
/** What delivery does with TNEF (winmail.dat): convert to MIME, convert and keep the original part, leave alone. */
export const TNEF_POLICIES = ['convert', 'keep', 'off'] as const;
export type TnefPolicy = (typeof TNEF_POLICIES)[number];

export interface UserRecord {
  /** Normalized `local@domain`. */
  readonly name: string;
  /** Stored hash; absent when the back-end checks passwords. */
  readonly password?: string;
  readonly backend: string;
  readonly state: UserState;
  /** The user's own IMAP switch; absent: the virtual server's default (on unless its policy says off). */
  readonly imap?: boolean;
  /** The user's own POP3 switch; absent: the virtual server's default. */
  readonly pop3?: boolean;
  /** Mail delivery (LMTP/SMTP front door) allowed; default true. */
  readonly delivery: boolean;
  /** TNEF policy at delivery; absent: the domain's. */
  readonly tnef?: TnefPolicy;
  /** Networks (canonical, as @gatehouse/policy formats them) the user may log in from; absent: no restriction. */
  readonly networks?: readonly string[];
  readonly created?: string;
  readonly updated?: string;
}

export interface NewUser {
  readonly name: string;
  /** A stored hash (hashPassword() output or any scheme verifyPassword accepts), never a cleartext password. */
  readonly password?: string;
  readonly backend: string;
  readonly state?: UserState;
  readonly imap?: boolean;
  readonly pop3?: boolean;
  readonly delivery?: boolean;
  readonly tnef?: TnefPolicy;
}

export interface UserPatch {
  /** A stored hash; null removes it. */
  readonly password?: string | null;
  readonly backend?: string;
  readonly state?: UserState;
  /** null removes the user's own switch (the virtual server's default applies). */
  readonly imap?: boolean | null;
  readonly pop3?: boolean | null;
  readonly delivery?: boolean;
  /** null removes it (the domain's policy applies). */
  readonly tnef?: TnefPolicy | null;
  /** Canonical networks the user may log in from; null or [] removes the restriction. */
  readonly networks?: readonly string[] | null;
}

export interface BackendRecord {
  readonly name: string;
  readonly host: string;
  readonly imapPort: number;
  readonly pop3Port?: number;
  /** LMTP port of the store (delivery); absent: mail cannot be delivered there. */
  readonly lmtpPort?: number;
  readonly tls: BackendTls;
  readonly login: BackendLogin;
  readonly masterUser?: string;
  readonly masterPassword?: string;
  readonly state: BackendState;
  /** Verify the back-end's TLS certificate; false (the default) accepts self-signed ones. */
  readonly tlsVerify: boolean;
  readonly created?: string;
  readonly updated?: string;
}

export interface NewBackend {
  readonly name: string;
  readonly host: string;
  readonly login: BackendLogin;
  readonly imapPort?: number;
  readonly pop3Port?: number;
  readonly lmtpPort?: number;
  readonly tls?: BackendTls;
  readonly masterUser?: string;
  readonly masterPassword?: string;
  readonly state?: BackendState;
  readonly tlsVerify?: boolean;
}

export interface BackendPatch {
  readonly host?: string;
  readonly imapPort?: number;
  /** null removes POP3 from the back-end. */
  readonly pop3Port?: number | null;
  /** null removes delivery to the back-end. */
  readonly lmtpPort?: number | null;
  readonly tls?: BackendTls;
  readonly login?: BackendLogin;
  readonly masterUser?: string | null;
  readonly masterPassword?: string | null;
  readonly state?: BackendState;
  readonly tlsVerify?: boolean;
}

export interface DomainRecord {
  readonly name: string;
  readonly created?: string;
  /** Mail delivery to the domain allowed; default true. */
  readonly delivery?: boolean;
  /** TNEF policy at delivery for its users; absent = convert. */
  readonly tnef?: TnefPolicy;
}

export interface DomainPatch {
  readonly delivery?: boolean;
  /** null removes it (back to convert). */
  readonly tnef?: TnefPolicy | null;
}

/** An extra address that delivers to a local user (one level; no external targets). */
export interface AliasRecord {
  /** Normalized `local@domain`. */
  readonly name: string;
  /** Normalized user name the mail goes to. */
  readonly target: string;
  readonly created?: string;
}

export type AuthFailureReason = 'bad-username' | 'unknown-user' | 'bad-password' | 'disabled' | 'no-backend' | 'backend-checks-password';

/**
 * The login decision. `backend-checks-password` is not a refusal: the user's back-end
 * has `login: user`, so no local hash was checked and the proxy must relay the client's
 * own credentials — and, once the back-end accepts them, apply `user.state` itself
 * (the same rule as here: password first, then the account state).
 */
export type AuthResult =
  | { readonly ok: true; readonly user: UserRecord; readonly backend: BackendRecord }
  | { readonly ok: false; readonly reason: AuthFailureReason; readonly user?: UserRecord; readonly backend?: BackendRecord };

export interface AuthenticateOptions {
  /** Domain for unqualified login names. */
  readonly defaultDomain?: string;
  /**
   * After a successful login with a hash for which needsRehash() is true, replace it
   * with a new `{SCRYPT}` hash (compare-and-set: only if the stored hash is unchanged).
   * Costs one more scrypt on that login; failures are ignored.
   */
  readonly rehash?: boolean;
  /**
   * The mail domains that may log in (a virtual server's `domains`): a user of any other
   * domain is answered exactly like an unknown user, dummy hash included, so a virtual
   * server reveals nothing about accounts it does not serve.
   */
  readonly domains?: readonly string[];
}

export interface ImportOptions {
  /** Back-end of every imported user (must exist). */
  readonly backend: string;
}

export interface ImportResult {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Entries skipped (unknown domain, unqualified or bad name, bad hash), by passwd-file line. */
  readonly errors: PasswdError[];
}

export interface ListUsersFilter {
  readonly backend?: string;
  readonly domain?: string;
}

export interface DirectoryOptions {
  readonly redis: RedisClient;
  /** Key prefix, default `gh:`. */
  readonly prefix?: string;
  /** Trust a verified password for a while (default 5 min, 10,000 entries); false turns it off. */
  readonly verifiedPasswordCache?: VerifiedPasswordCacheOptions | false;
}

export interface ConnectOptions {
  readonly prefix?: string;
  readonly verifiedPasswordCache?: VerifiedPasswordCacheOptions | false;
  /** TCP connect timeout, default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** Per-command timeout, default 2000 ms. */
  readonly commandTimeoutMs?: number;
  /**
   * Wait for the first connection (default true): connect() then rejects with
   * ERR_DIRECTORY_UNAVAILABLE if Redis is not reachable. With false it returns at once,
   * commands fail fast until Redis answers, and the client keeps reconnecting.
   */
  readonly waitReady?: boolean;
  /** Receives ioredis connection errors (which otherwise go nowhere: commands report them). */
  readonly onError?: (err: Error) => void;
  /**
   * Extra ioredis options (override the fail-fast defaults at your own risk); for a
   * cluster, those of each node connection.
   */
  readonly redisOptions?: RedisOptions;
  /** Extra ioredis Cluster options, for a `redis+cluster://` address. */
  readonly clusterOptions?: ClusterOptions;
}

/** The commands the directory uses; both ioredis Redis and Cluster provide them. */
interface Commands {
  hgetall(key: string): Promise<Record<string, string>>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  hset(key: string, field: string, value: string): Promise<number>;
  hdel(key: string, ...fields: string[]): Promise<number>;
  exists(key: string): Promise<number>;
  del(key: string): Promise<number>;
  sadd(key: string, ...members: string[]): Promise<number>;
  srem(key: string, ...members: string[]): Promise<number>;
  sscan(key: string, cursor: string, countToken: 'COUNT', count: number): Promise<[cursor: string, elements: string[]]>;
  eval(script: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
  evalsha(sha: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** A single-key Lua script, sent by SHA1 and loaded on NOSCRIPT (per cluster node). */
class LuaScript {
  readonly lua: string;
  readonly sha: string;
  constructor(lua: string) {
    this.lua = lua;
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
}

// KEYS[1] = record; ARGV = field, value, … — creates the hash only if it does not exist.
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`);

// KEYS[1] = record; ARGV[1] = n; ARGV[2..2n+1] = field, value pairs to set; the rest = fields to delete.
const UPDATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
if #ARGV > 1 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 + 2 * n)) end
return 1`);

// KEYS[1] = record; as UPDATE, but creates the hash when absent (one atomic write).
const UPSERT = new LuaScript(`
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
if #ARGV > 1 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 + 2 * n)) end
return 1`);

// KEYS[1] = user; ARGV = expected old hash, new hash, now.
const REHASH = new LuaScript(`
if redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'password', ARGV[2], 'updated', ARGV[3])
return 1`);

// KEYS[1] = user; ARGV = hash, backend, now. Returns 1 added, 2 updated, 0 unchanged.
const IMPORT = new LuaScript(`
local cur = redis.call('HMGET', KEYS[1], 'password', 'backend')
if not cur[2] then
  redis.call('HSET', KEYS[1], 'password', ARGV[1], 'backend', ARGV[2], 'state', 'active',
    'created', ARGV[3], 'updated', ARGV[3])
  return 1
end
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'password', ARGV[1], 'backend', ARGV[2], 'updated', ARGV[3])
return 2`);

/** Commands in flight at once for listings and imports (auto-pipelined by ioredis). */
const BATCH = 500;
const SCAN_COUNT = 1000;

function badRecord(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_RECORD', message);
}

function notFound(message: string): DirectoryError {
  return new DirectoryError('ERR_NOT_FOUND', message);
}

function now(): string {
  return new Date().toISOString();
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Maps whatever ioredis threw to a DirectoryError. */
function toDirectoryError(err: unknown, what: string): DirectoryError {
  if (err instanceof DirectoryError) return err;
  const message = errorMessage(err);
  if (message.includes('WRONGTYPE')) return new DirectoryError('ERR_BAD_RECORD', `${what}: a key holds the wrong Redis type`, { cause: err });
  return new DirectoryError('ERR_DIRECTORY_UNAVAILABLE', `${what}: directory unavailable (${message})`, { cause: err });
}

function oneOf<T extends string>(values: readonly T[], value: unknown, what: string): T {
  if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
  throw badRecord(`${what} must be one of ${values.join(', ')}`);
}

function port(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value;
  throw badRecord(`${what} must be an integer port 1..65535`);
}

function flag(value: boolean | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw badRecord(`${what} must be true or false`);
  return value ? '1' : '0';
}

function host(value: unknown): string {
  if (typeof value === 'string') {
    const h = value.toLowerCase();
    const dns = h.length <= 253 && h.split('.').every((l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l));
    const v6 = h.includes(':') && /^[0-9a-f:.]{2,45}$/.test(h);
    if (dns || v6) return h;
  }
  throw badRecord('host must be a DNS name or an IP address');
}

function masterUser(value: unknown): string {
  if (typeof value === 'string' && /^[A-Za-z0-9._@+-]{1,255}$/.test(value)) return value;
  throw badRecord('masterUser must be 1..255 characters of [A-Za-z0-9._@+-]');
}

function masterPassword(value: unknown): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value === 'string' && value.length >= 1 && value.length <= 1024 && !/[\x00\r\n]/.test(value)) return value;
  throw badRecord('masterPassword must be 1..1024 characters without NUL, CR or LF');
}

function storedHash(value: unknown): string {
  if (typeof value !== 'string') throw badRecord('password must be a stored hash string');
  checkPasswordHash(value);
  return value;
}

function parseFlag(v: string | undefined, dflt: boolean, what: string): boolean {
  if (v === undefined) return dflt;
  if (v === '1') return true;
  if (v === '0') return false;
  throw badRecord(`${what} must be 1 or 0`);
}

function parseUser(name: string, h: Record<string, string>): UserRecord {
  if (h['backend'] === undefined) throw badRecord(`user ${name}: no backend field`);
  const state = h['state'] === undefined ? 'active' : oneOf(USER_STATES, h['state'], `user ${name}: state`);
  return {
    name,
    ...(h['password'] !== undefined ? { password: h['password'] } : {}),
    backend: h['backend'],
    state,
    ...(h['imap'] !== undefined ? { imap: parseFlag(h['imap'], true, `user ${name}: imap`) } : {}),
    ...(h['pop3'] !== undefined ? { pop3: parseFlag(h['pop3'], true, `user ${name}: pop3`) } : {}),
    delivery: parseFlag(h['delivery'], true, `user ${name}: delivery`),
    ...(h['tnef'] !== undefined ? { tnef: oneOf(TNEF_POLICIES, h['tnef'], `user ${name}: tnef`) } : {}),
    ...(h['networks'] !== undefined ? { networks: parseNetworksField(h['networks'], `user ${name}: networks`) } : {}),
    ...(h['created'] !== undefined ? { created: h['created'] } : {}),
    ...(h['updated'] !== undefined ? { updated: h['updated'] } : {}),
  };
}

/** At most this many networks per user: a login compiles them, so keep the list short. */
export const MAX_USER_NETWORKS = 32;

function parseNetworksField(v: string, what: string): string[] {
  const list = v.split(',');
  if (list.length > MAX_USER_NETWORKS || list.some((n) => !/^[0-9a-f.:/]{2,60}$/.test(n))) throw badRecord(`${what} must be up to ${MAX_USER_NETWORKS} canonical networks, comma-separated`);
  return list;
}

function parsePortField(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,5}$/.test(v)) throw badRecord(`${what} must be a port number`);
  return port(Number(v), what);
}

function parseBackend(name: string, h: Record<string, string>): BackendRecord {
  const w = `backend ${name}`;
  if (h['host'] === undefined) throw badRecord(`${w}: no host field`);
  const tls = h['tls'] === undefined ? 'none' : oneOf(BACKEND_TLS, h['tls'], `${w}: tls`);
  const imapPort = parsePortField(h['imapPort'], `${w}: imapPort`) ?? (tls === 'implicit' ? 993 : 143);
  const pop3Port = parsePortField(h['pop3Port'], `${w}: pop3Port`);
  const lmtpPort = parsePortField(h['lmtpPort'], `${w}: lmtpPort`);
  const login = oneOf(BACKEND_LOGIN, h['login'], `${w}: login`);
  if (login === 'master' && (h['masterUser'] === undefined || h['masterPassword'] === undefined)) {
    throw badRecord(`${w}: login=master needs masterUser and masterPassword`);
  }
  return {
    name,
    host: h['host'],
    imapPort,
    ...(pop3Port !== undefined ? { pop3Port } : {}),
    ...(lmtpPort !== undefined ? { lmtpPort } : {}),
    tls,
    login,
    ...(h['masterUser'] !== undefined ? { masterUser: h['masterUser'] } : {}),
    ...(h['masterPassword'] !== undefined ? { masterPassword: h['masterPassword'] } : {}),
    state: h['state'] === undefined ? 'active' : oneOf(BACKEND_STATES, h['state'], `${w}: state`),
    tlsVerify: parseFlag(h['tlsVerify'], false, `${w}: tlsVerify`),
    ...(h['created'] !== undefined ? { created: h['created'] } : {}),
    ...(h['updated'] !== undefined ? { updated: h['updated'] } : {}),
  };
}

function parseDomain(name: string, h: Record<string, string>): DomainRecord {
  return {
    name,
    ...(h['created'] !== undefined ? { created: h['created'] } : {}),
    delivery: parseFlag(h['delivery'], true, `domain ${name}: delivery`),
    ...(h['tnef'] !== undefined ? { tnef: oneOf(TNEF_POLICIES, h['tnef'], `domain ${name}: tnef`) } : {}),
  };
}

function parseAlias(name: string, h: Record<string, string>): AliasRecord {
  if (h['target'] === undefined) throw badRecord(`alias ${name}: no target field`);
  return { name, target: h['target'], ...(h['created'] !== undefined ? { created: h['created'] } : {}) };
}

/** Validates a complete back-end (as added, or as it would be after a patch) and returns its hash fields. */
function backendFields(b: Omit<NewBackend, 'name'>): Record<string, string> {
  const tls = b.tls === undefined ? 'none' : oneOf(BACKEND_TLS, b.tls, 'tls');
  const login = oneOf(BACKEND_LOGIN, b.login, 'login');
  const f: Record<string, string> = {
    host: host(b.host),
    imapPort: String(b.imapPort === undefined ? (tls === 'implicit' ? 993 : 143) : port(b.imapPort, 'imapPort')),
    tls,
    login,
    state: b.state === undefined ? 'active' : oneOf(BACKEND_STATES, b.state, 'state'),
    tlsVerify: flag(b.tlsVerify, 'tlsVerify') ?? '0',
  };
  if (b.pop3Port !== undefined) f['pop3Port'] = String(port(b.pop3Port, 'pop3Port'));
  if (b.lmtpPort !== undefined) f['lmtpPort'] = String(port(b.lmtpPort, 'lmtpPort'));
  if (b.masterUser !== undefined) f['masterUser'] = masterUser(b.masterUser);
  if (b.masterPassword !== undefined) f['masterPassword'] = masterPassword(b.masterPassword);
  if (login === 'master' && (f['masterUser'] === undefined || f['masterPassword'] === undefined)) {
    throw badRecord('login=master needs masterUser and masterPassword');
  }
  return f;
}

function flatten(fields: Record<string, string>): string[] {
  return Object.entries(fields).flat();
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random password with the current parameters, to spend the same time on unknown users. */
function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(18).toString('base64'));
  return dummyHash;
}

export class Directory {
  readonly keys: DirectoryKeys;
  readonly redis: RedisClient;
  readonly #r: Commands;
  #owned = false;

  readonly #verified: VerifiedPasswordCache | null;

  constructor(options: DirectoryOptions) {
    this.redis = options.redis;
    this.#r = options.redis as unknown as Commands;
    this.keys = directoryKeys(options.prefix ?? DEFAULT_PREFIX);
    this.#verified = options.verifiedPasswordCache === false ? null : new VerifiedPasswordCache(options.verifiedPasswordCache);
  }

  /**
   * Connects to a directory address (see redis-address.ts): `redis://` or `rediss://`
   * for one server, `redis+sentinel://` / `rediss+sentinel://` for a master named by
   * Sentinels, `redis+cluster://` / `rediss+cluster://` for a Redis Cluster. Fail-fast
   * settings (redis-client.ts): no offline queue, one retry per request, 2 s connect and
   * command timeouts, auto-pipelining on. A down or hung Redis (or every Sentinel, or
   * the whole cluster) becomes ERR_DIRECTORY_UNAVAILABLE in about 2 s; the client keeps
   * reconnecting in the background (backoff up to 2 s). A malformed address is
   * ERR_BAD_NAME.
   */
  static async connect(url: string, options: ConnectOptions = {}): Promise<Directory> {
    const address = parseRedisAddress(url);
    const connectTimeout = options.connectTimeoutMs ?? 2000;
    const redis = createRedisClient(address, {
      connectTimeoutMs: connectTimeout,
      commandTimeoutMs: options.commandTimeoutMs ?? 2000,
      ...(options.redisOptions !== undefined ? { redisOptions: options.redisOptions } : {}),
      ...(options.clusterOptions !== undefined ? { clusterOptions: options.clusterOptions } : {}),
    });
    redis.on('error', options.onError ?? (() => {}));
    const dir = new Directory({
      redis,
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
      ...(options.verifiedPasswordCache !== undefined ? { verifiedPasswordCache: options.verifiedPasswordCache } : {}),
    });
    dir.#owned = true;
    const connecting = redis.connect();
    if (options.waitReady === false) {
      connecting.catch(() => {}); // reported through onError; commands fail fast meanwhile
      return dir;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connecting,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${connectTimeout} ms`)), connectTimeout + 250);
        }),
      ]);
    } catch (err) {
      redis.disconnect();
      throw toDirectoryError(err, 'connect');
    } finally {
      clearTimeout(timer);
    }
    return dir;
  }

  /**
   * Closes the Redis client if connect() created it; a client passed in stays the
   * caller's. Says QUIT where it can, and drops the connections if that fails or takes
   * more than a second (Redis down); reconnecting stops either way.
   */
  async close(): Promise<void> {
    if (!this.#owned) return;
    this.#owned = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#r.quit(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('QUIT timed out')), 1000);
        }),
      ]);
    } catch {
      this.#r.disconnect();
    } finally {
      clearTimeout(timer);
    }
  }

  async #run<T>(what: string, fn: (r: Commands) => Promise<T>): Promise<T> {
    try {
      return await fn(this.#r);
    } catch (err) {
      throw toDirectoryError(err, what);
    }
  }

  async #script(script: LuaScript, key: string, args: (string | number)[]): Promise<unknown> {
    return this.#run('script', async (r) => {
      try {
        return await r.evalsha(script.sha, 1, key, ...args);
      } catch (err) {
        if (!errorMessage(err).includes('NOSCRIPT')) throw err;
        return r.eval(script.lua, 1, key, ...args);
      }
    });
  }

  async #scanSet(key: string): Promise<string[]> {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, members] = await this.#run('sscan', (r) => r.sscan(key, cursor, 'COUNT', SCAN_COUNT));
      for (const m of members) found.add(m);
      cursor = next;
    } while (cursor !== '0');
    return [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** HGETALL for many keys, BATCH at a time, in the order given. */
  async #getAll(keys: string[]): Promise<Record<string, string>[]> {
    const out: Record<string, string>[] = [];
    for (let i = 0; i < keys.length; i += BATCH) {
      const chunk = keys.slice(i, i + BATCH);
      out.push(...(await this.#run('hgetall', (r) => Promise.all(chunk.map((k) => r.hgetall(k))))));
    }
    return out;
  }

  // ---- users ---------------------------------------------------------------------

  /** Normalizes a user name for storage: must be qualified (`local@domain`). */
  #userName(raw: string): string {
    const name = normalizeUserName(raw);
    if (userDomain(name) === undefined) throw new DirectoryError('ERR_BAD_USERNAME', 'directory user names must be user@domain');
    return name;
  }

  async #requireBackend(name: string): Promise<void> {
    validateBackendName(name);
    const n = await this.#run('exists', (r) => r.exists(this.keys.backend(name)));
    if (n === 0) throw notFound(`backend ${name} does not exist`);
  }

  async #requireDomain(domain: string): Promise<void> {
    if (!(await this.hasDomain(domain))) throw notFound(`domain ${domain} is not in the directory (add it first)`);
  }

  /** Adds a user. ERR_EXISTS if present; ERR_NOT_FOUND if its back-end or domain is unknown. */
  async addUser(rec: NewUser): Promise<UserRecord> {
    const name = this.#userName(rec.name);
    validateBackendName(rec.backend);
    const t = now();
    const fields: Record<string, string> = {
      backend: rec.backend,
      state: rec.state === undefined ? 'active' : oneOf(USER_STATES, rec.state, 'state'),
      ...(rec.imap !== undefined ? { imap: flag(rec.imap, 'imap') ?? '1' } : {}),
      ...(rec.pop3 !== undefined ? { pop3: flag(rec.pop3, 'pop3') ?? '1' } : {}),
      ...(rec.delivery !== undefined ? { delivery: flag(rec.delivery, 'delivery') ?? '1' } : {}),
      ...(rec.tnef !== undefined ? { tnef: oneOf(TNEF_POLICIES, rec.tnef, 'tnef') } : {}),
      created: t,
      updated: t,
    };
    if (rec.password !== undefined) fields['password'] = storedHash(rec.password);
    await this.#requireDomain(userDomain(name) ?? '');
    await this.#requireBackend(rec.backend);
    await this.#run('sadd', (r) => r.sadd(this.keys.users, name));
    if ((await this.#script(CREATE, this.keys.user(name), flatten(fields))) !== 1) {
      throw new DirectoryError('ERR_EXISTS', `user ${name} already exists`);
    }
    return parseUser(name, fields);
  }

  /** Changes fields of an existing user. ERR_NOT_FOUND if absent (or if a new back-end is unknown). */
  async setUser(rawName: string, patch: UserPatch): Promise<UserRecord> {
    const name = this.#userName(rawName);
    const set: Record<string, string> = {};
    const del: string[] = [];
    if (patch.password === null) del.push('password');
    else if (patch.password !== undefined) set['password'] = storedHash(patch.password);
    if (patch.state !== undefined) set['state'] = oneOf(USER_STATES, patch.state, 'state');
    for (const p of ['imap', 'pop3'] as const) {
      if (patch[p] === null) del.push(p);
      else if (patch[p] !== undefined) set[p] = flag(patch[p], p) as string;
    }
    const delivery = flag(patch.delivery, 'delivery');
    if (delivery !== undefined) set['delivery'] = delivery;
    if (patch.tnef === null) del.push('tnef');
    else if (patch.tnef !== undefined) set['tnef'] = oneOf(TNEF_POLICIES, patch.tnef, 'tnef');
    if (patch.networks === null || patch.networks?.length === 0) del.push('networks');
    else if (patch.networks !== undefined) set['networks'] = parseNetworksField(patch.networks.join(','), 'networks').join(',');
    if (patch.backend !== undefined) {
      await this.#requireBackend(patch.backend);
      set['backend'] = patch.backend;
    }
    set['updated'] = now();
    await this.#update(this.keys.user(name), set, del, `user ${name}`);
    const user = await this.getUser(name);
    if (user === null) throw notFound(`user ${name} does not exist`);
    return user;
  }

  async #update(key: string, set: Record<string, string>, del: string[], what: string): Promise<void> {
    const pairs = flatten(set);
    const done = await this.#script(UPDATE, key, [pairs.length / 2, ...pairs, ...del]);
    if (done !== 1) throw notFound(`${what} does not exist`);
  }

  /** The user's record, or null. Throws ERR_BAD_USERNAME for a name that fails the charset. */
  async getUser(rawName: string): Promise<UserRecord | null> {
    const name = normalizeUserName(rawName);
    const h = await this.#run('hgetall', (r) => r.hgetall(this.keys.user(name)));
    return Object.keys(h).length === 0 ? null : parseUser(name, h);
  }

  /** Every user (optionally of one back-end or domain), sorted by name. */
  async listUsers(filter: ListUsersFilter = {}): Promise<UserRecord[]> {
    const domain = filter.domain === undefined ? undefined : normalizeDomain(filter.domain);
    let names = await this.#scanSet(this.keys.users);
    if (domain !== undefined) names = names.filter((n) => userDomain(n) === domain);
    const hashes = await this.#getAll(names.map((n) => this.keys.user(n)));
    const users: UserRecord[] = [];
    names.forEach((n, i) => {
      const h = hashes[i];
      if (h === undefined || Object.keys(h).length === 0) return; // set member without record
      const u = parseUser(n, h);
      if (filter.backend === undefined || u.backend === filter.backend) users.push(u);
    });
    return users;
  }

  /** Deletes a user. ERR_NOT_FOUND if absent. */
  async delUser(rawName: string): Promise<void> {
    const name = normalizeUserName(rawName);
    const n = await this.#run('del', (r) => r.del(this.keys.user(name)));
    await this.#run('srem', (r) => r.srem(this.keys.users, name));
    if (n === 0) throw notFound(`user ${name} does not exist`);
  }

  // ---- back-ends -----------------------------------------------------------------

  /** Adds a back-end. ERR_EXISTS if present; ERR_BAD_RECORD for invalid fields. */
  async addBackend(rec: NewBackend): Promise<BackendRecord> {
    const name = validateBackendName(rec.name);
    const t = now();
    const fields = { ...backendFields(rec), created: t, updated: t };
    await this.#run('sadd', (r) => r.sadd(this.keys.backends, name));
    if ((await this.#script(CREATE, this.keys.backend(name), flatten(fields))) !== 1) {
      throw new DirectoryError('ERR_EXISTS', `backend ${name} already exists`);
    }
    return parseBackend(name, fields);
  }

  /** Changes fields of a back-end; the result must still be a valid back-end. ERR_NOT_FOUND if absent. */
  async setBackend(rawName: string, patch: BackendPatch): Promise<BackendRecord> {
    const name = validateBackendName(rawName);
    const cur = await this.getBackend(name);
    if (cur === null) throw notFound(`backend ${name} does not exist`);
    const merged: Record<string, unknown> = { ...cur };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete merged[k];
      else if (v !== undefined) merged[k] = v;
    }
    const fields = backendFields(merged as unknown as NewBackend);
    const del = ['pop3Port', 'lmtpPort', 'masterUser', 'masterPassword'].filter((k) => fields[k] === undefined);
    await this.#update(this.keys.backend(name), { ...fields, updated: now() }, del, `backend ${name}`);
    const b = await this.getBackend(name);
    if (b === null) throw notFound(`backend ${name} does not exist`);
    return b;
  }

  async getBackend(rawName: string): Promise<BackendRecord | null> {
    const name = validateBackendName(rawName);
    const h = await this.#run('hgetall', (r) => r.hgetall(this.keys.backend(name)));
    return Object.keys(h).length === 0 ? null : parseBackend(name, h);
  }

  async listBackends(): Promise<BackendRecord[]> {
    const names = await this.#scanSet(this.keys.backends);
    const hashes = await this.#getAll(names.map((n) => this.keys.backend(n)));
    const out: BackendRecord[] = [];
    names.forEach((n, i) => {
      const h = hashes[i];
      if (h !== undefined && Object.keys(h).length > 0) out.push(parseBackend(n, h));
    });
    return out;
  }

  /** Deletes a back-end. ERR_NOT_FOUND if absent; ERR_IN_USE while users still point at it. */
  async delBackend(rawName: string): Promise<void> {
    const name = validateBackendName(rawName);
    if ((await this.#run('exists', (r) => r.exists(this.keys.backend(name)))) === 0) throw notFound(`backend ${name} does not exist`);
    const users = await this.#countUsersOn(name);
    if (users > 0) throw new DirectoryError('ERR_IN_USE', `backend ${name} still has ${users} user(s); move or delete them first`);
    await this.#run('del', (r) => r.del(this.keys.backend(name)));
    await this.#run('srem', (r) => r.srem(this.keys.backends, name));
  }

  async #countUsersOn(backend: string): Promise<number> {
    const names = await this.#scanSet(this.keys.users);
    let count = 0;
    for (let i = 0; i < names.length; i += BATCH) {
      const chunk = names.slice(i, i + BATCH);
      const got = await this.#run('hmget', (r) => Promise.all(chunk.map((n) => r.hmget(this.keys.user(n), 'backend'))));
      for (const [b] of got) if (b === backend) count++;
    }
    return count;
  }

  // ---- domains -------------------------------------------------------------------

  async addDomain(rawName: string): Promise<DomainRecord> {
    const name = normalizeDomain(rawName);
    const created = now();
    await this.#run('sadd', (r) => r.sadd(this.keys.domains, name));
    if ((await this.#script(CREATE, this.keys.domain(name), ['created', created])) !== 1) {
      throw new DirectoryError('ERR_EXISTS', `domain ${name} already exists`);
    }
    return { name, created };
  }

  async hasDomain(rawName: string): Promise<boolean> {
    const name = normalizeDomain(rawName);
    return (await this.#run('exists', (r) => r.exists(this.keys.domain(name)))) === 1;
  }

  async listDomains(): Promise<DomainRecord[]> {
    const names = await this.#scanSet(this.keys.domains);
    const hashes = await this.#getAll(names.map((n) => this.keys.domain(n)));
    const out: DomainRecord[] = [];
    names.forEach((name, i) => {
      const h = hashes[i];
      if (h === undefined || Object.keys(h).length === 0) return;
      out.push(parseDomain(name, h));
    });
    return out;
  }

  /** The domain's record, or null if it is not a local domain. */
  async getDomain(rawName: string): Promise<DomainRecord | null> {
    const name = normalizeDomain(rawName);
    const h = await this.#run('hgetall', (r) => r.hgetall(this.keys.domain(name)));
    return Object.keys(h).length === 0 ? null : parseDomain(name, h);
  }

  /** Changes the delivery fields of a domain. ERR_NOT_FOUND if absent. */
  async setDomain(rawName: string, patch: DomainPatch): Promise<DomainRecord> {
    const name = normalizeDomain(rawName);
    const set: Record<string, string> = {};
    const del: string[] = [];
    const delivery = flag(patch.delivery, 'delivery');
    if (delivery !== undefined) set['delivery'] = delivery;
    if (patch.tnef === null) del.push('tnef');
    else if (patch.tnef !== undefined) set['tnef'] = oneOf(TNEF_POLICIES, patch.tnef, 'tnef');
    await this.#update(this.keys.domain(name), set, del, `domain ${name}`);
    const d = await this.getDomain(name);
    if (d === null) throw notFound(`domain ${name} does not exist`);
    return d;
  }

  // ---- access rules (access-rules.ts) --------------------------------------------

  /** The access rules of a virtual server; none stored: `{ default: 'grant', rules: [], domains: [] }`. */
  async getAccessRules(vserver: string): Promise<StoredAccessRules> {
    const key = this.keys.access(validateVserverName(vserver));
    return parseAccessHash(await this.#run('hgetall', (r) => r.hgetall(key)));
  }

  /** Sets the action of one canonical network or domain pattern (replacing its previous action). */
  async setAccessRule(vserver: string, network: string, action: string): Promise<void> {
    const key = this.keys.access(validateVserverName(vserver));
    const field = validateAccessRuleField(network);
    const value = validateAccessAction(action);
    await this.#run('hset', (r) => r.hset(key, field, value));
  }

  /** Removes the rule of one canonical network or domain pattern; false if there was none. */
  async delAccessRule(vserver: string, network: string): Promise<boolean> {
    const key = this.keys.access(validateVserverName(vserver));
    const field = validateAccessRuleField(network);
    return (await this.#run('hdel', (r) => r.hdel(key, field))) === 1;
  }

  /** Sets what applies when no rule matches: `grant` (grant all except) or `deny` (deny all except). */
  async setAccessDefault(vserver: string, action: string): Promise<void> {
    const key = this.keys.access(validateVserverName(vserver));
    const value = validateAccessAction(action);
    await this.#run('hset', (r) => r.hset(key, ACCESS_DEFAULT_FIELD, value));
  }

  // ---- virtual server policy (vserver-policy.ts) ---------------------------------

  /** A virtual server's stored policy, or null when none is stored (the config file decides everything). */
  async getVserverPolicy(vserver: string): Promise<VserverPolicy | null> {
    const name = validateVserverName(vserver);
    const h = await this.#run('hgetall', (r) => r.hgetall(this.keys.vserver(name)));
    return Object.keys(h).length === 0 ? null : parseVserverPolicy(name, h);
  }

  /**
   * Sets or removes (null) policy fields, creating the record if needed. Every domain in
   * `domains` and `defaultDomain` must be a directory domain (ERR_NOT_FOUND), so a typo
   * cannot lock a domain's users out.
   */
  async setVserverPolicy(vserver: string, patch: VserverPolicyPatch): Promise<VserverPolicy> {
    const name = validateVserverName(vserver);
    const { set, del } = vserverPolicyFields(patch);
    for (const d of [...(set['domains']?.split(',') ?? []), ...(set['defaultDomain'] !== undefined ? [set['defaultDomain']] : [])]) {
      await this.#requireDomain(d);
    }
    set['updated'] = now();
    const key = this.keys.vserver(name);
    await this.#run('sadd', (r) => r.sadd(this.keys.vservers, name));
    const pairs = flatten(set);
    await this.#script(UPSERT, key, [pairs.length / 2, ...pairs, ...del]);
    const p = await this.getVserverPolicy(name);
    if (p === null) throw notFound(`virtual server ${name} was deleted meanwhile`);
    return p;
  }

  /** Every stored policy, sorted by name (a record that does not parse is reported as ERR_BAD_RECORD). */
  async listVserverPolicies(): Promise<VserverPolicy[]> {
    const names = await this.#scanSet(this.keys.vservers);
    const hashes = await this.#getAll(names.map((n) => this.keys.vserver(n)));
    const out: VserverPolicy[] = [];
    names.forEach((n, i) => {
      const h = hashes[i] as Record<string, string>;
      if (Object.keys(h).length > 0) out.push(parseVserverPolicy(n, h));
    });
    return out;
  }

  /** Deletes a stored policy (the config file decides again). ERR_NOT_FOUND if none. Access rules are kept. */
  async delVserverPolicy(vserver: string): Promise<void> {
    const name = validateVserverName(vserver);
    const n = await this.#run('del', (r) => r.del(this.keys.vserver(name)));
    await this.#run('srem', (r) => r.srem(this.keys.vservers, name));
    if (n === 0) throw notFound(`virtual server ${name} has no stored policy`);
  }

  // ---- aliases -------------------------------------------------------------------

  /**
   * Adds an alias: mail for `address` is delivered to the local user `target`. The
   * address's domain must exist, the address must not be a user, and the target must be
   * an existing user (one level: an alias never points at another alias or outside).
   */
  async addAlias(rawAddress: string, rawTarget: string): Promise<AliasRecord> {
    const name = this.#userName(rawAddress);
    const target = this.#userName(rawTarget);
    await this.#requireDomain(userDomain(name) ?? '');
    if ((await this.getUser(name)) !== null) throw new DirectoryError('ERR_EXISTS', `${name} is a user; an alias cannot shadow it`);
    if ((await this.getUser(target)) === null) throw notFound(`user ${target} does not exist`);
    const created = now();
    await this.#run('sadd', (r) => r.sadd(this.keys.aliases, name));
    if ((await this.#script(CREATE, this.keys.alias(name), ['target', target, 'created', created])) !== 1) {
      throw new DirectoryError('ERR_EXISTS', `alias ${name} already exists`);
    }
    return { name, target, created };
  }

  /** The alias record, or null. */
  async getAlias(rawAddress: string): Promise<AliasRecord | null> {
    const name = normalizeUserName(rawAddress);
    const h = await this.#run('hgetall', (r) => r.hgetall(this.keys.alias(name)));
    return Object.keys(h).length === 0 ? null : parseAlias(name, h);
  }

  async listAliases(): Promise<AliasRecord[]> {
    const names = await this.#scanSet(this.keys.aliases);
    const hashes = await this.#getAll(names.map((n) => this.keys.alias(n)));
    const out: AliasRecord[] = [];
    names.forEach((n, i) => {
      const h = hashes[i];
      if (h !== undefined && Object.keys(h).length > 0) out.push(parseAlias(n, h));
    });
    return out;
  }

  /** Deletes an alias. ERR_NOT_FOUND if absent. */
  async delAlias(rawAddress: string): Promise<void> {
    const name = normalizeUserName(rawAddress);
    const n = await this.#run('del', (r) => r.del(this.keys.alias(name)));
    await this.#run('srem', (r) => r.srem(this.keys.aliases, name));
    if (n === 0) throw notFound(`alias ${name} does not exist`);
  }

  /** Deletes a domain. ERR_NOT_FOUND if absent; ERR_IN_USE while users of that domain exist. */
  async delDomain(rawName: string): Promise<void> {
    const name = normalizeDomain(rawName);
    if (!(await this.hasDomain(name))) throw notFound(`domain ${name} does not exist`);
    const users = (await this.#scanSet(this.keys.users)).filter((n) => userDomain(n) === name);
    if (users.length > 0) throw new DirectoryError('ERR_IN_USE', `domain ${name} still has ${users.length} user(s)`);
    await this.#run('del', (r) => r.del(this.keys.domain(name)));
    await this.#run('srem', (r) => r.srem(this.keys.domains, name));
  }

  // ---- import --------------------------------------------------------------------

  /**
   * Imports passwd-file entries into one back-end: creates missing users (active, IMAP
   * and POP3 allowed), sets `password` and `backend` of existing ones, and counts the
   * entries that already match. Idempotent; each user is one single-key script, BATCH in
   * flight. Entries with an unknown domain, an unqualified or bad name or a bad hash are
   * skipped and reported in `errors`. Throws ERR_NOT_FOUND if the back-end is unknown.
   */
  async importUsers(entries: readonly PasswdEntry[], options: ImportOptions): Promise<ImportResult> {
    await this.#requireBackend(options.backend);
    const errors: PasswdError[] = [];
    const valid: { name: string; hash: string; line: number }[] = [];
    const domains = new Map<string, boolean>();
    for (const e of entries) {
      try {
        const name = this.#userName(e.user);
        storedHash(e.hash);
        domains.set(userDomain(name) ?? '', false);
        valid.push({ name, hash: e.hash, line: e.line });
      } catch (err) {
        if (!(err instanceof DirectoryError)) throw err;
        errors.push({ line: e.line, code: err.code, message: err.message });
      }
    }
    for (const d of domains.keys()) domains.set(d, await this.hasDomain(d));
    const importable: { name: string; hash: string }[] = [];
    for (const v of valid) {
      const domain = userDomain(v.name) ?? '';
      if (domains.get(domain) === true) importable.push(v);
      else errors.push({ line: v.line, code: 'ERR_NOT_FOUND', message: `domain ${domain} is not in the directory (add it first)` });
    }
    let added = 0;
    let updated = 0;
    let unchanged = 0;
    for (let i = 0; i < importable.length; i += BATCH) {
      const chunk = importable.slice(i, i + BATCH);
      const t = now();
      await this.#run('sadd', (r) => r.sadd(this.keys.users, ...chunk.map((c) => c.name)));
      const results = await Promise.all(chunk.map((c) => this.#script(IMPORT, this.keys.user(c.name), [c.hash, options.backend, t])));
      for (const r of results) {
        if (r === 1) added++;
        else if (r === 2) updated++;
        else unchanged++;
      }
    }
    errors.sort((a, b) => a.line - b.line);
    return { added, updated, unchanged, errors };
  }

  // ---- login ---------------------------------------------------------------------

  /**
   * Decides a login. Never throws for a wrong name or password (see AuthResult); throws
   * ERR_DIRECTORY_UNAVAILABLE when Redis fails and ERR_BAD_HASH / ERR_BAD_RECORD when the
   * stored record is broken.
   *
   * Oracles closed: the password is checked before `disabled` or `no-backend` is revealed,
   * and an unknown user (or one without a local hash) costs one scrypt with the current
   * parameters, like a known one. Remaining timing signal: users whose stored hash is a
   * cheaper legacy scheme answer faster until rehashed (see `rehash`).
   */
  async authenticate(rawUser: string, password: string, opts: AuthenticateOptions = {}): Promise<AuthResult> {
    let name: string;
    try {
      name = normalizeUserName(rawUser, opts.defaultDomain);
    } catch (err) {
      if (err instanceof DirectoryError && err.code === 'ERR_BAD_USERNAME') return { ok: false, reason: 'bad-username' };
      throw err;
    }
    if (opts.domains !== undefined && !opts.domains.includes(userDomain(name) ?? '')) {
      await verifyPassword(password, await getDummyHash());
      return { ok: false, reason: 'unknown-user' };
    }
    const user = await timedLookup('user', this.getUser(name));
    if (user === null) {
      await verifyPassword(password, await getDummyHash());
      return { ok: false, reason: 'unknown-user' };
    }
    const backend = await timedLookup('backend', this.#backendOf(user));
    const withBackend = backend === null ? {} : { backend };
    if (backend !== null && backend.login === 'user') return { ok: false, reason: 'backend-checks-password', user, backend };
    if (user.password === undefined) {
      await verifyPassword(password, await getDummyHash());
      // No hash here means no password can match: a wrong password, whatever else is missing.
      return { ok: false, reason: 'bad-password', user, ...withBackend };
    }
    if (!(await this.#passwordMatches(password, user.password))) return { ok: false, reason: 'bad-password', user, ...withBackend };
    if (user.state !== 'active') return { ok: false, reason: 'disabled', user, ...withBackend };
    if (backend === null) return { ok: false, reason: 'no-backend', user };
    let current = user;
    if (opts.rehash === true && needsRehash(user.password)) {
      try {
        const fresh = await hashPassword(password);
        const t = now();
        if ((await this.#script(REHASH, this.keys.user(name), [user.password, fresh, t])) === 1) {
          current = { ...user, password: fresh, updated: t };
        }
      } catch {
        // Best effort: the login stands; the next one retries.
      }
    }
    return { ok: true, user: current, backend };
  }

  async #passwordMatches(password: string, stored: string): Promise<boolean> {
    if (this.#verified?.has(stored, password) === true) return true;
    const ok = await verifyPassword(password, stored);
    if (ok) this.#verified?.add(stored, password);
    return ok;
  }

  async #backendOf(user: UserRecord): Promise<BackendRecord | null> {
    try {
      validateBackendName(user.backend);
    } catch {
      return null;
    }
    return this.getBackend(user.backend);
  }
}
