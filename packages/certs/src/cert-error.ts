// The one error this package throws: a certificate or key that cannot be served.
// Its `code` is stable (ERR_CERT_INVALID) so callers and tests branch on it, never on
// the message; the underlying OpenSSL/parse error is kept as `cause`.
import { GatehouseError } from '@gatehouse/protocol';

export const CertErrorCode = {
  CERT_INVALID: 'ERR_CERT_INVALID',
} as const;
export type CertErrorCode = (typeof CertErrorCode)[keyof typeof CertErrorCode];

export class CertError extends GatehouseError {
  declare readonly code: CertErrorCode;

  constructor(code: CertErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
