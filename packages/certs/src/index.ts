// @gatehouse/certs: issue self-signed certificates and validate PEM pairs.
export { generateSelfSigned } from './self-signed.ts';
export type { SelfSignedOptions, PemPair } from './self-signed.ts';
export { loadPemPair } from './pem-pair.ts';
export type { PemPairInfo } from './pem-pair.ts';
export { CertError, CertErrorCode } from './cert-error.ts';
