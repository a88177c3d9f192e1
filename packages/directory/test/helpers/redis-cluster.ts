// A three-master Redis Cluster on loopback for one test file, so that the directory's
// "one key per command" rule is checked by a real cluster (CROSSSLOT errors, MOVED
// redirects, ioredis's per-node pipelines), not only promised. No replicas; slots are
// split in three with CLUSTER ADDSLOTSRANGE and the nodes introduced with CLUSTER MEET.
// (Candidate for @gatehouse/testkit once another package needs it.)
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePorts, removeDir, tmpDir } from '@gatehouse/testkit';
import { Cluster, Redis } from 'ioredis';

export interface RedisCluster {
  readonly ports: number[];
  /** Connected ioredis Cluster client (fail-fast options like Directory.connect). */
  readonly client: Cluster;
  /** Plain clients, one per node, for checking where keys landed. */
  readonly nodes: Redis[];
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SLOTS = 16384;

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await tmpDir('gatehouse-redis-cluster');
  const ports = await freePorts(3, HOST);
  const children: ChildProcess[] = ports.map((port) =>
    spawn('/usr/bin/redis-server', [
      '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
      '--logfile', '',
    ], { stdio: 'ignore' }));
  const nodes = ports.map((port) => new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 100 ? null : 50) }));
  for (const n of nodes) n.on('error', () => {}); // refused until the server listens
  const stop = async (): Promise<void> => {
    for (const n of nodes) n.disconnect();
    await Promise.all(children.map(async (c) => {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await once(c, 'exit');
      }
    }));
    await removeDir(dir);
  };
  try {
    await Promise.all(nodes.map((n) => waitFor('redis-server', 10_000, async () => {
      if (n.status !== 'ready') await n.connect();
      return (await n.ping()) === 'PONG';
    })));
    const per = Math.ceil(SLOTS / nodes.length);
    await Promise.all(nodes.map((n, i) => n.call('CLUSTER', 'ADDSLOTSRANGE', String(i * per), String(Math.min(SLOTS, (i + 1) * per) - 1))));
    for (const port of ports.slice(1)) await nodes[0]?.call('CLUSTER', 'MEET', HOST, String(port));
    await Promise.all(nodes.map((n) => waitFor('cluster_state:ok', 15_000, async () => {
      const info = String(await n.call('CLUSTER', 'INFO'));
      return info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:3');
    })));
    const client = new Cluster(ports.map((port) => ({ host: HOST, port })), {
      enableOfflineQueue: true, // until the slot map is loaded; the directory itself does not rely on it
      enableAutoPipelining: true,
      redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 },
    });
    client.on('error', () => {});
    await waitFor('cluster client', 10_000, async () => (await client.ping()) === 'PONG' && client.status === 'ready');
    return {
      ports,
      client,
      nodes,
      async stop() {
        client.disconnect();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
