// SessionRegistry.refresh(), the heartbeat that sends only what changed, on a real Redis and
// a real three-master cluster: an idle session gets a fresh TTL and keeps every field, a
// changed one gets its new figures, and a hash Redis lost is reported (never half
// restored without a TTL) so that the node writes it whole again.
import { startRedisCluster } from '@gatehouse/testkit';
import type { Cluster, Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { Directory, SessionRegistry, type NodeStatus, type SessionRecord } from '../src/index.ts';
import { directoryFixture } from './helpers/redis.ts';

const TTL_MS = 60_000;

function session(id: string, over: Partial<SessionRecord> = {}): SessionRecord {
  const since = '2026-01-01T00:00:00.000Z';
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

function status(sessions: number): NodeStatus {
  const now = new Date().toISOString();
  return { node: 'n1', startedAt: now, heartbeatAt: now, heartbeatMs: TTL_MS / 3, ttlMs: TTL_MS, sessions, logins: sessions, loginsPerSec: 0, bytesInPerSec: 0, bytesOutPerSec: 0 };
}

const figures = { lastActivity: '2026-01-01T00:05:00.000Z', bytesIn: 4096, bytesOut: 65536, state: 'idle' } as const;

async function checkRefresh(t: Test, reg: SessionRegistry, raw: Pick<Redis, 'pexpire' | 'pttl' | 'del' | 'hgetall'> | Pick<Cluster, 'pexpire' | 'pttl' | 'del' | 'hgetall'>): Promise<void> {
  const key = (id: string): string => reg.keys.session(id);
  const ids = ['idle1', 'busy1', 'lost1', 'lost2'];
  for (const id of ids) await reg.put(session(id), TTL_MS);
  // Time passes: the TTLs run down; then Redis loses two hashes.
  for (const id of ids) await raw.pexpire(key(id), 2_000);
  await raw.del(key('lost1'));
  await raw.del(key('lost2'));

  const gone = await reg.refresh(status(ids.length), ids, new Map([
    ['busy1', figures],
    ['lost2', figures],
  ]));
  t.same(gone.sort(), ['lost1', 'lost2'], 'the lost hashes are reported, changed or not');

  t.same(await reg.get('idle1'), session('idle1'), 'an idle session keeps every field');
  t.ok((await raw.pttl(key('idle1'))) > TTL_MS - 5_000, 'and gets a fresh TTL');
  t.same(await reg.get('busy1'), session('busy1', figures), 'a changed session gets its new figures, the rest kept');
  t.ok((await raw.pttl(key('busy1'))) > TTL_MS - 5_000, 'and a fresh TTL');
  t.same(await raw.hgetall(key('lost1')), {}, 'an unchanged lost hash is not recreated');
  t.equal(await reg.get('lost2'), null, 'a changed lost hash is not a session again by itself');
  t.ok((await raw.pttl(key('lost2'))) > 0, 'and what was written of it expires');
  t.same(
    (await reg.list()).map((s) => s.id),
    ['busy1', 'idle1'],
    'who lists the sessions Redis still holds',
  );
  t.same(
    (await reg.nodes()).map((n) => [n.node, n.sessions]),
    [['n1', 4]],
    'the node status is written as by heartbeat()',
  );

  // The node writes the reported ones whole again: they are listed as before.
  for (const id of gone) await reg.put(session(id), TTL_MS);
  t.same(
    (await reg.list()).map((s) => s.id),
    ['busy1', 'idle1', 'lost1', 'lost2'],
  );
  t.same(await reg.get('lost2'), session('lost2'), 'whole again');
}

t.test('refresh: fresh TTLs, changed figures only, lost hashes reported', async (t) => {
  const { dir, raw } = await directoryFixture(t, 'gh-t-sref:');
  const reg = new SessionRegistry({ redis: dir.redis, keys: dir.keys });
  await checkRefresh(t, reg, raw);
});

t.test('refresh on a three-master Redis Cluster: no cross-slot command, same results', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const dir = await Directory.connect(cluster.url, { prefix: 'gh-t-srefc:' });
  t.teardown(() => dir.close());
  const reg = new SessionRegistry({ redis: dir.redis, keys: dir.keys });
  await checkRefresh(t, reg, dir.redis);
});
