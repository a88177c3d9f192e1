/**
 * @gatehouse/policy — access rules of virtual servers, evaluated without I/O. The rules
 * are stored by @gatehouse/directory and applied by @gatehouse/proxy at accept time.
 */
export { PolicyError, PolicyErrorCode } from './policy-error.ts';
export {
  formatIp,
  formatNetwork,
  networkContains,
  parseClientAddress,
  parseIp,
  parseNetwork,
  type IpAddress,
  type IpFamily,
  type IpNetwork,
} from './ip-address.ts';
export {
  ACCESS_ACTIONS,
  AccessPolicy,
  GRANT_ALL,
  canonicalNetwork,
  isAccessAction,
  type AccessAction,
  type AccessDecision,
  type AccessRuleSet,
} from './access-policy.ts';
