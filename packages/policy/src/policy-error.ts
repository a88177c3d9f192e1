// The one error this package throws: an access rule (address, network, mask, action or
// default) that cannot be parsed. Stable code, so the CLI and tests branch on it.
import { GatehouseError } from '@gatehouse/protocol';

export const PolicyErrorCode = {
  BAD_ACCESS_RULE: 'ERR_BAD_ACCESS_RULE',
} as const;
export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

export class PolicyError extends GatehouseError {
  declare readonly code: PolicyErrorCode;

  constructor(code: PolicyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
