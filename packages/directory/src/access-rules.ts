/**
 * Storage of the access rules of each virtual server, so that every node sees a change
 * without a restart (docs/access.md). One hash per virtual server,
 * `<prefix>access:<vserver>`: the field `default` holds `grant` or `deny` (absent:
 * `grant`), every other field is a canonical network (`10.0.0.0/8`, `192.0.2.7`,
 * `2001:db8::/32`) whose value is `grant` or `deny`. One key, so every write is one
 * atomic command (HSET/HDEL), Cluster-safe; the rule order is not stored because the
 * matcher (@gatehouse/policy) lets the most specific network win.
 *
 * The directory does not parse networks (that is @gatehouse/policy's job, done by the
 * CLI before writing and by the proxy when compiling); it only keeps field names to a
 * strict character set so nothing else can be written into the hash.
 */
import { DirectoryError } from './directory-error.ts';

export type StoredAccessAction = 'grant' | 'deny';

export interface StoredAccessRules {
  default: StoredAccessAction;
  /** Sorted by network text. */
  rules: Array<{ network: string; action: StoredAccessAction }>;
}

const VSERVER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const NETWORK_TEXT = /^[0-9a-f.:/]{2,60}$/;
export const ACCESS_DEFAULT_FIELD = 'default';

export function validateVserverName(name: string): string {
  if (typeof name !== 'string' || !VSERVER_NAME.test(name)) {
    throw new DirectoryError('ERR_BAD_NAME', 'virtual server names are 1-63 characters of [a-z0-9._-], starting with a letter or digit');
  }
  return name;
}

export function validateAccessAction(action: string): StoredAccessAction {
  if (action !== 'grant' && action !== 'deny') throw new DirectoryError('ERR_BAD_RECORD', 'access action must be grant or deny');
  return action;
}

export function validateNetworkText(network: string): string {
  if (typeof network !== 'string' || !NETWORK_TEXT.test(network)) {
    throw new DirectoryError('ERR_BAD_RECORD', 'access rule network must be a canonical address or network');
  }
  return network;
}

/** Reads a stored hash; fields that are not valid are skipped (a hand-edit cannot widen access by breaking parsing: a broken `default` reads as `deny`). */
export function parseAccessHash(h: Record<string, string>): StoredAccessRules {
  const rawDefault = h[ACCESS_DEFAULT_FIELD];
  const def: StoredAccessAction = rawDefault === undefined || rawDefault === 'grant' ? 'grant' : 'deny';
  const rules: StoredAccessRules['rules'] = [];
  for (const [field, value] of Object.entries(h)) {
    if (field === ACCESS_DEFAULT_FIELD || !NETWORK_TEXT.test(field)) continue;
    if (value !== 'grant' && value !== 'deny') continue;
    rules.push({ network: field, action: value });
  }
  rules.sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
  return { default: def, rules };
}
