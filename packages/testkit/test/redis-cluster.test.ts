import { existsSync } from 'node:fs';
import net from 'node:net';
import { Cluster, Redis } from 'ioredis';
import t from 'tap';
import { startRedisCluster } from '../src/index.ts';

/** True when nothing listens on the port any more. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

t.test('three masters, every slot served; keys spread over the nodes; stop ends them', async (t) => {
  const c = await startRedisCluster();
  t.teardown(() => c.stop());
  t.equal(c.ports.length, 3);
  t.equal(new Set(c.ports).size, 3);
  t.equal(c.url, `redis+cluster://${c.ports.map((p) => `127.0.0.1:${p}`).join(',')}`);

  const nodes = c.ports.map((port) => new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 }));
  for (const n of nodes) {
    await n.connect();
    const info = String(await n.call('CLUSTER', 'INFO'));
    t.match(info, /cluster_state:ok/);
    t.match(info, /cluster_slots_assigned:16384/);
    t.match(info, /cluster_known_nodes:3\r/);
  }

  const cluster = new Cluster(c.ports.map((port) => ({ host: '127.0.0.1', port })), { lazyConnect: true });
  cluster.on('error', () => {});
  await cluster.connect();
  for (let i = 0; i < 30; i++) await cluster.set(`testkit:${i}`, String(i));
  t.equal(await cluster.get('testkit:17'), '17');
  const sizes = await Promise.all(nodes.map((n) => n.dbsize()));
  t.ok(sizes.every((n) => n > 0), `keys on every node: ${sizes.join('/')}`);
  await cluster.quit();
  for (const n of nodes) n.disconnect();

  await c.stop();
  await c.stop(); // idempotent
  for (const port of c.ports) t.ok(await refused(port), `port ${port} closed`);
  t.notOk(existsSync(c.dir), 'directory removed');
});

t.test('a password-protected cluster has the password in its URL', async (t) => {
  const c = await startRedisCluster({ masters: 3, password: 'cl/pw' });
  t.teardown(() => c.stop());
  t.match(c.url, /^redis\+cluster:\/\/:cl%2Fpw@127\.0\.0\.1:\d+,/);
  const cluster = new Cluster(c.ports.map((port) => ({ host: '127.0.0.1', port })), { lazyConnect: true, redisOptions: { password: 'cl/pw' } });
  cluster.on('error', () => {});
  await cluster.connect();
  await cluster.set('testkit:x', '1');
  t.equal(await cluster.get('testkit:x'), '1');
  await cluster.quit();
});
