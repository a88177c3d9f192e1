// Host names for domain access rules, and the names a reverse lookup returns. Both are
// held to the LDH syntax of host names (RFC 952, RFC 1123 §2.1): labels of 1–63
// letters, digits and hyphens, no hyphen at either end, 253 characters in all without
// the trailing dot. A PTR record is written by whoever owns the client's address block,
// so its content is attacker-chosen: a name with spaces, CR/LF, underscores, escapes or
// over-long labels is refused here and so matches no rule (and is never mistaken for a
// longer or shorter name by a later comparison). Pure: no DNS.

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const MAX_HOST_NAME_CHARS = 253;

/** A pattern of a domain access rule: one name, or every name strictly below a suffix. */
export interface DomainPattern {
  readonly kind: 'exact' | 'wildcard';
  /** The name itself (exact) or the suffix after `*.` (wildcard). */
  readonly name: string;
  /** Labels of `name`: how specific a wildcard is. */
  readonly labels: number;
}

/**
 * The canonical form of a host name (lower-case, one trailing dot dropped), or null if
 * it is not an LDH host name. Used on every name a resolver returns, before any match.
 */
export function normalizeHostName(text: string): string | null {
  if (typeof text !== 'string') return null;
  let name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > MAX_HOST_NAME_CHARS) return null;
  // ASCII only before lower-casing: toLowerCase maps some non-ASCII letters to ASCII
  // (U+212A KELVIN SIGN becomes `k`), which would let a foreign name pass as another.
  if (!/^[A-Za-z0-9.-]+$/.test(name)) return null;
  name = name.toLowerCase();
  for (const label of name.split('.')) if (!LABEL.test(label)) return null;
  return name;
}

/**
 * Parses `host.example.net` or `*.example.net` (case-insensitive, trailing dot allowed);
 * null if invalid. An exact name needs two labels (a fully-qualified host, and never the
 * directory's `default` field), and the last label must hold a letter (RFC 3696 §2: a
 * top-level domain is not all-numeric), so no rule can be read as an IPv4 address.
 */
export function parseDomainPattern(text: string): DomainPattern | null {
  if (typeof text !== 'string') return null;
  const wildcard = text.startsWith('*.');
  const name = normalizeHostName(wildcard ? text.slice(2) : text);
  if (name === null) return null;
  // The rule text as stored is `*.` + name: it too stays within 253 characters.
  if (wildcard && name.length + 2 > MAX_HOST_NAME_CHARS) return null;
  const labels = name.split('.');
  if (!/[a-z]/.test(labels[labels.length - 1] as string)) return null;
  if (!wildcard && labels.length < 2) return null;
  return { kind: wildcard ? 'wildcard' : 'exact', name, labels: labels.length };
}

export function formatDomainPattern(p: DomainPattern): string {
  return p.kind === 'wildcard' ? `*.${p.name}` : p.name;
}
