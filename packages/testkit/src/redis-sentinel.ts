// A throwaway Sentinel set-up for one test file: one Redis master and one or three
// `redis-server --sentinel` processes monitoring it, all on free loopback ports, in one
// scratch directory (each Sentinel has its own config file there: Sentinel rewrites
// it). No replicas, so no failover: what it is for is reaching the master through the
// Sentinels (and seeing what happens when the master or the Sentinels go away).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REDIS_BINARY, REDIS_HOST, spawnAll, spawnRedis, type RedisProcess } from './redis-process.ts';
import { removeDir, tmpDir } from './tmp-dir.ts';

export type RedisSentinel = {
  host: '127.0.0.1';
  /** `redis+sentinel://[:PASSWORD@]127.0.0.1:S1[,…]/MASTER[?sentinelPassword=…]` */
  url: string;
  masterName: string;
  masterPort: number;
  sentinelPorts: number[];
  dir: string;
  /** Stops the master only (the Sentinels keep answering with its address). */
  stopMaster(): Promise<void>;
  /** Stops the Sentinels only. */
  stopSentinels(): Promise<void>;
  /** Stops everything and removes the directory; idempotent. */
  stop(): Promise<void>;
};

export type StartRedisSentinelOptions = {
  /** How many Sentinels (quorum 1 or 2); default 1. */
  sentinels?: 1 | 3;
  /** Default `gatehouse`. */
  masterName?: string;
  /** `requirepass` of the master (the Sentinels get it as auth-pass); in the URL. */
  password?: string;
  /** `requirepass` of the Sentinels; in the URL as sentinelPassword. */
  sentinelPassword?: string;
  /** Path of redis-server; default /usr/bin/redis-server. */
  binary?: string;
  startTimeoutMs?: number;
};

export async function startRedisSentinel(opts: StartRedisSentinelOptions = {}): Promise<RedisSentinel> {
  const binary = opts.binary ?? REDIS_BINARY;
  const masterName = opts.masterName ?? 'gatehouse';
  const count = opts.sentinels ?? 1;
  const dir = await tmpDir('gatehouse-redis-sentinel');
  const started: RedisProcess[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop()));
    await removeDir(dir);
  };
  try {
    const master = await spawnRedis({
      binary,
      dir,
      name: 'master',
      args: ([port]) => [
        '--port', String(port),
        '--bind', REDIS_HOST,
        '--save', '',
        '--appendonly', 'no',
        '--dir', dir,
        '--daemonize', 'no',
        '--logfile', '',
        ...(opts.password !== undefined ? ['--requirepass', opts.password] : []),
      ],
      ...(opts.startTimeoutMs !== undefined ? { startTimeoutMs: opts.startTimeoutMs } : {}),
    });
    started.push(master);
    const sentinels = await spawnAll(
      started,
      Array.from({ length: count }, (_, i) => ({
        binary,
        dir,
        name: `sentinel-${i + 1}`,
        async args([port]: number[]) {
          const conf = path.join(dir, `sentinel-${i + 1}.conf`);
          await writeFile(conf, sentinelConfig(port ?? 0, dir, masterName, master.port, count === 1 ? 1 : 2, opts));
          return [conf, '--sentinel'];
        },
        ...(opts.startTimeoutMs !== undefined ? { startTimeoutMs: opts.startTimeoutMs } : {}),
      })),
    );
    const sentinelPorts = sentinels.map((s) => s.port);
    const auth = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : '';
    const query = opts.sentinelPassword !== undefined ? `?sentinelPassword=${encodeURIComponent(opts.sentinelPassword)}` : '';
    let stopping: Promise<void> | undefined;
    return {
      host: REDIS_HOST,
      url: `redis+sentinel://${auth}${sentinelPorts.map((p) => `${REDIS_HOST}:${p}`).join(',')}/${masterName}${query}`,
      masterName,
      masterPort: master.port,
      sentinelPorts,
      dir,
      stopMaster: () => master.stop(),
      stopSentinels: async () => {
        await Promise.all(sentinels.map((s) => s.stop()));
      },
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

function sentinelConfig(port: number, dir: string, masterName: string, masterPort: number, quorum: number, opts: StartRedisSentinelOptions): string {
  const lines = [
    `port ${port}`,
    `bind ${REDIS_HOST}`,
    'daemonize no',
    'logfile ""',
    `dir ${dir}`,
    'sentinel resolve-hostnames no',
    `sentinel monitor ${masterName} ${REDIS_HOST} ${masterPort} ${quorum}`,
    `sentinel down-after-milliseconds ${masterName} 2000`,
    `sentinel failover-timeout ${masterName} 10000`,
  ];
  if (opts.password !== undefined) lines.push(`sentinel auth-pass ${masterName} ${quote(opts.password)}`);
  if (opts.sentinelPassword !== undefined) lines.push(`requirepass ${quote(opts.sentinelPassword)}`);
  return `${lines.join('\n')}\n`;
}

/** A redis.conf double-quoted string. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
