/**
 * @gatehouse/admin — a node's admin HTTP listener (sessions, kick, nodes, health,
 * /metrics), fed by the registry in Redis and the proxy's diagnostics channels. Holds no
 * session state of its own.
 */
export { ADMIN_ERROR_STATUS, AdminError, type AdminErrorCode } from './admin-error.ts';
export { isLoopback, startAdminServer, type AdminRoute, type AdminServer, type AdminServerOptions } from './admin-server.ts';
export { GatehouseMetrics, type GatehouseMetricsOptions } from './metrics.ts';
export { FEED_CLOSE, FEED_PATH, FEED_PROTOCOL, FEED_TOKEN_PROTOCOL_PREFIX, LiveFeed, type LiveFeedOptions } from './live-feed.ts';
