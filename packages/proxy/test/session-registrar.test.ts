// The session registrar's heartbeat on a real tier (Redis, Dovecot, a Gatehouse node, TLS
// clients): what the registry (`gatehouse who`) shows follows each session's bytes and
// IDLE state, an idle session keeps its record with a fresh TTL, and records that Redis
// lost (a hash gone, or a Redis restarted empty) are written whole again by the next
// heartbeat. The heartbeat is driven by hand (heartbeat()), its timer being a minute.
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { SessionRegistry, type SessionRecord } from '@gatehouse/directory';
import { startRedis } from '@gatehouse/testkit';
import { startSessionRegistrar } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, users, type Tier } from './helpers/tier.ts';

const TTL_MS = 180_000;
const alice = users[0];
if (alice === undefined) throw new Error('no test user');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function loggedIn(tier: Tier): Promise<RawClient> {
  const c = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
  await c.line();
  const reply = await c.cmd('a1', `LOGIN ${alice?.name} ${alice?.password}`);
  if (!reply.at(-1)?.startsWith('a1 OK')) throw new Error(`login failed: ${reply.join(' | ')}`);
  return c;
}

/** The sessions `who` would list, once `pred` holds (the login's write is fired and forgotten). */
async function listed(registry: SessionRegistry, pred: (s: SessionRecord[]) => boolean): Promise<SessionRecord[]> {
  let got: SessionRecord[] = [];
  for (let i = 0; i < 100; i++) {
    got = await registry.list().catch(() => []);
    if (pred(got)) return got;
    await sleep(50);
  }
  return got;
}

async function setup(t: Test): Promise<{ tier: Tier; registry: SessionRegistry; registrar: Awaited<ReturnType<typeof startSessionRegistrar>> }> {
  const tier = await startTier(t);
  const registrar = await startSessionRegistrar({
    directory: tier.directory,
    nodeId: tier.node.nodeId,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    heartbeatMs: 60_000,
    ttlMs: TTL_MS,
  });
  // Teardowns run last-in first-out: the registrar stops before the node and Redis.
  t.teardown(() => registrar.close());
  return { tier, registry: new SessionRegistry({ redis: tier.directory.redis, keys: tier.directory.keys }), registrar };
}

t.test('registrar: bytes and IDLE state follow the session at each heartbeat; an idle session keeps its record with a fresh TTL', async (t) => {
  const { tier, registry, registrar } = await setup(t);
  const c = await loggedIn(tier);
  t.teardown(() => c.close());
  const [first] = await listed(registry, (s) => s.length === 1);
  if (first === undefined) throw new Error('the session was not registered');
  t.equal(first.user, alice.name);
  t.equal(first.state, 'authenticated');
  const key = registry.keys.session(first.id);

  // Traffic, then a heartbeat: the new byte counts and activity time.
  await c.cmd('a2', 'NOOP');
  await sleep(20);
  await registrar.heartbeat();
  const busy = await registry.get(first.id);
  t.ok((busy?.bytesIn ?? 0) > first.bytesIn && (busy?.bytesOut ?? 0) > first.bytesOut, 'bytes both ways counted');
  t.ok(Date.parse(busy?.lastActivity ?? '') > Date.parse(first.lastActivity), 'last activity moved');
  t.same({ ...busy, bytesIn: 0, bytesOut: 0, lastActivity: '' }, { ...first, bytesIn: 0, bytesOut: 0, lastActivity: '' }, 'every other field kept');

  c.send('a3 IDLE\r\n');
  t.match(await c.line(), /^\+ /);
  await sleep(20);
  await registrar.heartbeat();
  t.equal((await registry.get(first.id))?.state, 'idle', 'inside IDLE');
  c.send('DONE\r\n');
  await c.until('a3');
  await sleep(20);
  await registrar.heartbeat();
  const after = await registry.get(first.id);
  t.equal(after?.state, 'authenticated', 'after DONE');

  // Nothing moves: the record stays as it is, with a fresh TTL.
  await tier.directory.redis.pexpire(key, 5_000);
  await registrar.heartbeat();
  t.same(await registry.get(first.id), after, 'an idle session keeps its record');
  t.ok((await tier.directory.redis.pttl(key)) > TTL_MS - 10_000, 'with a fresh TTL');
});

t.test('registrar: a record Redis lost is written whole again by the next heartbeat, also after a restart of Redis with no data', async (t) => {
  const { tier, registry, registrar } = await setup(t);
  const a = await loggedIn(tier);
  t.teardown(() => a.close());
  const b = await loggedIn(tier);
  t.teardown(() => b.close());
  const before = await listed(registry, (s) => s.length === 2);
  t.equal(before.length, 2, 'both sessions listed');
  const [one] = before;
  if (one === undefined) throw new Error('no session');

  // One hash gone (an operator's DEL, an eviction): back whole at the next heartbeat.
  await tier.directory.redis.del(registry.keys.session(one.id));
  t.same(
    (await registry.list()).map((s) => s.id),
    before.filter((s) => s.id !== one.id).map((s) => s.id),
  );
  await registrar.heartbeat();
  t.same(await registry.list(), before, 'listed again with every field');

  // Redis restarts empty; a heartbeat while it is down fails (and is logged), the next one
  // after it is back registers the node and both sessions again.
  const port = Number(new URL(tier.redisUrl).port);
  await tier.stopRedis();
  await registrar.heartbeat();
  const again = await startRedis({ port });
  t.teardown(() => again.stop());
  let nodes: string[] = [];
  for (let i = 0; i < 100 && nodes.length === 0; i++) {
    await sleep(100);
    await registrar.heartbeat();
    nodes = (await registry.nodes().catch(() => [])).map((n) => n.node);
  }
  t.same(nodes, [tier.node.nodeId], 'the node is back');
  const now = await registry.list();
  t.same(
    now.map((s) => ({ ...s, lastActivity: '' })),
    before.map((s) => ({ ...s, lastActivity: '' })),
    'both sessions are back, whole',
  );
  t.equal(a.closed || b.closed, false, 'the sessions themselves never noticed');
});
