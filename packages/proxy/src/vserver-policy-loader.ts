// The live policy of this node's virtual servers: the directory's `gh:vserver:<name>`
// (gatehouse vserver set) merged over what the config file gives. Read like the access
// rules: every `refreshMs` (500 ms) one HGETALL per virtual server, so a change reaches
// every node within a second with no subscription to lose. Sessions read the merged
// VirtualServer each time they need a value, so a new banner, domain list or limit
// applies to the next greeting, login or connection; a running session keeps the timers
// it already armed.
//
// Failure policy: through a directory outage the last policy read stays in force. A
// virtual server whose policy was never read is marked `policyLoaded: false` and its
// logins answer "unavailable" (they need the directory anyway), so a domain restriction
// is never skipped because the node started while Redis was down. A stored record that
// does not parse is treated the same way (ERR_BAD_RECORD, logged once).
import type { Directory, VserverPolicy } from '@gatehouse/directory';
import type { Logger } from 'pino';
import type { VirtualServer } from './virtual-server.ts';

export const DEFAULT_POLICY_REFRESH_MS = 500;

export interface VserverPolicies {
  /** The virtual server as sessions should see it now. */
  effective(base: VirtualServer): VirtualServer;
  /** Re-reads every virtual server's policy now. */
  refresh(): Promise<void>;
  /** The virtual servers to follow (after a config reload). */
  follow(names: readonly string[]): void;
  close(): void;
}

/** The config's virtual server with the stored policy's fields laid over it. */
export function mergePolicy(base: VirtualServer, p: VserverPolicy | null): VirtualServer {
  if (p === null) return { ...base, policyLoaded: true };
  return {
    ...base,
    banner: p.banner ?? base.banner,
    defaultDomain: p.defaultDomain ?? base.defaultDomain,
    limits: {
      ...base.limits,
      authTimeoutMs: p.authTimeoutMs ?? base.limits.authTimeoutMs,
      sessionIdleTimeoutMs: p.idleTimeoutMs ?? base.limits.sessionIdleTimeoutMs,
      maxConnections: p.maxConnections ?? base.limits.maxConnections,
      maxConnectionsPerClient: p.maxConnectionsPerClient ?? base.limits.maxConnectionsPerClient,
    },
    ...(p.domains !== undefined ? { domains: p.domains } : {}),
    protocolDefaults: { imap: p.imap ?? true, pop3: p.pop3 ?? true },
    policyLoaded: true,
  };
}

export async function startVserverPolicies(opts: {
  directory: Directory;
  vservers: readonly string[];
  logger: Logger;
  refreshMs?: number | undefined;
}): Promise<VserverPolicies> {
  let names = [...opts.vservers];
  /** Last policy read per virtual server (null: none stored) and its JSON, to keep merged objects stable. */
  const read = new Map<string, { policy: VserverPolicy | null; json: string }>();
  const failing = new Set<string>();
  const merged = new WeakMap<VirtualServer, { json: string; value: VirtualServer }>();
  let ticking: Promise<void> | null = null;

  const loadOne = async (name: string): Promise<void> => {
    try {
      const policy = await opts.directory.getVserverPolicy(name);
      const json = JSON.stringify(policy);
      if (read.get(name)?.json !== json) {
        read.set(name, { policy, json });
        opts.logger.info({ vserver: name, policy }, 'vserver.policy_loaded');
      }
      failing.delete(name);
    } catch (err) {
      if (!failing.has(name)) opts.logger.warn({ vserver: name, code: (err as { code?: unknown }).code, message: (err as Error).message }, 'vserver.policy_unavailable');
      failing.add(name);
    }
  };
  const refresh = async (): Promise<void> => {
    await Promise.all(names.map(loadOne));
  };
  // As for the access rules: the first read may race the directory's own connection.
  for (let attempt = 0; attempt < 20; attempt++) {
    await refresh();
    if (failing.size === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const timer = setInterval(() => {
    ticking ??= refresh().finally(() => {
      ticking = null;
    });
  }, opts.refreshMs ?? DEFAULT_POLICY_REFRESH_MS);
  timer.unref();

  return {
    effective(base) {
      const r = read.get(base.name);
      if (r === undefined) return base.policyLoaded === false ? base : { ...base, policyLoaded: false };
      const cached = merged.get(base);
      if (cached?.json === r.json) return cached.value;
      const value = mergePolicy(base, r.policy);
      merged.set(base, { json: r.json, value });
      return value;
    },
    refresh,
    follow(next) {
      names = [...next];
      void refresh();
    },
    close: () => clearInterval(timer),
  };
}
