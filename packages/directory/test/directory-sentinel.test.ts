import { startRedisSentinel } from '@gatehouse/testkit';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { Directory, DirectoryError, hashPassword } from '../src/index.ts';

const P = 'gh-t-sentinel:';
const LIMIT_MS = 3000;

async function unavailableWithin(t: Test, what: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  const err = await fn().then(() => undefined, (e: unknown) => e);
  const ms = performance.now() - t0;
  t.equal(err instanceof DirectoryError ? err.code : String(err), 'ERR_DIRECTORY_UNAVAILABLE', `${what}: ERR_DIRECTORY_UNAVAILABLE`);
  t.ok(ms < LIMIT_MS, `${what}: answered in ${ms.toFixed(0)} ms`);
}

t.test('through three Sentinels (redis+sentinel://, passwords in the URL): CRUD and authenticate', async (t) => {
  const s = await startRedisSentinel({ sentinels: 3, password: 'master secret', sentinelPassword: 's&ntinel' });
  t.teardown(() => s.stop());
  t.match(s.url, /^redis\+sentinel:\/\/:master%20secret@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/gatehouse\?sentinelPassword=s%26ntinel$/);
  const dir = await Directory.connect(s.url, { prefix: P });
  t.teardown(() => dir.close());
  t.ok(dir.redis instanceof Redis && dir.redis.options.sentinels?.length === 3, 'a Redis client in Sentinel mode');

  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be1', host: 'store1', login: 'master', masterUser: 'proxy', masterPassword: 'x' });
  await dir.addBackend({ name: 'be2', host: 'store2', login: 'user' });
  await dir.addUser({ name: 'alice@example.com', backend: 'be1', password: await hashPassword('pw') });
  await dir.addUser({ name: 'bob@example.com', backend: 'be2' });
  await t.rejects(dir.addUser({ name: 'alice@example.com', backend: 'be1' }), { code: 'ERR_EXISTS' });
  t.same((await dir.listUsers()).map((u) => u.name), ['alice@example.com', 'bob@example.com']);
  t.match(await dir.setUser('bob@example.com', { state: 'disabled' }), { state: 'disabled' });
  t.match(await dir.setBackend('be1', { state: 'drain' }), { state: 'drain' });
  t.match(await dir.authenticate('alice@example.com', 'pw'), { ok: true, backend: { name: 'be1' } });
  t.match(await dir.authenticate('alice@example.com', 'nope'), { ok: false, reason: 'bad-password' });
  t.match(await dir.authenticate('bob@example.com', 'pw'), { ok: false, reason: 'backend-checks-password' });
  t.match(await dir.authenticate('ghost@example.com', 'pw'), { ok: false, reason: 'unknown-user' });
  await dir.delUser('bob@example.com');
  await dir.delBackend('be2');
  t.equal(await dir.getUser('bob@example.com'), null);
  t.same((await dir.listBackends()).map((b) => b.name), ['be1']);
});

t.test('db=N selects the database on the master', async (t) => {
  const s = await startRedisSentinel();
  t.teardown(() => s.stop());
  const dir = await Directory.connect(`${s.url}?db=5`, { prefix: P });
  t.teardown(() => dir.close());
  await dir.addDomain('example.com');
  t.equal(await dir.redis.call('CLIENT', 'INFO').then((info) => /\bdb=5\b/.test(String(info))), true, 'connection is on db 5');
  const db0 = await Directory.connect(s.url, { prefix: P });
  t.teardown(() => db0.close());
  t.equal(await db0.hasDomain('example.com'), false, 'not in db 0');
});

t.test('master down, then the Sentinels too -> ERR_DIRECTORY_UNAVAILABLE within 3 s; close() still works', async (t) => {
  const s = await startRedisSentinel();
  t.teardown(() => s.stop());
  const dir = await Directory.connect(s.url, { prefix: P });
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be1', host: 'store1', login: 'user' });
  await dir.addUser({ name: 'alice@example.com', backend: 'be1' });
  await s.stopMaster();
  await unavailableWithin(t, 'getUser, master down', () => dir.getUser('alice@example.com'));
  await unavailableWithin(t, 'authenticate, master down', () => dir.authenticate('alice@example.com', 'pw'));
  await s.stop();
  await unavailableWithin(t, 'getUser, everything down', () => dir.getUser('alice@example.com'));
  await unavailableWithin(t, 'listUsers, everything down', () => dir.listUsers());
  await unavailableWithin(t, 'addUser, everything down', () => dir.addUser({ name: 'bob@example.com', backend: 'be1' }));
  const t0 = performance.now();
  await dir.close();
  t.ok(performance.now() - t0 < 1500, `close() with everything down: ${(performance.now() - t0).toFixed(0)} ms`);
});

t.test('connect while every Sentinel is down -> ERR_DIRECTORY_UNAVAILABLE within 3 s', async (t) => {
  const s = await startRedisSentinel({ sentinels: 3 });
  await s.stop();
  await unavailableWithin(t, 'connect', () => Directory.connect(s.url, { prefix: P }));
  const lazy = await Directory.connect(s.url, { prefix: P, waitReady: false });
  t.teardown(() => lazy.close());
  await unavailableWithin(t, 'getUser with waitReady false', () => lazy.getUser('alice@example.com'));
});

t.test('Sentinels up but the master down at connect -> ERR_DIRECTORY_UNAVAILABLE within 3 s', async (t) => {
  const s = await startRedisSentinel();
  t.teardown(() => s.stop());
  await s.stopMaster();
  await unavailableWithin(t, 'connect', () => Directory.connect(s.url, { prefix: P }));
});
