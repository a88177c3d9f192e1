import { once } from 'node:events';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';
import t from 'tap';
import { startRedis } from '../src/index.ts';

t.test('redis answers on its own port, and stop() ends it and removes its dir', async (t) => {
  const [a, b] = await Promise.all([startRedis(), startRedis()]);
  t.not(a.port, b.port);
  t.equal(a.url, `redis://127.0.0.1:${a.port}`);
  const client = new Redis(a.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  await client.connect();
  t.equal(await client.ping(), 'PONG');
  await client.set('testkit:k', 'v');
  t.equal(await client.get('testkit:k'), 'v');
  t.equal(await client.config('GET', 'save').then((r) => (r as string[])[1]), '', 'persistence off');
  client.disconnect();

  await Promise.all([a.stop(), b.stop()]);
  await a.stop(); // idempotent
  t.notOk(existsSync(a.dir));
  const late = net.connect({ host: a.host, port: a.port });
  const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'nothing listens any more');
});
