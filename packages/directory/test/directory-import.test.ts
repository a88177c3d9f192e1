import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { parsePasswdFile } from '../src/index.ts';
import { directoryFixture, rejectsCode } from './helpers/redis.ts';

const P = 'gh-t-import:';

const FILE = [
  '# exported from the old IMAP server',
  'alice@example.com:{SHA512-CRYPT}$6$1dlM8UasKLl9hhZJ$rfleIFdTNoxKvSsudJODSrvR6iWkpYMdWJaadHd1zCkLfYejCghtyfse56PPXWx0BZXfh1VKVsvd721wL/DyC1:1000:1000::/home/alice::',
  'bob@example.com:{PLAIN}bobpw',
  'carol@elsewhere.net:{PLAIN}carolpw',
  'bad"user@example.com:{PLAIN}x',
  'dave@example.com:{NOPE}x',
  'erin:{PLAIN}erinpw',
  'frank@example.com:$1$Gb/hB81H$CiQUW1ENvlW6GRL7KN.550',
].join('\n');

/** A cheap valid {SSHA256} hash (hash cost is not what the import measures). */
function ssha256(password: string): string {
  const salt = randomBytes(8);
  return `{SSHA256}${Buffer.concat([createHash('sha256').update(password).update(salt).digest(), salt]).toString('base64')}`;
}

t.test('importUsers', async (t) => {
  const { dir, raw } = await directoryFixture(t, P);
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be1', host: 'store1', login: 'master', masterUser: 'proxy', masterPassword: 'x' });
  await dir.addBackend({ name: 'be2', host: 'store2', login: 'master', masterUser: 'proxy', masterPassword: 'x' });

  t.test('good lines are imported, bad ones reported by line; a second run is unchanged', async (t) => {
    const parsed = parsePasswdFile(FILE);
    t.same(parsed.errors.map((e) => [e.line, e.code]), [[5, 'ERR_BAD_USERNAME'], [6, 'ERR_BAD_HASH']]);
    const first = await dir.importUsers(parsed.entries, { backend: 'be1' });
    t.same({ ...first, errors: first.errors.map((e) => [e.line, e.code]) }, {
      added: 3, updated: 0, unchanged: 0,
      errors: [[4, 'ERR_NOT_FOUND'], [7, 'ERR_BAD_USERNAME']],
    }, 'unknown domain and unqualified name are skipped');
    t.match(first.errors[0]?.message, /elsewhere\.net/);
    t.equal(await dir.getUser('carol@elsewhere.net'), null);
    t.match(await dir.getUser('frank@example.com'), { backend: 'be1', state: 'active', password: '{CRYPT}$1$Gb/hB81H$CiQUW1ENvlW6GRL7KN.550' });
    t.match(await dir.authenticate('alice@example.com', 'Secret123!'), { ok: true });
    t.match(await dir.authenticate('frank@example.com', 'Secret123!'), { ok: true });
    t.match(await dir.authenticate('bob@example.com', 'bobpw'), { ok: true });

    const second = await dir.importUsers(parsed.entries, { backend: 'be1' });
    t.same([second.added, second.updated, second.unchanged, second.errors.length], [0, 0, 3, 2], 'idempotent');

    await dir.setUser('bob@example.com', { state: 'disabled', imap: false });
    const changed = parsePasswdFile(FILE.replace('{PLAIN}bobpw', '{PLAIN}newpw'));
    const third = await dir.importUsers(changed.entries, { backend: 'be1' });
    t.same([third.added, third.updated, third.unchanged], [0, 1, 2]);
    t.match(await dir.getUser('bob@example.com'), { password: '{PLAIN}newpw', state: 'disabled', imap: false }, 'state and flags of existing users are kept');

    const moved = await dir.importUsers(parsed.entries, { backend: 'be2' });
    t.same([moved.added, moved.updated, moved.unchanged], [0, 3, 0], 'the back-end given is where the users now live');
    t.equal((await dir.getUser('alice@example.com'))?.backend, 'be2');

    t.equal(await rejectsCode(dir.importUsers(parsed.entries, { backend: 'nope' })), 'ERR_NOT_FOUND');
    t.equal(await raw.exists(`${P}user:erin`), 0);
  });

  t.test('10,000 users: rate of a first and of an unchanged second import', async (t) => {
    const N = 10_000;
    const lines = Array.from({ length: N }, (_, i) => `user${String(i).padStart(5, '0')}@example.com:${ssha256(`pw${i}`)}`);
    const { entries, errors } = parsePasswdFile(lines.join('\n'));
    t.equal(errors.length, 0);
    let t0 = performance.now();
    const first = await dir.importUsers(entries, { backend: 'be1' });
    const firstMs = performance.now() - t0;
    t0 = performance.now();
    const second = await dir.importUsers(entries, { backend: 'be1' });
    const secondMs = performance.now() - t0;
    t.same([first.added, first.updated, first.unchanged], [N, 0, 0]);
    t.same([second.added, second.updated, second.unchanged], [0, 0, N]);
    const rate = (ms: number) => Math.round(N / (ms / 1000));
    t.comment(`import of ${N}: first ${firstMs.toFixed(0)} ms (${rate(firstMs)} users/s), unchanged re-run ${secondMs.toFixed(0)} ms (${rate(secondMs)} users/s)`);
    t.ok(rate(firstMs) > 1000, 'over a thousand users per second even on a loaded CI machine');
    t.equal(await raw.scard(`${P}users`), N + 3);
    const sample = await dir.getUser('user04242@example.com');
    t.equal(sample?.backend, 'be1');
    t.match(await dir.authenticate('user04242@example.com', 'pw4242'), { ok: true });
    t.match(await dir.authenticate('user04242@example.com', 'pw4243'), { ok: false, reason: 'bad-password' });
    t0 = performance.now();
    const listed = await dir.listUsers({ backend: 'be1' });
    t.comment(`listUsers over ${N + 3} users: ${(performance.now() - t0).toFixed(0)} ms`);
    t.equal(listed.length, N);
  });
});
