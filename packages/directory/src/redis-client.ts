/**
 * Builds the ioredis client for a parsed directory address, with the directory's
 * fail-fast settings: no offline queue, one retry per request, connect and command
 * timeouts (2 s by default), auto-pipelining, RESP2-shaped replies. A down or hung
 * Redis, an unreachable set of Sentinels or a cluster without a reachable node then
 * fails a command within about the command timeout instead of queueing it, while the
 * client keeps reconnecting in the background (backoff up to 2 s). Created with
 * lazyConnect: the caller calls connect().
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisAddress } from './redis-address.ts';

export interface RedisClientOptions {
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** Extra ioredis options; for a cluster, those of each node connection. */
  readonly redisOptions?: RedisOptions;
  /** Extra ioredis Cluster options (redis+cluster:// only). */
  readonly clusterOptions?: ClusterOptions;
}

type NodeOptions = NonNullable<ClusterOptions['redisOptions']>;

const reconnectDelay = (times: number): number => Math.min(times * 100, 2000);

/** Options every connection shares, for a single server, a Sentinel-managed master or each cluster node. */
function nodeOptions(address: RedisAddress, opts: RedisClientOptions): NodeOptions {
  return {
    maxRetriesPerRequest: 1,
    connectTimeout: opts.connectTimeoutMs,
    commandTimeout: opts.commandTimeoutMs,
    ...(address.username !== undefined ? { username: address.username } : {}),
    ...(address.password !== undefined ? { password: address.password } : {}),
    ...(address.tls ? { tls: {} } : {}),
  };
}

export function createRedisClient(address: RedisAddress, opts: RedisClientOptions): Redis | Cluster {
  const common = nodeOptions(address, opts);
  // The directory parses RESP2-shaped replies (HGETALL as an object): always 'legacy'.
  const single = (specific: RedisOptions): Redis =>
    new Redis({
      ...common,
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      retryStrategy: reconnectDelay,
      ...specific,
      ...opts.redisOptions,
      replyMapping: 'legacy',
    });
  switch (address.kind) {
    case 'standalone':
      return single({ host: address.host, port: address.port, db: address.db });
    case 'sentinel':
      return single({
        sentinels: address.sentinels.map(({ host, port }) => ({ host, port })),
        name: address.masterName,
        role: 'master',
        db: address.db,
        // TLS to the master needs this flag in Sentinel mode (`tls` alone is ignored there).
        enableTLSForSentinelMode: address.tls,
        ...(address.sentinelTls ? { sentinelTLS: {} } : {}),
        ...(address.sentinelUsername !== undefined ? { sentinelUsername: address.sentinelUsername } : {}),
        ...(address.sentinelPassword !== undefined ? { sentinelPassword: address.sentinelPassword } : {}),
        // A hung Sentinel must not hold up the resolution of the master for longer.
        sentinelCommandTimeout: opts.commandTimeoutMs,
        // All Sentinels unreachable: try them all again after this long (forever).
        sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1000),
        // Still on a master that a failover demoted: that write fails (it did not run),
        // and the client asks the Sentinels again for the next one.
        reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
      });
    case 'cluster': {
      // ioredis manages retries and the offline queue of cluster nodes itself.
      const extra: Record<string, unknown> = { ...opts.redisOptions };
      for (const k of ['port', 'host', 'path', 'sentinels', 'retryStrategy', 'enableOfflineQueue', 'readOnly']) delete extra[k];
      return new Cluster(
        address.nodes.map(({ host, port }) => ({ host, port })),
        {
          lazyConnect: true,
          enableOfflineQueue: false,
          enableAutoPipelining: true,
          clusterRetryStrategy: reconnectDelay,
          ...opts.clusterOptions,
          redisOptions: { ...common, ...(extra as NodeOptions), replyMapping: 'legacy' },
        },
      );
    }
  }
}
