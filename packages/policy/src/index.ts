/**
 * @gatehouse/policy — access rules of virtual servers (addresses, networks, host names),
 * evaluated without I/O. The rules are stored by @gatehouse/directory and applied by
 * @gatehouse/proxy at accept time (which also does the reverse lookups).
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
  canonicalAccessRule,
  canonicalDomainRule,
  canonicalNetwork,
  isAccessAction,
  type AccessAction,
  type AccessDecision,
  type AccessRuleSet,
  type NeedsNames,
} from './access-policy.ts';
export { MAX_HOST_NAME_CHARS, formatDomainPattern, normalizeHostName, parseDomainPattern, type DomainPattern } from './domain-name.ts';
