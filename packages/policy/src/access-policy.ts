// The access rules of one virtual server, compiled for matching client addresses at
// accept time. Pure: the rules come from the directory (`Directory.getAccessRules`),
// the address from the accepted socket or a PROXY header; nothing here does I/O.
//
// Order of evaluation (docs/access.md):
//   1. The client address is normalized once (IPv4-mapped IPv6 → IPv4, zone dropped).
//   2. The most specific matching rule wins: the longest prefix (a single address is
//      /32 or /128). Each network has one action, so there are no ties.
//   3. No rule matches (or the address cannot be parsed): the default applies —
//      `grant` (grant all except the deny rules) or `deny` (deny all except the grants).
// Longest-prefix-wins means the answer never depends on the order rules were added in, and
// "deny 10.0.0.0/8, grant 10.1.2.3" does what an operator means.
import { formatNetwork, networkContains, parseClientAddress, parseNetwork, type IpNetwork } from './ip-address.ts';
import { PolicyError } from './policy-error.ts';

export const ACCESS_ACTIONS = ['grant', 'deny'] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

/** What the directory stores: the default and one action per canonical network. */
export interface AccessRuleSet {
  readonly default: AccessAction;
  readonly rules: ReadonlyArray<{ readonly network: string; readonly action: AccessAction }>;
}

export interface AccessDecision {
  readonly action: AccessAction;
  /** The canonical network of the rule that decided, or null when the default did. */
  readonly rule: string | null;
}

export const GRANT_ALL: AccessRuleSet = Object.freeze({ default: 'grant', rules: Object.freeze([]) });

export function isAccessAction(v: unknown): v is AccessAction {
  return v === 'grant' || v === 'deny';
}

/** Canonical form of a rule's `ADDR[/LEN|/MASK]`; throws ERR_BAD_ACCESS_RULE. */
export function canonicalNetwork(text: string): string {
  const net = parseNetwork(text);
  if (net === null) throw new PolicyError('ERR_BAD_ACCESS_RULE', `not an IP address or network: ${JSON.stringify(text.slice(0, 60))}`);
  return formatNetwork(net);
}

export class AccessPolicy {
  readonly default: AccessAction;
  /** Most specific first. */
  readonly #rules: Array<{ net: IpNetwork; text: string; action: AccessAction }>;

  constructor(set: AccessRuleSet) {
    if (!isAccessAction(set.default)) throw new PolicyError('ERR_BAD_ACCESS_RULE', 'default must be grant or deny');
    this.default = set.default;
    this.#rules = set.rules.map((r) => {
      const net = parseNetwork(r.network);
      if (net === null || !isAccessAction(r.action)) {
        throw new PolicyError('ERR_BAD_ACCESS_RULE', `bad rule: ${JSON.stringify(`${String(r.action)} ${r.network}`.slice(0, 80))}`);
      }
      return { net, text: formatNetwork(net), action: r.action };
    });
    this.#rules.sort((a, b) => b.net.prefixLength - a.net.prefixLength);
  }

  get size(): number {
    return this.#rules.length;
  }

  /** The decision for a client address as the socket (or a PROXY header) gave it. */
  evaluate(clientAddress: string): AccessDecision {
    const addr = parseClientAddress(clientAddress);
    if (addr !== null) {
      for (const r of this.#rules) if (networkContains(r.net, addr)) return { action: r.action, rule: r.text };
    }
    return { action: this.default, rule: null };
  }
}
