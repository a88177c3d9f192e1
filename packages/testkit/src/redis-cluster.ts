// A throwaway Redis Cluster for one test file: three masters (no replicas) on free
// loopback ports, so "one key per command" is checked by a real cluster (CROSSSLOT
// errors, MOVED redirects, per-node pipelines), not only promised. Slots are split
// evenly with CLUSTER ADDSLOTSRANGE and the nodes introduced with CLUSTER MEET. Each
// node gets an explicit cluster-bus port (a free one: port+10000 may be taken or out
// of range). Ready when every node reports cluster_state:ok and knows every other.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_BINARY, REDIS_HOST, spawnAll, type RedisProcess } from './redis-process.ts';
import { removeDir, tmpDir } from './tmp-dir.ts';

export type RedisCluster = {
  host: '127.0.0.1';
  /** `redis+cluster://[:PASSWORD@]127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` */
  url: string;
  /** Client port of each master. */
  ports: number[];
  dir: string;
  /** Stops every node and removes the directory; idempotent. */
  stop(): Promise<void>;
};

export type StartRedisClusterOptions = {
  /** Number of masters, default 3 (at least 1). */
  masters?: number;
  /** `requirepass` (and `masterauth`) of every node; in the URL. */
  password?: string;
  /** Path of redis-server; default /usr/bin/redis-server. */
  binary?: string;
  startTimeoutMs?: number;
};

const SLOTS = 16384;

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await sleep(50);
  }
}

export async function startRedisCluster(opts: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const binary = opts.binary ?? REDIS_BINARY;
  const count = opts.masters ?? 3;
  if (!Number.isInteger(count) || count < 1) throw new Error('masters must be an integer >= 1');
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const dir = await tmpDir('gatehouse-redis-cluster');
  const started: RedisProcess[] = [];
  const clients: Redis[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of clients) c.disconnect();
    await Promise.all(started.map((p) => p.stop()));
    await removeDir(dir);
  };
  try {
    const nodes = await spawnAll(
      started,
      Array.from({ length: count }, (_, i) => ({
        binary,
        dir,
        name: `node-${i + 1}`,
        portCount: 2,
        args: ([port, bus]: number[]) => [
          '--port', String(port),
          '--cluster-port', String(bus),
          '--bind', REDIS_HOST,
          '--save', '',
          '--appendonly', 'no',
          '--dir', dir,
          '--daemonize', 'no',
          '--logfile', '',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${i + 1}.conf`,
          '--cluster-node-timeout', '2000',
          ...(opts.password !== undefined ? ['--requirepass', opts.password, '--masterauth', opts.password] : []),
        ],
        startTimeoutMs: timeoutMs,
      })),
    );
    for (const n of nodes) {
      const c = new Redis({
        host: REDIS_HOST,
        port: n.port,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
        ...(opts.password !== undefined ? { password: opts.password } : {}),
      });
      c.on('error', () => {});
      clients.push(c);
    }
    await Promise.all(clients.map((c) => c.connect()));
    const per = Math.ceil(SLOTS / count);
    await Promise.all(clients.map((c, i) => c.call('CLUSTER', 'ADDSLOTSRANGE', String(i * per), String(Math.min(SLOTS, (i + 1) * per) - 1))));
    const [first] = clients;
    for (const n of nodes.slice(1)) await first?.call('CLUSTER', 'MEET', REDIS_HOST, String(n.port), String(n.ports[1]));
    await Promise.all(
      clients.map((c) =>
        waitFor('cluster_state:ok on every node', timeoutMs, async () => {
          const info = String(await c.call('CLUSTER', 'INFO'));
          return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${count}\r`);
        }),
      ),
    );
    for (const c of clients.splice(0)) c.disconnect();
    const ports = nodes.map((n) => n.port);
    const auth = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : '';
    let stopping: Promise<void> | undefined;
    return {
      host: REDIS_HOST,
      url: `redis+cluster://${auth}${ports.map((p) => `${REDIS_HOST}:${p}`).join(',')}`,
      ports,
      dir,
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
