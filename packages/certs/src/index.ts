// @gatehouse/certs: issue self-signed certificates, validate PEM pairs, and choose a
// virtual server's certificate by the client's SNI name.
export { generateSelfSigned } from './self-signed.ts';
export type { SelfSignedOptions, PemPair } from './self-signed.ts';
export { loadPemPair } from './pem-pair.ts';
export type { PemPairInfo } from './pem-pair.ts';
export { CertError, CertErrorCode } from './cert-error.ts';
export { SniContexts, certificateNames, defaultContextOptions, normalizeServerName, type SniChoice, type TlsCertificate, type VirtualServerTls } from './sni-contexts.ts';
