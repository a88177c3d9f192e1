// The session registry on a real Redis and a real three-master cluster: sessions written,
// listed with filters, removed; a node that stops heart-beating vanishes within its TTL;
// kick requests reach subscribers, also after Redis restarts.
import { startRedis, startRedisCluster } from '@gatehouse/testkit';
import t from 'tap';
import { Directory, SessionRegistry, parseKickRequest, type KickRequest, type NodeStatus, type SessionRecord } from '../src/index.ts';
import { allKeys, directoryFixture } from './helpers/redis.ts';

function session(id: string, over: Partial<SessionRecord> = {}): SessionRecord {
  const since = new Date(Date.UTC(2026, 0, 1, 0, 0, Number(id.replace(/\D/g, '') || 0))).toISOString();
  return {
    id,
    user: 'alice@example.com',
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    vserver: 'default',
    protocol: 'imap',
    tls: 'TLSv1.3',
    node: 'n1',
    backend: 'be1',
    since,
    lastActivity: since,
    bytesIn: 10,
    bytesOut: 20,
    state: 'authenticated',
    ...over,
  };
}

function status(node: string, ttlMs: number, sessions: number): NodeStatus {
  const now = new Date().toISOString();
  return { node, startedAt: now, heartbeatAt: now, heartbeatMs: ttlMs / 3, ttlMs, sessions, logins: sessions, loginsPerSec: 0, bytesInPerSec: 0, bytesOutPerSec: 0 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('registry: put, list with filters, get, remove; keys as documented', async (t) => {
  const { dir, raw, prefix } = await directoryFixture(t, 'gh-t-sreg:');
  const reg = new SessionRegistry({ redis: dir.redis, keys: dir.keys });
  const s1 = session('s1');
  const s2 = session('s2', { user: 'bob@example.com', backend: 'be2', protocol: 'pop3', node: 'n2', vserver: 'other' });
  const s3 = session('s3', { node: 'n2' });
  await reg.heartbeat(status('n1', 10_000, 1), [s1]);
  await reg.heartbeat(status('n2', 10_000, 2), [s2, s3]);
  t.same((await reg.list()).map((s) => s.id), ['s1', 's2', 's3']);
  t.same(await reg.get('s2'), s2, 'every field round-trips');
  t.same((await reg.list({ user: 'alice@example.com' })).map((s) => s.id), ['s1', 's3']);
  t.same((await reg.list({ node: 'n2' })).map((s) => s.id), ['s2', 's3']);
  t.same((await reg.list({ backend: 'be2' })).map((s) => s.id), ['s2']);
  t.same((await reg.list({ vserver: 'other' })).map((s) => s.id), ['s2']);
  t.same((await reg.list({ protocol: 'imap' })).map((s) => s.id), ['s1', 's3']);
  t.same(
    (await reg.nodes()).map((n) => [n.node, n.sessions]),
    [
      ['n1', 1],
      ['n2', 2],
    ],
  );
  t.same(await allKeys(raw), [
    `${prefix}node-sessions:n1`,
    `${prefix}node-sessions:n2`,
    `${prefix}node:n1`,
    `${prefix}node:n2`,
    `${prefix}nodes`,
    `${prefix}session:s1`,
    `${prefix}session:s2`,
    `${prefix}session:s3`,
  ]);
  const ttl = await raw.pttl(`${prefix}session:s1`);
  t.ok(ttl > 9000 && ttl <= 10_000, `sessions expire (${ttl} ms left)`);

  await reg.remove('n2', 's3');
  t.equal(await reg.get('s3'), null);
  t.same(await raw.smembers(`${prefix}node-sessions:n2`), ['s2']);
  await reg.put(session('s4'), 10_000);
  t.same((await reg.list({ node: 'n1' })).map((s) => s.id), ['s1', 's4'], 'put adds to the index');

  await reg.clearNode('n1');
  t.same((await reg.list()).map((s) => s.id), ['s2'], 'clearNode forgets a previous incarnation');
  await reg.removeNode('n1');
  await reg.removeNode('n2');
  t.same(await reg.nodes(), [], 'no node left');
  await t.rejects(reg.put(session('bad:id'), 1000), { code: 'ERR_BAD_NAME' });
  await t.rejects(reg.put(session('ok', { node: 'a:b' }), 1000), { code: 'ERR_BAD_NAME' });
});

t.test('registry: a node that stops heart-beating vanishes within its TTL, with its sessions', async (t) => {
  const { dir, raw, prefix } = await directoryFixture(t, 'gh-t-sreg-ttl:');
  const reg = new SessionRegistry({ redis: dir.redis, keys: dir.keys });
  await reg.heartbeat(status('dead', 400, 2), [session('d1', { node: 'dead' }), session('d2', { node: 'dead' })]);
  await reg.heartbeat(status('live', 400, 1), [session('l1', { node: 'live' })]);
  t.equal((await reg.list()).length, 3);
  const started = Date.now();
  // 'live' keeps beating; 'dead' does not.
  while (Date.now() - started < 900) {
    await sleep(100);
    await reg.heartbeat(status('live', 400, 1), [session('l1', { node: 'live' })]);
  }
  t.same((await reg.list()).map((s) => s.id), ['l1']);
  t.same((await reg.nodes()).map((n) => n.node), ['live']);
  t.notOk(await raw.exists(`${prefix}session:d1`), 'the dead node`s session hashes expired');
});

t.test('registry: kick requests reach every subscriber; malformed ones are ignored', async (t) => {
  const { dir } = await directoryFixture(t, 'gh-t-sreg-kick:');
  const reg = new SessionRegistry({ redis: dir.redis, keys: dir.keys });
  const got: KickRequest[][] = [[], []];
  const subs = got.map((list) => reg.subscribeKicks((req) => list.push(req)));
  t.teardown(async () => {
    for (const s of subs) await s.close();
  });
  // Wait until both are subscribed.
  for (let i = 0; i < 50 && (await reg.kick({ user: 'probe@example.com' })) < 2; i++) await sleep(50);
  await dir.redis.publish(dir.keys.kickChannel, 'not json');
  await reg.kick({ session: 'abc', text: 'Bye now.' });
  await reg.kick({ user: 'bob@example.com' });
  for (let i = 0; i < 50 && got.some((l) => !l.some((r) => 'user' in r && r.user === 'bob@example.com')); i++) await sleep(20);
  for (const list of got) {
    const real = list.filter((r) => !('user' in r && r.user === 'probe@example.com'));
    t.same(real, [{ session: 'abc', text: 'Bye now.' }, { user: 'bob@example.com' }]);
  }
  t.equal(parseKickRequest('{"session":"a:b"}'), null);
  t.equal(parseKickRequest('[1]'), null);
  t.same(parseKickRequest('{"user":"x","text":"\\r\\n"}'), { user: 'x' }, 'a text with control characters is dropped');
  await t.rejects(reg.kick({ session: 'a b' }), { code: 'ERR_BAD_NAME' });
});

t.test('registry: the kick subscription survives a Redis restart', async (t) => {
  const first = await startRedis();
  let server = first;
  t.teardown(() => server.stop());
  const dir = await Directory.connect(first.url, { prefix: 'gh-t-sreg-re:' });
  t.teardown(() => dir.close());
  const reg = new SessionRegistry({ redis: dir.redis, keys: dir.keys });
  const got: KickRequest[] = [];
  const errors: Error[] = [];
  const sub = reg.subscribeKicks(
    (r) => got.push(r),
    (e) => errors.push(e),
  );
  t.teardown(() => sub.close());
  for (let i = 0; i < 50 && (await reg.kick({ user: 'probe' })) < 1; i++) await sleep(50);
  await first.stop();
  await sleep(300);
  server = await startRedis({ port: first.port });
  let heard = 0;
  for (let i = 0; i < 100 && heard < 1; i++) {
    await sleep(100);
    heard = await reg.kick({ user: 'after' }).catch(() => 0);
  }
  t.equal(heard, 1, 'subscribed again after the restart');
  for (let i = 0; i < 50 && !got.some((r) => 'user' in r && r.user === 'after'); i++) await sleep(20);
  t.ok(got.some((r) => 'user' in r && r.user === 'after'), 'a kick after the restart arrives');
  t.ok(errors.length > 0, 'the outage was reported, not thrown');
});

t.test('registry on a three-master Redis Cluster: no cross-slot command, kicks delivered', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const dir = await Directory.connect(cluster.url, { prefix: 'gh-t-sreg-c:' });
  t.teardown(() => dir.close());
  const reg = new SessionRegistry({ redis: dir.redis, keys: dir.keys });
  const many = Array.from({ length: 40 }, (_, i) => session(`c${i}`, { node: i % 2 ? 'na' : 'nb', user: `u${i % 4}@example.com` }));
  await reg.heartbeat(status('na', 10_000, 20), many.filter((s) => s.node === 'na'));
  await reg.heartbeat(status('nb', 10_000, 20), many.filter((s) => s.node === 'nb'));
  t.equal((await reg.list()).length, 40);
  t.equal((await reg.list({ user: 'u1@example.com' })).length, 10);
  for (const s of many.slice(0, 10)) await reg.remove(s.node, s.id);
  t.equal((await reg.list()).length, 30);
  const got: KickRequest[] = [];
  const sub = reg.subscribeKicks((r) => got.push(r));
  t.teardown(() => sub.close());
  for (let i = 0; i < 100 && got.length === 0; i++) {
    await reg.kick({ user: 'u2@example.com' });
    await sleep(50);
  }
  t.match(got[0], { user: 'u2@example.com' });
});
