// Errors the proxy raises, each with a stable code and the reply the client sees.
// A failed login is a result, not one of these: these are the outages and protocol
// violations that end a login attempt or a session (docs/errors.md lists them).
import { GatehouseError } from '@gatehouse/protocol';

export const ProxyErrorCode = {
  BACKEND_UNAVAILABLE: 'ERR_BACKEND_UNAVAILABLE',
  BACKEND_TIMEOUT: 'ERR_BACKEND_TIMEOUT',
  BACKEND_PROTOCOL: 'ERR_BACKEND_PROTOCOL',
  BACKEND_TLS: 'ERR_BACKEND_TLS',
} as const;
export type ProxyErrorCode = (typeof ProxyErrorCode)[keyof typeof ProxyErrorCode];

export class ProxyError extends GatehouseError {
  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProxyError';
  }
}
