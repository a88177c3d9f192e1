// The one error class of @gatehouse/admin, with the HTTP status each code maps to. The
// codes are listed in docs/errors.md and answered as {"error":{"code","message"}}.
import { GatehouseError } from '@gatehouse/protocol';

export const ADMIN_ERROR_STATUS = {
  ERR_ADMIN_TOKEN_REQUIRED: 500,
  ERR_UNAUTHORIZED: 401,
  ERR_BAD_REQUEST: 400,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_DIRECTORY_UNAVAILABLE: 503,
} as const;

export type AdminErrorCode = keyof typeof ADMIN_ERROR_STATUS;

export class AdminError extends GatehouseError {
  readonly status: number;
  constructor(code: AdminErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'AdminError';
    this.status = ADMIN_ERROR_STATUS[code];
  }
}
