// The tier-wide failed-login counters on a real Redis and a real three-master cluster:
// the key names of docs/directory.md, IPv6 counted per /64, the window's expiry set once
// by the first failure, clear and list.
import { startRedisCluster } from '@gatehouse/testkit';
import t from 'tap';
import { AuthFailures, Directory, authFailureClient, authFailureKeyPart, type ClientIp } from '../src/index.ts';
import { allKeys, directoryFixture, rejectsCode } from './helpers/redis.ts';

const v4 = (text: string): ClientIp => ({ family: 4, value: text.split('.').reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) });
const v6 = (hex: string): ClientIp => ({ family: 6, value: BigInt(`0x${hex}`) });

t.test('key parts: IPv4 address, IPv6 /64 as hex groups without colons', async (t) => {
  t.equal(authFailureKeyPart(v4('192.0.2.7')), '192.0.2.7');
  t.equal(authFailureKeyPart(v6('20010db8000000010000000000000005')), '2001-db8-0-1');
  t.equal(authFailureKeyPart(v6('1')), '0-0-0-0');
  t.equal(authFailureClient('2001-db8-0-1'), '2001:db8:0:1::/64');
  t.equal(authFailureClient('192.0.2.7'), '192.0.2.7');
  t.equal(authFailureClient('x*y'), null);
  t.throws(() => authFailureKeyPart({ family: 4, value: 1n << 32n }), { code: 'ERR_BAD_NAME' });
});

t.test('fail counts per address with one window; clear forgets; list shows every counter', async (t) => {
  const { dir, raw, prefix } = await directoryFixture(t, 'gh-t-af:');
  const af = new AuthFailures({ redis: dir.redis, keys: dir.keys });
  t.equal(await af.count(v4('127.0.0.7')), 0);
  t.equal(await af.fail(v4('127.0.0.7'), 60_000), 1);
  const ttl1 = await raw.pttl(`${prefix}authfail:127.0.0.7`);
  t.ok(ttl1 > 0 && ttl1 <= 60_000, 'the first failure starts the window');
  t.equal(await af.fail(v4('127.0.0.7'), 600_000), 2);
  t.ok((await raw.pttl(`${prefix}authfail:127.0.0.7`)) <= 60_000, 'later failures do not extend the window');
  t.equal(await af.count(v4('127.0.0.7')), 2);
  t.equal(await af.count(v4('127.0.0.8')), 0, 'a neighbour has its own counter');

  // Two addresses of one /64 share a counter; another /64 does not.
  await af.fail(v6('20010db8000000010000000000000005'), 60_000);
  t.equal(await af.fail(v6('20010db80000000100000000000000ff'), 60_000), 2);
  t.equal(await af.count(v6('20010db8000000020000000000000005')), 0);

  t.same(await allKeys(raw), [`${prefix}authfail:127.0.0.7`, `${prefix}authfail:2001-db8-0-1`]);
  const list = await af.list();
  t.match(list, [
    { client: '127.0.0.7', failures: 2 },
    { client: '2001:db8:0:1::/64', failures: 2 },
  ]);
  t.ok(list.every((e) => e.expiresInMs > 0 && e.expiresInMs <= 60_000));

  t.equal(await af.clear(v4('127.0.0.7')), true);
  t.equal(await af.clear(v4('127.0.0.7')), false);
  t.equal(await af.count(v4('127.0.0.7')), 0);
  t.equal(await af.fail(v4('127.0.0.7'), 60_000), 1, 'counting starts again after a clear');
});

t.test('the window ends: the counter expires with its key', async (t) => {
  const { dir } = await directoryFixture(t, 'gh-t-af2:');
  const af = new AuthFailures({ redis: dir.redis, keys: dir.keys });
  await af.fail(v4('127.0.0.9'), 200);
  await af.fail(v4('127.0.0.9'), 200);
  while ((await af.count(v4('127.0.0.9'))) !== 0) await new Promise((r) => setTimeout(r, 50));
  t.equal(await af.fail(v4('127.0.0.9'), 60_000), 1, 'a new window starts at one');
  t.match(await af.list(), [{ client: '127.0.0.9', failures: 1 }]);
});

t.test('Redis down: every method rejects with ERR_DIRECTORY_UNAVAILABLE', async (t) => {
  const { dir, server } = await directoryFixture(t, 'gh-t-af3:');
  const af = new AuthFailures({ redis: dir.redis, keys: dir.keys });
  await server.stop();
  t.equal(await rejectsCode(af.fail(v4('127.0.0.7'), 1000)), 'ERR_DIRECTORY_UNAVAILABLE');
  t.equal(await rejectsCode(af.count(v4('127.0.0.7'))), 'ERR_DIRECTORY_UNAVAILABLE');
  t.equal(await rejectsCode(af.list()), 'ERR_DIRECTORY_UNAVAILABLE');
});

t.test('Redis Cluster: counters and list across the masters', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const dir = await Directory.connect(cluster.url, { prefix: 'gh-t-af-c:' });
  t.teardown(() => dir.close());
  const af = new AuthFailures({ redis: dir.redis, keys: dir.keys });
  for (let i = 1; i <= 12; i++) for (let n = 0; n < i; n++) await af.fail(v4(`10.0.0.${i}`), 60_000);
  const list = await af.list();
  t.equal(list.length, 12, 'every counter, from every master');
  t.match(list[0], { client: '10.0.0.12', failures: 12 });
  t.equal(await af.count(v4('10.0.0.5')), 5);
});
