// Checks a certificate and private key before a listener serves them, so a wrong
// file is reported at start-up ("key does not match certificate") rather than as a
// handshake failure on the first client. Parsing uses node:crypto (OpenSSL), so RSA,
// EC and Ed25519 certificates are all understood. Expiry is reported, not enforced:
// the caller decides whether an expired certificate is fatal or only a warning.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { CertError, CertErrorCode } from './cert-error.ts';

export type PemPairInfo = {
  notAfter: Date;
  subjectCN: string;
  /** subjectAltName DNS names and IP addresses, in certificate order. */
  altNames: string[];
};

export function loadPemPair(certPem: string, keyPem: string): PemPairInfo {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw invalid('certificate is not a valid PEM X.509 certificate', err);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw invalid('private key is not a valid PEM private key (or is encrypted)', err);
  }
  if (!cert.checkPrivateKey(key)) {
    throw invalid(`private key does not match certificate (subject ${oneLine(cert.subject)})`);
  }
  return {
    notAfter: cert.validToDate,
    subjectCN: subjectCommonName(cert.subject),
    altNames: parseSubjectAltName(cert.subjectAltName ?? ''),
  };
}

function invalid(message: string, cause?: unknown): CertError {
  return new CertError(CertErrorCode.CERT_INVALID, message, cause === undefined ? undefined : { cause });
}

function oneLine(subject: string): string {
  return subject.split('\n').join(', ');
}

/** Node prints the subject one `KEY=value` per line, the most specific CN last. */
function subjectCommonName(subject: string): string {
  const lines = subject.split('\n').filter((line) => line.startsWith('CN='));
  return decodeValue(lines.at(-1)?.slice(3) ?? '');
}

/**
 * Node formats subjectAltName as `DNS:a, IP Address:127.0.0.1, …`, JSON-quoting any
 * value that contains a delimiter (so a comma inside a name cannot forge an entry).
 */
export function parseSubjectAltName(text: string): string[] {
  const names: string[] = [];
  const entry = /(DNS|IP Address|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (let m = entry.exec(text); m !== null && text !== ''; m = entry.exec(text)) {
    const [, kind, raw = ''] = m;
    if (kind === 'DNS' || kind === 'IP Address') names.push(decodeValue(raw));
    if (entry.lastIndex >= text.length) break;
  }
  return names;
}

function decodeValue(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw;
  }
}
