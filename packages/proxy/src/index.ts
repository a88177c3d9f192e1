export { startGatehouseNode, type GatehouseNode, type GatehouseNodeOptions, type BoundListener } from './gatehouse-node.ts';
export { defaultImapLimits, type ImapLimits } from './limits.ts';
export type { VirtualServer, ImapListenerSpec, ListenerTls, Pop3ListenerSpec } from './virtual-server.ts';
export { ProxyError, ProxyErrorCode } from './proxy-error.ts';
export { sessionChannel, type SessionEvent, type SessionView } from './session-events.ts';
export { normalizeAddress } from './address.ts';
export { startSessionRegistrar, kickChannelName, DEFAULT_LOAD_EVENT_MS, type KickEvent, type SessionRegistrar, type SessionRegistrarOptions } from './session-registrar.ts';
export type { SessionStats } from './session-events.ts';
export { authChannel, backendChannel, type AuthEvent, type AuthOutcome, type BackendConnectEvent } from './proxy-events.ts';
