import t from 'tap';
import { VerifiedPasswordCache, hashPassword } from '../src/index.ts';
import { directoryFixture } from './helpers/redis.ts';

t.test('verified-password cache: a hit only for the same stored hash and password, within the TTL', async (t) => {
  const c = new VerifiedPasswordCache({ ttlMs: 1000, maxEntries: 10 });
  c.add('{X}h1', 'pw', 0);
  t.ok(c.has('{X}h1', 'pw', 999));
  t.notOk(c.has('{X}h1', 'pw2', 10), 'another password');
  t.notOk(c.has('{X}h2', 'pw', 10), 'another stored hash (the password was changed)');
  t.notOk(c.has('{X}h1', 'pw', 2000), 'expired');
  t.equal(c.size, 0, 'an expired entry is dropped when met');
  c.add('{X}h', '1:x', 0);
  t.notOk(c.has('{X}h1', ':x', 0), 'no collision by shifting bytes between hash and password');
});

t.test('verified-password cache: bounded, least recently used evicted first', async (t) => {
  const c = new VerifiedPasswordCache({ ttlMs: 60_000, maxEntries: 3 });
  for (const p of ['a', 'b', 'c']) c.add('{X}h', p, 0);
  t.ok(c.has('{X}h', 'a', 1), 'touching a makes b the oldest');
  c.add('{X}h', 'd', 2);
  t.equal(c.size, 3);
  t.notOk(c.has('{X}h', 'b', 3));
  t.ok(c.has('{X}h', 'a', 3));
  t.ok(c.has('{X}h', 'd', 3));
  const off = new VerifiedPasswordCache({ ttlMs: 60_000, maxEntries: 0 });
  off.add('{X}h', 'a', 0);
  t.notOk(off.has('{X}h', 'a', 0), 'maxEntries 0 keeps nothing');
});

t.test('authenticate with the cache: same outcomes as without, a changed password takes effect at once', async (t) => {
  const { dir } = await directoryFixture(t, 'gh-t-vcache:');
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be', host: 'store', login: 'master', masterUser: 'm', masterPassword: 'p' });
  await dir.addUser({ name: 'alice@example.com', backend: 'be', password: await hashPassword('first') });
  for (let i = 0; i < 3; i++) {
    t.equal((await dir.authenticate('alice@example.com', 'first')).ok, true, `login ${i + 1}`);
    t.match(await dir.authenticate('alice@example.com', 'wrong'), { ok: false, reason: 'bad-password' });
  }
  await dir.setUser('alice@example.com', { password: await hashPassword('second') });
  t.match(await dir.authenticate('alice@example.com', 'first'), { ok: false, reason: 'bad-password' }, 'the old password no longer works');
  t.equal((await dir.authenticate('alice@example.com', 'second')).ok, true);
  await dir.setUser('alice@example.com', { state: 'disabled' });
  t.match(await dir.authenticate('alice@example.com', 'second'), { ok: false, reason: 'disabled' }, 'account state is read on every login');
});
