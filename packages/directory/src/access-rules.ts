/**
 * Storage of the access rules of each virtual server, so that every node sees a change
 * without a restart (docs/access.md). One hash per virtual server,
 * `<prefix>access:<vserver>`: the field `default` holds `grant` or `deny` (absent:
 * `grant`), every other field is a rule whose value is `grant` or `deny`: either a
 * canonical network (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`) or a domain pattern
 * (`mail.example.net`, `*.example.net`). One key, so every write is one atomic command
 * (HSET/HDEL), Cluster-safe; the rule order is not stored because the matcher
 * (@gatehouse/policy) lets the most specific rule win.
 *
 * The directory does not parse networks (that is @gatehouse/policy's job, done by the
 * CLI before writing and by the proxy when compiling); it only keeps field names to a
 * strict character set so nothing else can be written into the hash, and tells the two
 * kinds apart by shape: a domain pattern has a letter in its last label and no `:` or
 * `/`, which no canonical network has (IPv4 is all digits, IPv6 has colons).
 */
import { DirectoryError } from './directory-error.ts';

export type StoredAccessAction = 'grant' | 'deny';

export interface StoredAccessRules {
  default: StoredAccessAction;
  /** Sorted by network text. */
  rules: Array<{ network: string; action: StoredAccessAction }>;
  /** Domain rules (`host.example.net`, `*.example.net`), sorted by pattern text. */
  domains: Array<{ domain: string; action: StoredAccessAction }>;
}

const VSERVER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const NETWORK_TEXT = /^[0-9a-f.:/]{2,60}$/;
// The canonical domain pattern (@gatehouse/policy parseDomainPattern): LDH labels,
// lower-case, an optional leading `*.`, at least two labels for an exact name, a letter
// in the last label; 253 characters at most (checked apart).
const LDH_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const LAST_LABEL = '(?=[a-z0-9-]*[a-z])[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN_TEXT = new RegExp(`^(?:\\*\\.(?:${LDH_LABEL}\\.)*|(?:${LDH_LABEL}\\.)+)${LAST_LABEL}$`);
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

export function isDomainRuleText(field: string): boolean {
  return typeof field === 'string' && field.length <= 253 && DOMAIN_TEXT.test(field);
}

/** A rule's field as stored: a canonical network or a canonical domain pattern. */
export function validateAccessRuleField(rule: string): string {
  if (isDomainRuleText(rule)) return rule;
  if (typeof rule !== 'string' || !NETWORK_TEXT.test(rule)) {
    throw new DirectoryError('ERR_BAD_RECORD', 'access rule must be a canonical address, network or domain pattern');
  }
  return rule;
}

/** Reads a stored hash; fields that are not valid are skipped (a hand-edit cannot widen access by breaking parsing: a broken `default` reads as `deny`). */
export function parseAccessHash(h: Record<string, string>): StoredAccessRules {
  const rawDefault = h[ACCESS_DEFAULT_FIELD];
  const def: StoredAccessAction = rawDefault === undefined || rawDefault === 'grant' ? 'grant' : 'deny';
  const rules: StoredAccessRules['rules'] = [];
  const domains: StoredAccessRules['domains'] = [];
  for (const [field, value] of Object.entries(h)) {
    if (field === ACCESS_DEFAULT_FIELD || (value !== 'grant' && value !== 'deny')) continue;
    if (isDomainRuleText(field)) domains.push({ domain: field, action: value });
    else if (NETWORK_TEXT.test(field)) rules.push({ network: field, action: value });
  }
  rules.sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
  domains.sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  return { default: def, rules, domains };
}
