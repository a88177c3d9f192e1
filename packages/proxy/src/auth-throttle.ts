// The tier-wide limit on failed logins per client address (IPv6: per /64), over the
// counters of @gatehouse/directory's AuthFailures. The sessions ask before a password is
// checked (a throttled address costs no scrypt and learns nothing about the account) and
// report each wrong-credentials failure. Per address only: a per-user lockout would let
// anyone lock a victim out (docs/security.md).
//
// Fail open: the counters live in the directory's Redis, which the login needs anyway;
// if it cannot count, the login goes on to the directory (which then answers for itself).
import { AuthFailures, type ClientIp, type Directory } from '@gatehouse/directory';
import { AccessPolicy, parseClientAddress } from '@gatehouse/policy';
import type { Logger } from 'pino';
import { errInfo } from './login-decision.ts';

export interface AuthThrottleOptions {
  /** Failed logins from one address in a window before its logins are refused (0: off). */
  readonly maxFailures: number;
  /** The window, from its first failure. */
  readonly windowMs: number;
  /** Networks never counted nor throttled (a webmail host, an office behind one NAT). */
  readonly exempt: readonly string[];
}

/** 20 wrong passwords in 10 minutes: far beyond a user's typos, far below a dictionary. */
export const defaultAuthThrottle: Readonly<AuthThrottleOptions> = Object.freeze({ maxFailures: 20, windowMs: 600_000, exempt: Object.freeze([]) });

export class AuthThrottle {
  readonly options: Readonly<AuthThrottleOptions>;
  readonly #counters: AuthFailures;
  readonly #exempt: AccessPolicy | null;
  readonly #log: Logger;
  /** Set while Redis fails, so an outage is logged once, not at every login. */
  #down = false;

  /** Throws PolicyError for an exempt network that does not parse. */
  constructor(directory: Directory, options: AuthThrottleOptions, log: Logger) {
    this.options = Object.freeze({ ...options, exempt: Object.freeze([...options.exempt]) });
    this.#counters = new AuthFailures({ redis: directory.redis, keys: directory.keys });
    this.#exempt =
      options.exempt.length === 0
        ? null
        : new AccessPolicy({ default: 'deny', rules: options.exempt.map((network) => ({ network, action: 'grant' as const })) });
    this.#log = log;
  }

  /** The window's failures when `address` may not log in now; null when it may. */
  async check(address: string): Promise<number | null> {
    const ip = this.#counted(address);
    if (ip === null) return null;
    try {
      const failures = await this.#counters.count(ip);
      this.#up();
      return failures >= this.options.maxFailures ? failures : null;
    } catch (err) {
      this.#failed(err);
      return null;
    }
  }

  /** Counts one failed login (wrong credentials only) from `address`. Never throws. */
  async fail(address: string): Promise<void> {
    const ip = this.#counted(address);
    if (ip === null) return;
    try {
      await this.#counters.fail(ip, this.options.windowMs);
      this.#up();
    } catch (err) {
      this.#failed(err);
    }
  }

  #counted(address: string): ClientIp | null {
    if (this.options.maxFailures <= 0) return null;
    const ip = parseClientAddress(address);
    if (ip === null) return null;
    if (this.#exempt !== null && this.#exempt.evaluate(address).action === 'grant') return null;
    return ip;
  }

  #failed(err: unknown): void {
    if (this.#down) return;
    this.#down = true;
    this.#log.error({ error: errInfo(err) }, 'auth.throttle_unavailable');
  }

  #up(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#log.info('auth.throttle_available');
  }
}
