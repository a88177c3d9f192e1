import t from 'tap';
import { hashPassword } from '../src/index.ts';
import { directoryFixture, rejectsCode } from './helpers/redis.ts';

const P = 'gh-t-vserver:';

t.test('virtual server policy: stored in one hash, patched field by field, read back typed', async (t) => {
  const { dir, raw } = await directoryFixture(t, P);
  await dir.addDomain('example.com');
  await dir.addDomain('example.org');
  t.equal(await dir.getVserverPolicy('mail'), null, 'nothing stored: the config file decides');

  const p = await dir.setVserverPolicy('mail', {
    domains: ['Example.ORG', 'example.com', 'example.com'],
    defaultDomain: 'example.com',
    banner: 'Mail for example.com ready.',
    maxConnections: 500,
    maxConnectionsPerClient: 20,
    authTimeoutMs: 30_000,
    idleTimeoutMs: 1_800_000,
    pop3: false,
  });
  t.match(p, {
    name: 'mail',
    domains: ['example.com', 'example.org'],
    defaultDomain: 'example.com',
    banner: 'Mail for example.com ready.',
    maxConnections: 500,
    maxConnectionsPerClient: 20,
    authTimeoutMs: 30_000,
    idleTimeoutMs: 1_800_000,
    pop3: false,
  });
  t.equal(p.imap, undefined);
  const stored = await raw.hgetall(`${P}vserver:mail`);
  t.match(stored, { domains: 'example.com,example.org', defaultDomain: 'example.com', maxConnections: '500', pop3: '0' }, 'stored as documented');
  t.same(await raw.smembers(`${P}vservers`), ['mail']);

  const q = await dir.setVserverPolicy('mail', { banner: null, maxConnections: null, imap: true });
  t.equal(q.banner, undefined, 'null removes a field');
  t.equal(q.maxConnections, undefined);
  t.equal(q.imap, true);
  t.same(q.domains, ['example.com', 'example.org'], 'fields not in the patch are kept');

  t.equal(await rejectsCode(dir.setVserverPolicy('mail', { domains: ['nowhere.net'] })), 'ERR_NOT_FOUND', 'a domain must exist');
  t.equal(await rejectsCode(dir.setVserverPolicy('mail', { defaultDomain: 'nowhere.net' })), 'ERR_NOT_FOUND');
  t.equal(await rejectsCode(dir.setVserverPolicy('mail', { domains: ['bad domain'] })), 'ERR_BAD_RECORD');
  t.equal(await rejectsCode(dir.setVserverPolicy('mail', { domains: [] })), 'ERR_BAD_RECORD', 'an empty list would lock everyone out: use null for every domain');
  t.equal(await rejectsCode(dir.setVserverPolicy('mail', { banner: 'two\r\nlines' })), 'ERR_BAD_RECORD', 'CR LF cannot reach a greeting');
  t.equal(await rejectsCode(dir.setVserverPolicy('mail', { maxConnections: 0 })), 'ERR_BAD_RECORD');
  t.equal(await rejectsCode(dir.setVserverPolicy('mail', { authTimeoutMs: 10 })), 'ERR_BAD_RECORD');
  t.equal(await rejectsCode(dir.setVserverPolicy('Bad Name', { banner: 'x' })), 'ERR_BAD_NAME');
  t.same((await dir.getVserverPolicy('mail'))?.domains, ['example.com', 'example.org'], 'refused patches changed nothing');

  await dir.setVserverPolicy('other', { banner: 'Other.' });
  t.same((await dir.listVserverPolicies()).map((v) => v.name), ['mail', 'other']);
  await dir.delVserverPolicy('other');
  t.equal(await dir.getVserverPolicy('other'), null);
  t.equal(await rejectsCode(dir.delVserverPolicy('other')), 'ERR_NOT_FOUND');

  // A hand-edit that breaks a field makes the record unreadable rather than silently wider.
  await raw.hset(`${P}vserver:mail`, 'domains', 'example.com,not a domain');
  t.equal(await rejectsCode(dir.getVserverPolicy('mail')), 'ERR_BAD_RECORD');
  await raw.hset(`${P}vserver:mail`, { domains: 'example.com', maxConnections: '12x' });
  t.equal(await rejectsCode(dir.getVserverPolicy('mail')), 'ERR_BAD_RECORD');
});

t.test('authenticate with domains: a user of another domain is answered like an unknown user', async (t) => {
  const { dir } = await directoryFixture(t, `${P}auth:`);
  await dir.addDomain('example.com');
  await dir.addDomain('example.org');
  await dir.addBackend({ name: 'be1', host: '127.0.0.1', imapPort: 143, tls: 'none', login: 'master', masterUser: 'm', masterPassword: 'p' });
  const hash = await hashPassword('pw');
  await dir.addUser({ name: 'ann@example.com', backend: 'be1', password: hash });
  await dir.addUser({ name: 'olaf@example.org', backend: 'be1', password: hash });
  const only = { domains: ['example.com'] };
  t.match(await dir.authenticate('ann@example.com', 'pw', only), { ok: true });
  t.match(await dir.authenticate('ann', 'pw', { ...only, defaultDomain: 'example.com' }), { ok: true }, 'unqualified names get the default domain first');
  t.same(await dir.authenticate('olaf@example.org', 'pw', only), { ok: false, reason: 'unknown-user' }, 'right password, other domain: unknown');
  t.same(await dir.authenticate('olaf@example.org', 'wrong', only), { ok: false, reason: 'unknown-user' }, 'same answer with a wrong password');
  t.same(await dir.authenticate('olaf', 'pw', { ...only, defaultDomain: 'example.org' }), { ok: false, reason: 'unknown-user' });
  t.match(await dir.authenticate('olaf@example.org', 'pw'), { ok: true }, 'without a domain list every domain may log in');
});
