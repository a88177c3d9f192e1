import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import t from 'tap';
import { startRedisSentinel } from '../src/index.ts';

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

/** The first reply line to PING on a fresh connection. */
function rawPing(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      got += chunk;
      if (got.includes('\r\n')) {
        socket.destroy();
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

function client(port: number, password?: string): Redis {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, ...(password !== undefined ? { password } : {}) });
  c.on('error', () => {});
  return c;
}

t.test('one Sentinel: names the master; the URL reaches it; stopMaster and stop end the processes', async (t) => {
  const s = await startRedisSentinel();
  t.teardown(() => s.stop());
  t.equal(s.sentinelPorts.length, 1);
  t.equal(s.masterName, 'gatehouse');
  t.equal(s.url, `redis+sentinel://127.0.0.1:${s.sentinelPorts[0]}/gatehouse`);
  t.ok(readdirSync(s.dir).includes('sentinel-1.conf'), 'its own config file');

  const sentinel = client(s.sentinelPorts[0] ?? 0);
  await sentinel.connect();
  t.same(await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'gatehouse'), ['127.0.0.1', String(s.masterPort)]);
  sentinel.disconnect();

  const viaSentinel = new Redis({ sentinels: [{ host: '127.0.0.1', port: s.sentinelPorts[0] ?? 0 }], name: 'gatehouse', lazyConnect: true, maxRetriesPerRequest: 1 });
  viaSentinel.on('error', () => {});
  await viaSentinel.connect();
  await viaSentinel.set('testkit:k', 'v');
  t.equal(await viaSentinel.get('testkit:k'), 'v');
  t.match(await viaSentinel.info('replication'), /role:master/);
  viaSentinel.disconnect();

  await s.stopMaster();
  t.ok(await refused(s.masterPort), 'master gone');
  t.notOk(await refused(s.sentinelPorts[0] ?? 0), 'Sentinel still up');
  await s.stop();
  await s.stop(); // idempotent
  t.ok(await refused(s.sentinelPorts[0] ?? 0), 'Sentinel gone');
  t.notOk(existsSync(s.dir), 'directory removed');
});

t.test('three Sentinels with passwords: they find each other; auth is in the URL', async (t) => {
  const s = await startRedisSentinel({ sentinels: 3, masterName: 'mymaster', password: 'm@ster pw', sentinelPassword: 'sentinel-pw' });
  t.teardown(() => s.stop());
  t.equal(new Set(s.sentinelPorts).size, 3);
  t.equal(s.url, `redis+sentinel://:m%40ster%20pw@${s.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/mymaster?sentinelPassword=sentinel-pw`);

  t.match(await rawPing(s.masterPort), /^-NOAUTH/, 'master wants its password');
  t.match(await rawPing(s.sentinelPorts[0] ?? 0), /^-NOAUTH/, 'Sentinels want theirs');

  const sentinel = client(s.sentinelPorts[2] ?? 0, 'sentinel-pw');
  await sentinel.connect();
  const deadline = Date.now() + 15_000;
  let others = 0;
  while (others < 2 && Date.now() < deadline) {
    others = ((await sentinel.call('SENTINEL', 'SENTINELS', 'mymaster')) as unknown[]).length;
    if (others < 2) await sleep(200);
  }
  t.equal(others, 2, 'each Sentinel knows the two others');
  sentinel.disconnect();

  const viaSentinel = new Redis({
    sentinels: s.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    name: 'mymaster',
    password: 'm@ster pw',
    sentinelPassword: 'sentinel-pw',
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  viaSentinel.on('error', () => {});
  await viaSentinel.connect();
  t.equal(await viaSentinel.ping(), 'PONG');
  viaSentinel.disconnect();
  await s.stop();
  for (const port of [s.masterPort, ...s.sentinelPorts]) t.ok(await refused(port), `port ${port} closed`);
});
