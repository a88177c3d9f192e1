// Makes a self-signed server certificate for tests, development listeners and first
// start-up (before an operator installs a real one). The key comes from node:crypto
// (OpenSSL, fast); node-forge only assembles and signs the X.509 structure, because
// Node can parse certificates but not issue them.
//
// The certificate is its own trust anchor, so it is shaped to pass strict verifiers
// (OpenSSL 3 with X509_V_FLAG_X509_STRICT, as Python 3.13 sets by default):
// basicConstraints CA:TRUE (critical) with keyCertSign, subject and authority key
// identifiers, serverAuth, and every name in subjectAltName, since RFC 6125 §6.4.4
// clients ignore the CN once SANs are present.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export type SelfSignedOptions = {
  /** Subject and issuer CN; also added to subjectAltName. */
  commonName: string;
  /** DNS names and IP addresses (v4 or v6) for subjectAltName. */
  altNames?: string[];
  /** Validity in days from now; default 365. */
  days?: number;
};

export type PemPair = { certPem: string; keyPem: string };

const DAY_MS = 86_400_000;
/** Back-date notBefore so a peer whose clock is a little behind still accepts it. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** X.509 GeneralName tags (RFC 5280 §4.2.1.6). */
const SAN_DNS = 2;
const SAN_IP = 7;

export function generateSelfSigned(opts: SelfSignedOptions): PemPair {
  const days = opts.days ?? 365;
  if (opts.commonName === '') throw new TypeError('commonName must not be empty');
  if (!Number.isFinite(days) || days <= 0) throw new TypeError('days must be a positive number');

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spkiPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spkiPem);
  cert.serialNumber = serialHex();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
  const dn = [{ shortName: 'CN', value: opts.commonName }];
  cert.setSubject(dn);
  cert.setIssuer(dn);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: sanEntries(opts.commonName, opts.altNames ?? []) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
  ]);
  // forge's RSA key type is needed for signing; the PEM round-trip is the cheap bridge.
  const signingKey = forge.pki.privateKeyFromPem(
    privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  );
  cert.sign(signingKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A positive 128-bit serial (the high bit clear so DER does not read it as negative). */
function serialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

type SanEntry = { type: typeof SAN_DNS; value: string } | { type: typeof SAN_IP; ip: string };

function sanEntries(commonName: string, altNames: string[]): SanEntry[] {
  const seen = new Set<string>();
  const out: SanEntry[] = [];
  for (const name of [commonName, ...altNames]) {
    const key = name.toLowerCase();
    if (name === '' || seen.has(key)) continue;
    seen.add(key);
    out.push(isIP(name) === 0 ? { type: SAN_DNS, value: name } : { type: SAN_IP, ip: name });
  }
  return out;
}
