// The access rules of one virtual server, compiled for matching client addresses at
// accept time. Pure: the rules come from the directory (`Directory.getAccessRules`),
// the address from the accepted socket or a PROXY header, the host names from the
// proxy's forward-confirmed reverse lookup; nothing here does I/O.
//
// Order of evaluation (docs/access.md):
//   1. The client address is normalized once (IPv4-mapped IPv6 → IPv4, zone dropped).
//   2. IP rules: the most specific matching rule wins, the longest prefix (a single
//      address is /32 or /128). Each network has one action, so there are no ties. When
//      one matches, no DNS is done at all (`checkAddress` decides).
//   3. Domain rules, only if the virtual server has some: `checkAddress` answers
//      `resolve`, the caller finds the names of the address that are confirmed forward
//      (PTR, then A/AAAA containing the address) and `decideByNames` matches them: an
//      exact name beats any wildcard, a wildcard with more labels beats one with fewer,
//      and on a tie between two names of the client (two PTR records) `deny` wins.
//      No confirmed name (no PTR, forged PTR, timeout, hostile name) matches nothing.
//   4. No rule matches (or the address cannot be parsed): the default applies —
//      `grant` (grant all except the deny rules) or `deny` (deny all except the grants).
// Longest-prefix-wins means the answer never depends on the order rules were added in, and
// "deny 10.0.0.0/8, grant 10.1.2.3" does what an operator means. IP rules go first
// because they cost nothing and cannot be spoofed by whoever controls the reverse zone.
import { formatDomainPattern, normalizeHostName, parseDomainPattern } from './domain-name.ts';
import { formatIp, formatNetwork, networkContains, parseClientAddress, parseNetwork, type IpNetwork } from './ip-address.ts';
import { PolicyError } from './policy-error.ts';

export const ACCESS_ACTIONS = ['grant', 'deny'] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

/** What the directory stores: the default, one action per canonical network and per domain pattern. */
export interface AccessRuleSet {
  readonly default: AccessAction;
  readonly rules: ReadonlyArray<{ readonly network: string; readonly action: AccessAction }>;
  /** `host.example.net` or `*.example.net` (absent: none). */
  readonly domains?: ReadonlyArray<{ readonly domain: string; readonly action: AccessAction }>;
}

export interface AccessDecision {
  readonly action: AccessAction;
  /** The canonical network or domain pattern of the rule that decided, or null when the default did. */
  readonly rule: string | null;
  /** The forward-confirmed host name a domain rule matched. */
  readonly name?: string;
}

/** `checkAddress` could not decide from the address alone: the domain rules need the client's confirmed names. */
export interface NeedsNames {
  readonly action: 'resolve';
  readonly rule: null;
  /** The client address in canonical text (mapped IPv4 unwrapped), to look up. */
  readonly address: string;
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

/** Canonical form of a domain rule, `host.example.net` or `*.example.net` (lower-case, no trailing dot); throws ERR_BAD_ACCESS_RULE. */
export function canonicalDomainRule(text: string): string {
  const p = parseDomainPattern(text);
  if (p === null) throw new PolicyError('ERR_BAD_ACCESS_RULE', `not a host name or *.domain: ${JSON.stringify(text.slice(0, 60))}`);
  return formatDomainPattern(p);
}

/**
 * Reads the target of `gatehouse access add … grant|deny TARGET`: a domain rule when it
 * has the shape of one (letters in its last label, no `:` or `/`), an address or network
 * otherwise. Throws ERR_BAD_ACCESS_RULE.
 */
export function canonicalAccessRule(text: string): { readonly network: string } | { readonly domain: string } {
  if (typeof text === 'string' && !/[:/]/.test(text) && /[a-zA-Z*]/.test(text)) return { domain: canonicalDomainRule(text) };
  return { network: canonicalNetwork(text) };
}

export class AccessPolicy {
  readonly default: AccessAction;
  /** Most specific first. */
  readonly #rules: Array<{ net: IpNetwork; text: string; action: AccessAction }>;
  readonly #exact = new Map<string, AccessAction>();
  /** Keyed by the suffix after `*.`. */
  readonly #wildcards = new Map<string, AccessAction>();

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
    for (const r of set.domains ?? []) {
      const p = parseDomainPattern(r.domain);
      if (p === null || !isAccessAction(r.action)) {
        throw new PolicyError('ERR_BAD_ACCESS_RULE', `bad rule: ${JSON.stringify(`${String(r.action)} ${r.domain}`.slice(0, 80))}`);
      }
      (p.kind === 'exact' ? this.#exact : this.#wildcards).set(p.name, r.action);
    }
  }

  get size(): number {
    return this.#rules.length + this.#exact.size + this.#wildcards.size;
  }

  get hasDomainRules(): boolean {
    return this.#exact.size + this.#wildcards.size > 0;
  }

  /**
   * The decision from the IP rules and the default only, as if the client had no
   * confirmed name. For rule sets without domain rules (trusted proxies, per-user
   * networks) this is the whole answer; the accept path uses `checkAddress`.
   */
  evaluate(clientAddress: string): AccessDecision {
    const d = this.checkAddress(clientAddress);
    return d.action === 'resolve' ? { action: this.default, rule: null } : d;
  }

  /** Steps 1–2 (and 4 when there are no domain rules): a decision, or `resolve` when the client's names are needed. */
  checkAddress(clientAddress: string): AccessDecision | NeedsNames {
    const addr = parseClientAddress(clientAddress);
    if (addr === null) return { action: this.default, rule: null };
    for (const r of this.#rules) if (networkContains(r.net, addr)) return { action: r.action, rule: r.text };
    if (!this.hasDomainRules) return { action: this.default, rule: null };
    return { action: 'resolve', rule: null, address: formatIp(addr) };
  }

  /**
   * Steps 3–4, from the client's forward-confirmed names (the caller confirmed them; a
   * name that is not an LDH host name is skipped here too). The most specific match
   * across all names decides: exact, then the wildcard with the most labels; `deny` on a tie.
   */
  decideByNames(confirmedNames: readonly string[]): AccessDecision {
    let best: { rank: number; decision: AccessDecision } | null = null;
    for (const raw of confirmedNames) {
      const name = normalizeHostName(raw);
      if (name === null) continue;
      const m = this.#match(name);
      if (m === null) continue;
      if (best === null || m.rank > best.rank || (m.rank === best.rank && m.decision.action === 'deny')) best = m;
    }
    return best?.decision ?? { action: this.default, rule: null };
  }

  /** The most specific rule for one name; rank: exact above every wildcard, then labels of the suffix. */
  #match(name: string): { rank: number; decision: AccessDecision } | null {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return { rank: Number.MAX_SAFE_INTEGER, decision: { action: exact, rule: name, name } };
    const labels = name.split('.');
    // Longest suffix first, excluding the name itself: `*.example.net` is strictly below.
    for (let i = 1; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      const action = this.#wildcards.get(suffix);
      if (action !== undefined) return { rank: labels.length - i, decision: { action, rule: `*.${suffix}`, name } };
    }
    return null;
  }
}
