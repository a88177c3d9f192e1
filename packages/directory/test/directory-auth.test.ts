import t from 'tap';
import { hashPassword, needsRehash, type AuthResult } from '../src/index.ts';
import { directoryFixture } from './helpers/redis.ts';

const P = 'gh-t-auth:';

function reason(r: AuthResult): string {
  return r.ok ? 'ok' : r.reason;
}

t.test('authenticate: every outcome', async (t) => {
  const { dir, raw } = await directoryFixture(t, P);
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be-master', host: 'store1', login: 'master', masterUser: 'proxy', masterPassword: 'mpw' });
  await dir.addBackend({ name: 'be-user', host: 'store2', login: 'user' });
  const hash = await hashPassword('right');
  await dir.addUser({ name: 'alice@example.com', backend: 'be-master', password: hash });
  await dir.addUser({ name: 'dis@example.com', backend: 'be-master', password: hash, state: 'disabled' });
  await dir.addUser({ name: 'relay@example.com', backend: 'be-user' });
  await dir.addUser({ name: 'relay-dis@example.com', backend: 'be-user', state: 'disabled', password: hash });
  await dir.addUser({ name: 'nopw@example.com', backend: 'be-master' });
  await dir.addUser({ name: 'orphan@example.com', backend: 'be-master', password: hash });
  await raw.hset(`${P}user:orphan@example.com`, 'backend', 'deleted-be');

  t.test('ok: right password, active user, back-end found', async (t) => {
    const r = await dir.authenticate('alice@example.com', 'right');
    t.equal(reason(r), 'ok');
    if (r.ok) {
      t.equal(r.user.name, 'alice@example.com');
      t.equal(r.backend.name, 'be-master');
      t.equal(r.backend.masterUser, 'proxy');
    }
    t.equal(reason(await dir.authenticate('ALICE@Example.COM', 'right')), 'ok', 'case-insensitive name');
    t.equal(reason(await dir.authenticate('alice', 'right', { defaultDomain: 'example.com' })), 'ok', 'default domain');
    t.equal(reason(await dir.authenticate('alice', 'right')), 'unknown-user', 'no default domain: unqualified is another name');
  });

  t.test('bad-password, unknown-user, bad-username', async (t) => {
    t.same(await dir.authenticate('alice@example.com', 'wrong'), {
      ok: false, reason: 'bad-password', user: await dir.getUser('alice@example.com'), backend: await dir.getBackend('be-master'),
    });
    t.same(await dir.authenticate('nobody@example.com', 'right'), { ok: false, reason: 'unknown-user' });
    t.same(await dir.authenticate('bad name', 'right'), { ok: false, reason: 'bad-username' });
    t.same(await dir.authenticate('', ''), { ok: false, reason: 'bad-username' });
    t.equal(reason(await dir.authenticate('alice@example.com', '')), 'bad-password');
    t.equal(reason(await dir.authenticate('alice@example.com', 'right'.repeat(300))), 'bad-password', 'over-long password');
  });

  t.test('disabled is revealed only after the right password', async (t) => {
    t.equal(reason(await dir.authenticate('dis@example.com', 'wrong')), 'bad-password');
    const r = await dir.authenticate('dis@example.com', 'right');
    t.equal(reason(r), 'disabled');
    t.equal(r.user?.state, 'disabled');
  });

  t.test('backend-checks-password: no local hash is consulted, credentials are relayed', async (t) => {
    const r = await dir.authenticate('relay@example.com', 'anything');
    t.equal(reason(r), 'backend-checks-password');
    t.equal(r.user?.name, 'relay@example.com');
    t.equal(r.backend?.name, 'be-user');
    const d = await dir.authenticate('relay-dis@example.com', 'wrong');
    t.equal(reason(d), 'backend-checks-password', 'even a local hash and a disabled state are left to the caller, after the back-end accepts');
    t.equal(d.user?.state, 'disabled');
  });

  t.test('no-backend only after the right password; no local hash means bad-password', async (t) => {
    t.equal(reason(await dir.authenticate('orphan@example.com', 'wrong')), 'bad-password');
    const r = await dir.authenticate('orphan@example.com', 'right');
    t.equal(reason(r), 'no-backend');
    t.equal(r.backend, undefined);
    t.equal(reason(await dir.authenticate('nopw@example.com', 'anything')), 'bad-password');
  });

  t.test('legacy hashes verify, and rehash: true upgrades them on success (compare-and-set)', async (t) => {
    const legacy = '{SHA512-CRYPT}$6$1dlM8UasKLl9hhZJ$rfleIFdTNoxKvSsudJODSrvR6iWkpYMdWJaadHd1zCkLfYejCghtyfse56PPXWx0BZXfh1VKVsvd721wL/DyC1';
    await dir.addUser({ name: 'old@example.com', backend: 'be-master', password: legacy });
    t.equal(reason(await dir.authenticate('old@example.com', 'Secret123!')), 'ok');
    t.equal((await dir.getUser('old@example.com'))?.password, legacy, 'no rehash unless asked');
    t.equal(reason(await dir.authenticate('old@example.com', 'wrong', { rehash: true })), 'bad-password');
    t.equal((await dir.getUser('old@example.com'))?.password, legacy, 'never rehashed on a failure');
    const r = await dir.authenticate('old@example.com', 'Secret123!', { rehash: true });
    t.equal(reason(r), 'ok');
    const stored = (await dir.getUser('old@example.com'))?.password ?? '';
    t.match(stored, /^\{SCRYPT\}/);
    t.equal(needsRehash(stored), false);
    t.equal(r.user?.password, stored);
    t.equal(reason(await dir.authenticate('old@example.com', 'Secret123!')), 'ok', 'the new hash verifies');
  });

  t.test('an unknown user costs about as much time as a known one', async (t) => {
    const time = async (user: string): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await dir.authenticate(user, 'wrong');
        samples.push(performance.now() - t0);
      }
      return samples.sort((a, b) => a - b)[2] ?? 0;
    };
    await dir.authenticate('nobody@example.com', 'warm-up'); // the dummy hash is made once
    const known = await time('alice@example.com');
    const unknown = await time('nobody@example.com');
    const noHash = await time('nopw@example.com');
    t.comment(`median ms: known ${known.toFixed(1)}, unknown ${unknown.toFixed(1)}, known without hash ${noHash.toFixed(1)}`);
    // Without the dummy hash an unknown user would answer in about 1 ms against ~75 ms.
    t.ok(unknown > known / 3 && unknown < known * 3, 'unknown user within 3x of a known user');
    t.ok(noHash > known / 3 && noHash < known * 3, 'user without a local hash within 3x too');
  });
});
