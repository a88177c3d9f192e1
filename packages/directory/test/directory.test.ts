import t from 'tap';
import { hashPassword } from '../src/index.ts';
import { allKeys, directoryFixture, rejectsCode } from './helpers/redis.ts';

const P = 'gh-t-crud:';

t.test('directory CRUD against a real redis-server', async (t) => {
  const { dir, raw } = await directoryFixture(t, P);
  const hash = await hashPassword('pw');

  t.test('domains: add, has, list, duplicate, delete', async (t) => {
    const d = await dir.addDomain('Example.COM');
    t.equal(d.name, 'example.com');
    t.match(d.created, /^\d{4}-\d\d-\d\dT/);
    await dir.addDomain('other.org');
    t.equal(await dir.hasDomain('EXAMPLE.com'), true);
    t.equal(await dir.hasDomain('nope.net'), false);
    t.same((await dir.listDomains()).map((x) => x.name), ['example.com', 'other.org']);
    t.equal(await rejectsCode(dir.addDomain('example.com')), 'ERR_EXISTS');
    t.equal(await rejectsCode(dir.addDomain('bad domain')), 'ERR_BAD_NAME');
    await dir.addDomain('gone.net');
    await dir.delDomain('gone.net');
    t.equal(await rejectsCode(dir.delDomain('gone.net')), 'ERR_NOT_FOUND');
    t.same(await raw.hgetall(`${P}domain:example.com`), { created: d.created }, 'stored as documented');
  });

  t.test('backends: add with defaults, validation, get, list, set, duplicate', async (t) => {
    const be1 = await dir.addBackend({ name: 'be1', host: 'Store1.Example.com', login: 'master', masterUser: 'proxy', masterPassword: 'm@ster pw' });
    t.match(be1, { name: 'be1', host: 'store1.example.com', imapPort: 143, tls: 'none', login: 'master', state: 'active', tlsVerify: false });
    t.equal(be1.pop3Port, undefined);
    const be2 = await dir.addBackend({ name: 'be2', host: '10.0.0.2', login: 'user', tls: 'implicit', pop3Port: 995, tlsVerify: true });
    t.match(be2, { imapPort: 993, pop3Port: 995, tls: 'implicit', login: 'user', tlsVerify: true });
    await dir.addBackend({ name: 'be6', host: 'fd00::6', login: 'user', tls: 'starttls', imapPort: 1143 });
    t.same(await raw.hgetall(`${P}backend:be1`), {
      host: 'store1.example.com', imapPort: '143', tls: 'none', login: 'master', state: 'active', tlsVerify: '0',
      masterUser: 'proxy', masterPassword: 'm@ster pw', created: be1.created, updated: be1.updated,
    }, 'stored as documented');

    t.equal(await rejectsCode(dir.addBackend({ name: 'be1', host: 'x', login: 'user' })), 'ERR_EXISTS');
    t.equal(await rejectsCode(dir.addBackend({ name: 'be3', host: 'x', login: 'master' })), 'ERR_BAD_RECORD', 'master login needs credentials');
    t.equal(await rejectsCode(dir.addBackend({ name: 'be3', host: 'x', login: 'user', imapPort: 70000 })), 'ERR_BAD_RECORD');
    t.equal(await rejectsCode(dir.addBackend({ name: 'be3', host: 'bad host', login: 'user' })), 'ERR_BAD_RECORD');
    t.equal(await rejectsCode(dir.addBackend({ name: 'be3', host: 'x', login: 'user', tls: 'maybe' as 'none' })), 'ERR_BAD_RECORD');
    t.equal(await rejectsCode(dir.addBackend({ name: 'be3', host: 'x', login: 'master', masterUser: 'a b', masterPassword: 'x' })), 'ERR_BAD_RECORD');
    t.equal(await rejectsCode(dir.addBackend({ name: 'be3', host: 'x', login: 'master', masterUser: 'a', masterPassword: 'x\r\ny' })), 'ERR_BAD_RECORD');
    t.equal(await rejectsCode(dir.addBackend({ name: 'BE3', host: 'x', login: 'user' })), 'ERR_BAD_NAME');
    t.equal(await dir.getBackend('be3'), null);

    t.same(await dir.getBackend('be2'), be2);
    t.same((await dir.listBackends()).map((b) => b.name), ['be1', 'be2', 'be6']);

    const drained = await dir.setBackend('be2', { state: 'drain', pop3Port: null });
    t.equal(drained.state, 'drain');
    t.equal(drained.pop3Port, undefined);
    t.equal(await raw.hexists(`${P}backend:be2`, 'pop3Port'), 0, 'null removes the field');
    t.equal(await rejectsCode(dir.setBackend('be2', { login: 'master' })), 'ERR_BAD_RECORD', 'a patch must leave a valid back-end');
    t.equal(await rejectsCode(dir.setBackend('be1', { masterPassword: null })), 'ERR_BAD_RECORD');
    t.equal((await dir.getBackend('be1'))?.masterPassword, 'm@ster pw', 'a refused patch changes nothing');
    t.equal(await rejectsCode(dir.setBackend('nope', { state: 'drain' })), 'ERR_NOT_FOUND');
  });

  t.test('users: add validates domain, backend and hash; round trips; patches', async (t) => {
    t.equal(await rejectsCode(dir.addUser({ name: 'a@unknown.net', backend: 'be1', password: hash })), 'ERR_NOT_FOUND', 'domain must be added first');
    t.equal(await rejectsCode(dir.addUser({ name: 'a@example.com', backend: 'nope', password: hash })), 'ERR_NOT_FOUND');
    t.equal(await rejectsCode(dir.addUser({ name: 'unqualified', backend: 'be1', password: hash })), 'ERR_BAD_USERNAME');
    t.equal(await rejectsCode(dir.addUser({ name: 'a@example.com', backend: 'be1', password: 'cleartext' })), 'ERR_BAD_HASH', 'a cleartext password is not a hash');
    t.equal(await rejectsCode(dir.addUser({ name: 'a@example.com', backend: 'be1', state: 'gone' as 'active' })), 'ERR_BAD_RECORD');
    t.equal(await dir.getUser('a@example.com'), null, 'nothing was written by the refused adds');

    const alice = await dir.addUser({ name: 'Alice@Example.com', backend: 'be1', password: hash });
    t.match(alice, { name: 'alice@example.com', backend: 'be1', state: 'active', password: hash });
    t.equal(alice.imap, undefined, 'no IMAP switch of its own: the virtual server default applies');
    t.equal(alice.pop3, undefined);
    t.same(await dir.getUser('ALICE@example.COM'), alice, 'lookup normalizes too');
    t.same(await raw.hgetall(`${P}user:alice@example.com`), {
      password: hash, backend: 'be1', state: 'active', created: alice.created, updated: alice.updated,
    }, 'stored as documented');
    t.equal(await rejectsCode(dir.addUser({ name: 'alice@example.com', backend: 'be2' })), 'ERR_EXISTS');
    t.equal((await dir.getUser('alice@example.com'))?.backend, 'be1', 'a refused duplicate changes nothing');

    const bob = await dir.addUser({ name: 'bob@other.org', backend: 'be2', imap: false, state: 'disabled' });
    t.match(bob, { imap: false, state: 'disabled' });
    t.equal(bob.pop3, undefined);
    t.equal(bob.password, undefined);
    await dir.addUser({ name: 'carol@example.com', backend: 'be2', password: '{PLAIN}x' });

    const patched = await dir.setUser('bob@other.org', { state: 'active', pop3: false, password: hash, backend: 'be1' });
    t.match(patched, { state: 'active', pop3: false, imap: false, backend: 'be1', password: hash });
    const noPw = await dir.setUser('bob@other.org', { password: null, imap: null });
    t.equal(noPw.password, undefined);
    t.equal(noPw.imap, undefined, 'null removes the own switch');
    t.equal(noPw.pop3, false);
    t.equal(await rejectsCode(dir.setUser('nobody@example.com', { state: 'disabled' })), 'ERR_NOT_FOUND');
    t.equal(await dir.getUser('nobody@example.com'), null, 'setUser never creates');
    t.equal(await rejectsCode(dir.setUser('bob@other.org', { backend: 'nope' })), 'ERR_NOT_FOUND');
    t.equal(await rejectsCode(dir.setUser('bob@other.org', { password: '{NOPE}x' })), 'ERR_BAD_HASH');

    t.same((await dir.listUsers()).map((u) => u.name), ['alice@example.com', 'bob@other.org', 'carol@example.com']);
    t.same((await dir.listUsers({ backend: 'be2' })).map((u) => u.name), ['carol@example.com']);
    t.same((await dir.listUsers({ domain: 'Example.com' })).map((u) => u.name), ['alice@example.com', 'carol@example.com']);
  });

  t.test('deleting: in-use back-ends and domains are refused; users go away', async (t) => {
    t.equal(await rejectsCode(dir.delBackend('be1')), 'ERR_IN_USE');
    t.equal(await rejectsCode(dir.delDomain('example.com')), 'ERR_IN_USE');
    t.equal(await rejectsCode(dir.delBackend('nope')), 'ERR_NOT_FOUND');
    await dir.delBackend('be6');
    t.equal(await dir.getBackend('be6'), null);
    await dir.delUser('Carol@example.com');
    t.equal(await dir.getUser('carol@example.com'), null);
    t.equal(await rejectsCode(dir.delUser('carol@example.com')), 'ERR_NOT_FOUND');
    t.equal(await raw.sismember(`${P}users`, 'carol@example.com'), 0);
    await dir.delUser('bob@other.org');
    await dir.delDomain('other.org');
    t.same((await dir.listDomains()).map((d) => d.name), ['example.com']);
  });

  t.test('index sets may hold stale names (crash between two writes); listings skip them', async (t) => {
    await raw.sadd(`${P}users`, 'ghost@example.com');
    await raw.sadd(`${P}backends`, 'ghost');
    t.same((await dir.listUsers()).map((u) => u.name), ['alice@example.com']);
    t.same((await dir.listBackends()).map((b) => b.name), ['be1', 'be2']);
    await dir.addUser({ name: 'ghost@example.com', backend: 'be1' });
    t.equal((await dir.listUsers()).length, 2, 'adding over a stale name works');
  });

  t.test('a broken stored record is ERR_BAD_RECORD, not a crash', async (t) => {
    await raw.hset(`${P}user:broken@example.com`, 'backend', 'be1', 'state', 'weird');
    t.equal(await rejectsCode(dir.getUser('broken@example.com')), 'ERR_BAD_RECORD');
    await raw.set(`${P}user:string@example.com`, 'not a hash');
    t.equal(await rejectsCode(dir.getUser('string@example.com')), 'ERR_BAD_RECORD', 'WRONGTYPE');
    await raw.del(`${P}user:broken@example.com`, `${P}user:string@example.com`);
  });

  t.test('username injection never reaches Redis', async (t) => {
    const before = await allKeys(raw);
    const attacks = ['a\r\nb', 'a"b', 'a\u0000b', 'a b', 'user:x', '*', 'alice@example.com\r\nDEL x', 'x@example.com:password', '{x}', 'a%b', '\u212alice@example.com'];
    for (const name of attacks) {
      const label = JSON.stringify(name).replace(/[^\x20-\x7e]/g, '?');
      t.equal(await rejectsCode(dir.getUser(name)), 'ERR_BAD_USERNAME', `getUser ${label}`);
      t.equal(await rejectsCode(dir.addUser({ name, backend: 'be1', password: hash })), 'ERR_BAD_USERNAME', `addUser ${label}`);
      t.equal(await rejectsCode(dir.setUser(name, { state: 'disabled' })), 'ERR_BAD_USERNAME', `setUser ${label}`);
      t.equal(await rejectsCode(dir.delUser(name)), 'ERR_BAD_USERNAME', `delUser ${label}`);
      t.match(await dir.authenticate(name, 'pw'), { ok: false, reason: 'bad-username' }, `authenticate ${label}`);
      t.match(await dir.authenticate(name, 'pw', { defaultDomain: 'example.com' }), { ok: false, reason: 'bad-username' });
    }
    const after = await allKeys(raw);
    t.same(after, before, 'no key was created');
    for (const key of after) {
      t.match(key, /^gh-t-crud:(?:users|backends|domains|(?:user|backend|domain):[a-z0-9@._+-]+)$/, `only well-formed keys: ${key}`);
    }
  });
});
