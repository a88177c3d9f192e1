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
//
// Domain rules: only when no IP rule matched and the virtual server has domain rules does
// `decide` answer `resolve`; the caller then awaits `decideByName`, which asks the
// forward-confirmed reverse lookup (reverse-dns.ts: bounded time, cached) and decides from
// the names it confirmed. Every other connection is decided synchronously, with no DNS.
import type { Directory } from '@gatehouse/directory';
import { AccessPolicy, type AccessDecision } from '@gatehouse/policy';
import type { Logger } from 'pino';
import { createReverseDns, type ConfirmedNames, type ReverseDns, type ReverseDnsOptions } from './reverse-dns.ts';

export const DEFAULT_ACCESS_REFRESH_MS = 500;

export type GateDecision = AccessDecision | { readonly action: 'unavailable'; readonly rule: null } | { readonly action: 'resolve'; readonly rule: null };

/** A decision after the reverse lookup, with what the DNS said (for the logs). */
export type NamedDecision = Exclude<GateDecision, { readonly action: 'resolve' }> & {
  readonly dns?: Pick<ConfirmedNames, 'status' | 'unconfirmed'>;
};

/** Log fields of a decision: the confirmed name a domain rule matched, the DNS outcome and any unconfirmed (sanitized) PTR names. */
export function decisionLogFields(d: GateDecision | NamedDecision): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if ('name' in d && d.name !== undefined) out['name'] = d.name;
  if ('dns' in d && d.dns !== undefined) {
    out['dns'] = d.dns.status;
    if (d.dns.unconfirmed.length > 0) out['unconfirmedNames'] = d.dns.unconfirmed;
  }
  return out;
}

export interface AccessGate {
  /** The decision from the rules in memory; `unavailable` when none were ever read; `resolve` when the domain rules need the client's names. */
  decide(vserver: string, clientAddress: string): GateDecision;
  /** After `resolve`: the decision from the client's forward-confirmed names (waits at most dns.timeoutMs). Never rejects. */
  decideByName(vserver: string, clientAddress: string): Promise<NamedDecision>;
  /** Re-reads every virtual server's rules now (also done every refreshMs). */
  refresh(): Promise<void>;
  /** The virtual servers to follow from now on (after a config reload); resolves once their rules were read. */
  follow(names: readonly string[]): Promise<void>;
  close(): void;
}

export async function startAccessGate(opts: {
  directory: Directory;
  vservers: string[];
  logger: Logger;
  refreshMs?: number;
  /** The resolver and cache of the domain rules (docs/configuration.md `dns`). */
  dns?: ReverseDnsOptions;
}): Promise<AccessGate> {
  const policies = new Map<string, AccessPolicy>();
  // Created up front so a bad `dns.servers` fails the start, not the first lookup.
  const reverseDns: ReverseDns = createReverseDns(opts.dns);
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
  let followed = [...opts.vservers];
  const refresh = async (): Promise<void> => {
    await Promise.all(followed.map(loadOne));
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
      return policy === undefined ? { action: 'unavailable', rule: null } : policy.checkAddress(clientAddress);
    },
    async decideByName(vserver, clientAddress) {
      const before = policies.get(vserver)?.checkAddress(clientAddress);
      if (before === undefined) return { action: 'unavailable', rule: null };
      if (before.action !== 'resolve') return before;
      const found = await reverseDns.lookup(before.address);
      // The rules in force now: they may have been re-read while the lookup ran.
      const policy = policies.get(vserver);
      if (policy === undefined) return { action: 'unavailable', rule: null };
      const now = policy.checkAddress(clientAddress);
      const decision = now.action === 'resolve' ? policy.decideByNames(found.names) : now;
      return { ...decision, dns: { status: found.status, unconfirmed: found.unconfirmed } };
    },
    refresh,
    follow(names) {
      followed = [...names];
      return refresh();
    },
    close: () => {
      clearInterval(timer);
      reverseDns.close();
    },
  };
}
