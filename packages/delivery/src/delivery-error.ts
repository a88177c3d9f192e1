// Errors of the delivery path, each with a stable code (docs/errors.md). A refused
// recipient is a reply, not one of these: these are store outages and protocol breaks,
// which become 4xx replies so the sending MTA keeps the message and retries.
import { GatehouseError } from '@gatehouse/protocol';

export const DeliveryErrorCode = {
  /** The store's LMTP refused the connection, reset it or closed it mid-transaction. */
  STORE_UNAVAILABLE: 'ERR_STORE_UNAVAILABLE',
  /** The store's LMTP did not connect or answer in time. */
  STORE_TIMEOUT: 'ERR_STORE_TIMEOUT',
  /** The store's LMTP answered something that is not an LMTP reply, or the wrong one. */
  STORE_PROTOCOL: 'ERR_STORE_PROTOCOL',
} as const;
export type DeliveryErrorCode = (typeof DeliveryErrorCode)[keyof typeof DeliveryErrorCode];

export class DeliveryError extends GatehouseError {
  constructor(code: DeliveryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DeliveryError';
  }
}
