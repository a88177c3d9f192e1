/**
 * @gatehouse/directory — the Redis directory of users, back-ends and domains, the login
 * decision, password hashes and passwd-file import. Talks to Redis (ioredis) only.
 */
export { DIRECTORY_ERROR_CODES, DirectoryError, isDirectoryError, type DirectoryErrorCode } from './directory-error.ts';
export {
  DOMAIN_MAX_CHARS,
  USER_LOCAL_MAX_CHARS,
  normalizeDomain,
  normalizeUserName,
  userDomain,
  validateBackendName,
} from './user-name.ts';
export {
  MAX_HASH_CHARS,
  MAX_PASSWORD_BYTES,
  PASSWORD_SCHEMES,
  SCRYPT_PARAMS,
  checkPasswordHash,
  hashPassword,
  needsRehash,
  verifyPassword,
} from './password-hash.ts';
export { parsePasswdFile, type ParsePasswdOptions, type PasswdEntry, type PasswdError, type PasswdFile } from './passwd-file.ts';
export { DEFAULT_PREFIX, directoryKeys, type DirectoryKeys } from './keys.ts';
export {
  BACKEND_LOGIN,
  BACKEND_STATES,
  BACKEND_TLS,
  Directory,
  TNEF_POLICIES,
  USER_STATES,
  type AliasRecord,
  type DomainPatch,
  type TnefPolicy,
  type AuthFailureReason,
  type AuthResult,
  type AuthenticateOptions,
  type BackendLogin,
  type BackendPatch,
  type BackendRecord,
  type BackendState,
  type BackendTls,
  type ConnectOptions,
  type DirectoryOptions,
  type DomainRecord,
  type ImportOptions,
  type ImportResult,
  type ListUsersFilter,
  type NewBackend,
  type NewUser,
  type RedisClient,
  type UserPatch,
  type UserRecord,
  type UserState,
} from './directory.ts';
export {
  REDIS_ADDRESS_SCHEMES,
  parseRedisAddress,
  redactRedisAddress,
  type ClusterRedisAddress,
  type RedisAddress,
  type RedisAddressKind,
  type RedisHostPort,
  type SentinelRedisAddress,
  type StandaloneRedisAddress,
} from './redis-address.ts';
export {
  DEFAULT_VERIFIED_PASSWORD_CACHE,
  VerifiedPasswordCache,
  type VerifiedPasswordCacheOptions,
} from './verified-password-cache.ts';
export {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_SESSION_TTL_MS,
  SESSION_FIELDS,
  SESSION_STATES,
  SessionRegistry,
  parseKickRequest,
  validateNodeId,
  validateSessionId,
  type KickRequest,
  type KickSubscription,
  type KickTarget,
  type NodeStatus,
  type SessionFilter,
  type SessionRecord,
  type SessionRegistryOptions,
  type SessionState,
} from './session-registry.ts';
export {
  MAX_TIER_EVENT_BYTES,
  TIER_EVENT_TYPES,
  parseTierEvent,
  publishTierEvent,
  subscribeTierEvents,
  type KickTierEvent,
  type LoadTierEvent,
  type LoginTierEvent,
  type LogoutTierEvent,
  type TierEvent,
  type TierEventHandlers,
  type TierEventSubscription,
  type TierEventType,
} from './tier-events.ts';
export { directoryChannel, type DirectoryLookupEvent } from './directory-events.ts';
export { validateVserverName, type StoredAccessAction, type StoredAccessRules } from './access-rules.ts';
export {
  MAX_VSERVER_DOMAINS,
  VSERVER_POLICY_BOUNDS,
  parseVserverPolicy,
  type VserverPolicy,
  type VserverPolicyPatch,
} from './vserver-policy.ts';
export {
  AuthFailures,
  authFailureClient,
  authFailureKeyPart,
  type AuthFailureEntry,
  type AuthFailuresOptions,
  type ClientIp,
} from './auth-failures.ts';
