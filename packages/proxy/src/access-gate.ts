// The access rules of this node's virtual servers, kept in memory and checked at accept
// time before a session exists (docs/access.md). The rules live in the directory so that
// `gatehouse access add` on any host changes every node; each node re-reads them every
// `refreshMs` (500 ms: one HGETALL per virtual server, so a change reaches every running
// node within a second, with no pub/sub subscription to lose). The check itself is a
// synchronous lookup in the compiled AccessPolicy: the accept path never waits for Redis.
//
// Failure policy: while the directory is unreachable the node keeps the rules it last
// read. A virtual server whose rules were never read (the node started with the
// directory down) refuses connections (`unavailable`) rather than guessing: access rules
// fail closed. A stored rule set that does not compile is treated the same way.
import type { Directory } from '@gatehouse/directory';
import { AccessPolicy, type AccessDecision } from '@gatehouse/policy';
import type { Logger } from 'pino';

export const DEFAULT_ACCESS_REFRESH_MS = 500;

export type GateDecision = AccessDecision | { readonly action: 'unavailable'; readonly rule: null };

export interface AccessGate {
  /** The decision from the rules in memory; `unavailable` when none were ever read. */
  decide(vserver: string, clientAddress: string): GateDecision;
  /** Re-reads every virtual server's rules now (also done every refreshMs). */
  refresh(): Promise<void>;
  close(): void;
}

export async function startAccessGate(opts: { directory: Directory; vservers: string[]; logger: Logger; refreshMs?: number }): Promise<AccessGate> {
  const policies = new Map<string, AccessPolicy>();
  const failing = new Set<string>();
  // Reads may overlap (the timer and an explicit refresh): a read applies only if it
  // started after the one that last applied, so an older answer never replaces a newer.
  let started = 0;
  const applied = new Map<string, number>();
  let ticking: Promise<void> | null = null;

  const loadOne = async (name: string): Promise<void> => {
    const seq = ++started;
    try {
      const policy = new AccessPolicy(await opts.directory.getAccessRules(name));
      if ((applied.get(name) ?? 0) > seq) return;
      applied.set(name, seq);
      policies.set(name, policy);
      if (failing.delete(name)) opts.logger.info({ vserver: name, rules: policy.size, default: policy.default }, 'access.rules_loaded');
    } catch (err) {
      // Logged once per failure streak, not every 500 ms. The last rules read stay in force.
      if (!failing.has(name)) opts.logger.warn({ vserver: name, code: (err as { code?: unknown }).code, message: (err as Error).message }, 'access.rules_unavailable');
      failing.add(name);
    }
  };
  const refresh = async (): Promise<void> => {
    await Promise.all(opts.vservers.map(loadOne));
  };
  const tick = (): void => {
    ticking ??= refresh().finally(() => {
      ticking = null;
    });
  };

  // The first read may race the directory's own connection (no offline queue): retry for
  // up to about 2 s before the listeners open, so a healthy start never refuses anyone.
  for (let attempt = 0; attempt < 20; attempt++) {
    await refresh();
    if (failing.size === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const timer = setInterval(tick, opts.refreshMs ?? DEFAULT_ACCESS_REFRESH_MS);
  timer.unref();

  return {
    decide(vserver, clientAddress) {
      const policy = policies.get(vserver);
      return policy === undefined ? { action: 'unavailable', rule: null } : policy.evaluate(clientAddress);
    },
    refresh,
    close: () => clearInterval(timer),
  };
}
