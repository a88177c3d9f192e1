// The certificates of one virtual server and the choice among them by the name the
// client asks for in its TLS ClientHello (SNI, RFC 6066 §3). One listener can then
// serve several mail domains, each with its own certificate, and a client that sends
// no name (or one we do not know) still gets the default certificate rather than a
// failed handshake: refusing would only break old clients, never protect anyone.
//
// Matching follows RFC 6125 §6.4.3 as clients check it, so the certificate we pick is
// one the client will accept: an exact name first, then a wildcard `*.example.org`
// that stands for exactly one left-most label (`a.example.org`, not `example.org` nor
// `a.b.example.org`). Names compare case-insensitively; a trailing dot is ignored.
//
// It lives here, not in the proxy, because the IMAP/POP3 listeners (@gatehouse/proxy) and
// the LMTP/SMTP ones (@gatehouse/delivery) choose the same way and neither may depend
// on the other.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';

/** One certificate chain and key, and the server names it is chosen for. */
export interface TlsCertificate {
  cert: string | Buffer;
  key: string | Buffer;
  /** Server names (`mail.example.org`, `*.example.org`); absent: the certificate's DNS subjectAltNames (its CN if it has none). */
  names?: readonly string[];
}

/** A virtual server's TLS material: the default certificate and those chosen by SNI. */
export interface VirtualServerTls {
  cert: string | Buffer;
  key: string | Buffer;
  /** More certificates, chosen by the client's SNI name; the first listed wins a name given twice. */
  sni?: readonly TlsCertificate[];
}

/** What the SNI choice found: the context, and the configured name that matched (null: the default). */
export interface SniChoice {
  context: tls.SecureContext;
  matched: string | null;
}

/** Settings every context shares (TLS 1.0/1.1 are deprecated by RFC 8996). */
const BASE_OPTIONS: tls.SecureContextOptions = { minVersion: 'TLSv1.2' };

/** Lower case, one trailing dot removed: the form names are compared in. */
export function normalizeServerName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * The names a certificate answers for: its DNS subjectAltNames, or its subject CN when it
 * has none (RFC 6125 §6.4.4: clients ignore the CN once DNS names are present). An IP
 * address is never a name: SNI carries host names only (RFC 6066 §3).
 */
export function certificateNames(cert: string | Buffer): string[] {
  const x509 = new X509Certificate(cert);
  const dns = dnsAltNames(x509.subjectAltName ?? '');
  if (dns.length > 0) return dns.map(normalizeServerName);
  const cn = x509.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .at(-1)
    ?.slice(3);
  return cn === undefined || cn === '' || isIP(unquote(cn)) !== 0 ? [] : [normalizeServerName(unquote(cn))];
}

/** The secure-context options of the default certificate (a tls.Server's own context). */
export function defaultContextOptions(material: VirtualServerTls): tls.SecureContextOptions {
  return { ...BASE_OPTIONS, cert: material.cert, key: material.key };
}

export class SniContexts {
  readonly defaultContext: tls.SecureContext;
  private readonly exact = new Map<string, SniChoice>();
  /** Keyed by the part after `*.`. */
  private readonly wildcard = new Map<string, SniChoice>();

  /** Throws what tls.createSecureContext throws for a bad pair, and a TypeError for a certificate with no name. */
  constructor(material: VirtualServerTls) {
    this.defaultContext = tls.createSecureContext(defaultContextOptions(material));
    (material.sni ?? []).forEach((entry, i) => {
      const context = tls.createSecureContext({ ...BASE_OPTIONS, cert: entry.cert, key: entry.key });
      const names = entry.names ?? certificateNames(entry.cert);
      if (names.length === 0) throw new TypeError(`SNI certificate ${i} has no DNS name: give it names`);
      for (const raw of names) {
        const name = normalizeServerName(raw);
        const [table, key] = name.startsWith('*.') ? [this.wildcard, name.slice(2)] : [this.exact, name];
        if (!table.has(key)) table.set(key, { context, matched: name });
      }
    });
  }

  /** The certificate for `servername` (as sent by the client); the default when nothing matches. */
  select(servername: string | undefined): SniChoice {
    if (servername === undefined || servername === '') return { context: this.defaultContext, matched: null };
    const name = normalizeServerName(servername);
    const hit = this.exact.get(name);
    if (hit !== undefined) return hit;
    const dot = name.indexOf('.');
    // `*.` covers one whole label: an empty first label (".example.org") is no match.
    const parent = dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined;
    return parent ?? { context: this.defaultContext, matched: null };
  }
}

/**
 * Node prints subjectAltName as `DNS:a, IP Address:127.0.0.1, …`, JSON-quoting a value
 * that holds a delimiter (so a comma inside a name cannot forge a second entry).
 */
function dnsAltNames(text: string): string[] {
  const names: string[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (let m = entry.exec(text); m !== null && text !== ''; m = entry.exec(text)) {
    const [, kind, raw = ''] = m;
    if (kind === 'DNS') names.push(unquote(raw));
    if (entry.lastIndex >= text.length) break;
  }
  return names.filter((n) => n !== '');
}

function unquote(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw;
  }
}
