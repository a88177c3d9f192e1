/**
 * Remembers for a few minutes that a password matched a stored hash, so that clients
 * which reconnect all the time (one IMAP connection per folder, IDLE restarts, phones
 * waking up) do not pay the deliberately slow hash on every login: with scrypt at
 * ln=15 a node verifies only tens of passwords per second per core. Dovecot's
 * auth_cache does the same job.
 *
 * What is kept cannot be reversed or replayed: each entry is an HMAC-SHA256, under a key
 * drawn at random per process, of the stored hash and the password. A changed password
 * (a new stored hash) misses by construction; account state, back-end and every other
 * rule are still read from the directory on each login. Only successes are cached, so a
 * wrong password always costs the full hash. Nothing crosses nodes: it is a cache, not
 * state, and losing it costs only time.
 */
import { createHmac, randomBytes } from 'node:crypto';

export interface VerifiedPasswordCacheOptions {
  /** How long a verified password is trusted without re-hashing. */
  ttlMs: number;
  /** Entries kept; the least recently used go first. */
  maxEntries: number;
}

export const DEFAULT_VERIFIED_PASSWORD_CACHE: Readonly<VerifiedPasswordCacheOptions> = Object.freeze({
  ttlMs: 5 * 60_000,
  maxEntries: 10_000,
});

export class VerifiedPasswordCache {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly #key = randomBytes(32);
  /** Insertion order is recency order: a hit is re-inserted at the end. */
  readonly #expiries = new Map<string, number>();

  constructor(options: VerifiedPasswordCacheOptions = DEFAULT_VERIFIED_PASSWORD_CACHE) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
  }

  get size(): number {
    return this.#expiries.size;
  }

  has(storedHash: string, password: string, nowMs = Date.now()): boolean {
    const id = this.#id(storedHash, password);
    const expiry = this.#expiries.get(id);
    if (expiry === undefined) return false;
    this.#expiries.delete(id);
    if (expiry <= nowMs) return false;
    this.#expiries.set(id, expiry);
    return true;
  }

  add(storedHash: string, password: string, nowMs = Date.now()): void {
    if (this.maxEntries <= 0 || this.ttlMs <= 0) return;
    const id = this.#id(storedHash, password);
    this.#expiries.delete(id);
    this.#expiries.set(id, nowMs + this.ttlMs);
    while (this.#expiries.size > this.maxEntries) {
      const oldest = this.#expiries.keys().next();
      if (oldest.done === true) break;
      this.#expiries.delete(oldest.value);
    }
  }

  clear(): void {
    this.#expiries.clear();
  }

  #id(storedHash: string, password: string): string {
    // Length-prefixed so that no (hash, password) pair can collide with another by shifting bytes.
    return createHmac('sha256', this.#key).update(`${storedHash.length}:${storedHash}\0`).update(password, 'utf8').digest('base64');
  }
}
