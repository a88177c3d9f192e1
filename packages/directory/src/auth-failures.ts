/**
 * Failed logins per client address across the whole tier, in the directory's Redis: the
 * per-connection limits (maxAuthFailures) stop a guesser on one socket, these counters
 * stop one that reconnects, on any node.
 *
 * Schema (prefix `gh:` by default; docs/directory.md#failed-logins):
 *
 *   gh:authfail:<part>   string   failed logins in the current window, PEXPIRE windowMs
 *
 * `<part>` is an IPv4 address (`192.0.2.7`) or the /64 of an IPv6 address written as
 * four hex groups joined with `-` (`2001-db8-0-1`): an IPv6 client usually holds a whole
 * /64, so counting single addresses would give it 2^64 fresh counters. The part is built
 * from a parsed address (family and number), never from client bytes, and holds no `:`.
 *
 * The window is fixed, not sliding: the key expires windowMs after the first failure of
 * the window (one-key Lua script, so INCR and its expiry are atomic and a crash cannot
 * leave a counter that never expires). Every command touches one key (Redis Cluster
 * safe); only list() scans, for the CLI.
 *
 * Deliberately no per-user counter: it would let anyone lock a victim out by failing
 * logins with the victim's name (docs/security.md).
 */
import type { Cluster, Redis } from 'ioredis';
import { DirectoryError } from './directory-error.ts';
import type { DirectoryKeys } from './keys.ts';

/** A parsed client address (the shape of @gatehouse/policy's IpAddress). */
export interface ClientIp {
  readonly family: 4 | 6;
  /** 32 bits for IPv4, 128 for IPv6. */
  readonly value: bigint;
}

export interface AuthFailureEntry {
  /** The counted address (`192.0.2.7`) or IPv6 network (`2001:db8:0:1::/64`). */
  readonly client: string;
  readonly failures: number;
  /** Until the window ends and the counter is gone (-1: no expiry, which fail() never leaves). */
  readonly expiresInMs: number;
}

export interface AuthFailuresOptions {
  readonly redis: Redis | Cluster;
  readonly keys: DirectoryKeys;
}

// INCR, then the window's expiry if the key has none (it was just created); PTTL instead
// of `PEXPIRE NX` also repairs a key some other writer left without a TTL.
const FAIL_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

const V4_PART = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const V6_PART = /^[0-9a-f]{1,4}(?:-[0-9a-f]{1,4}){3}$/;
const SCAN_COUNT = 1000;

/** The key part of a client address: the IPv4 address, or the IPv6 /64 as `a-b-c-d`. */
export function authFailureKeyPart(ip: ClientIp): string {
  if (ip.family === 4 && ip.value >= 0n && ip.value < 1n << 32n) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  if (ip.family === 6 && ip.value >= 0n && ip.value < 1n << 128n) {
    return [112n, 96n, 80n, 64n].map((s) => ((ip.value >> s) & 0xffffn).toString(16)).join('-');
  }
  throw new DirectoryError('ERR_BAD_NAME', 'not an IPv4 or IPv6 address');
}

/** What a key part stands for, as people write it; null for a key this module did not write. */
export function authFailureClient(part: string): string | null {
  if (V4_PART.test(part)) return part;
  if (V6_PART.test(part)) return `${part.replaceAll('-', ':')}::/64`;
  return null;
}

interface Commands {
  eval(script: string, numKeys: number, key: string, arg: number): Promise<unknown>;
  get(key: string): Promise<string | null>;
  pttl(key: string): Promise<number>;
  del(key: string): Promise<number>;
}

export class AuthFailures {
  readonly keys: DirectoryKeys;
  readonly redis: Redis | Cluster;
  readonly #r: Commands;

  constructor(opts: AuthFailuresOptions) {
    this.redis = opts.redis;
    this.keys = opts.keys;
    this.#r = opts.redis as unknown as Commands;
  }

  /** Failed logins from this address (its /64 for IPv6) in the current window. */
  async count(ip: ClientIp): Promise<number> {
    const part = authFailureKeyPart(ip);
    try {
      return toCount(await this.#r.get(this.keys.authFailures(part)));
    } catch (err) {
      throw unavailable(err, part);
    }
  }

  /** Counts one failed login; resolves to the window's count including it. */
  async fail(ip: ClientIp, windowMs: number): Promise<number> {
    if (!Number.isInteger(windowMs) || windowMs < 1) throw new DirectoryError('ERR_BAD_RECORD', 'windowMs must be a positive integer');
    const part = authFailureKeyPart(ip);
    try {
      return toCount(await this.#r.eval(FAIL_SCRIPT, 1, this.keys.authFailures(part), windowMs));
    } catch (err) {
      throw unavailable(err, part);
    }
  }

  /** Forgets the address's failures; false when there were none. */
  async clear(ip: ClientIp): Promise<boolean> {
    const part = authFailureKeyPart(ip);
    try {
      return (await this.#r.del(this.keys.authFailures(part))) > 0;
    } catch (err) {
      throw unavailable(err, part);
    }
  }

  /**
   * Every counter, most failures first. SCANs the whole keyspace of each Redis (of every
   * master of a Cluster) for the prefix: O(all keys), for an operator's command, never
   * for a client's path.
   */
  async list(): Promise<AuthFailureEntry[]> {
    const out: AuthFailureEntry[] = [];
    try {
      const servers: Redis[] = 'isCluster' in this.redis && this.redis.isCluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis];
      const keys = new Set<string>();
      for (const server of servers) {
        let cursor = '0';
        do {
          const [next, found] = await server.scan(cursor, 'MATCH', this.keys.authFailuresPattern, 'COUNT', SCAN_COUNT);
          cursor = next;
          for (const k of found) keys.add(k);
        } while (cursor !== '0');
      }
      const start = this.keys.authFailures('').length;
      for (const key of keys) {
        const client = authFailureClient(key.slice(start));
        if (client === null) continue;
        const [value, ttl] = await Promise.all([this.#r.get(key), this.#r.pttl(key)]);
        // Gone between SCAN and GET: the window ended.
        if (value === null || ttl === -2) continue;
        out.push({ client, failures: toCount(value), expiresInMs: ttl });
      }
    } catch (err) {
      throw unavailable(err, 'list');
    }
    return out.sort((a, b) => b.failures - a.failures || (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
  }
}

function toCount(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

function unavailable(err: unknown, what: string): DirectoryError {
  if (err instanceof DirectoryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DirectoryError('ERR_DIRECTORY_UNAVAILABLE', `failed logins of ${what}: directory unavailable (${message})`, { cause: err });
}
