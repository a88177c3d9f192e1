import t from 'tap';
import { directoryFixture, rejectsCode } from './helpers/redis.ts';

const P = 'gh-t-access:';

t.test('access rules: stored per virtual server in one hash, read back sorted', async (t) => {
  const { dir, raw } = await directoryFixture(t, P);
  t.same(await dir.getAccessRules('example'), { default: 'grant', rules: [], domains: [] }, 'nothing stored: grant all');
  await dir.setAccessRule('example', '10.0.0.0/8', 'deny');
  await dir.setAccessRule('example', '10.1.2.3', 'grant');
  await dir.setAccessRule('example', '2001:db8::/32', 'deny');
  await dir.setAccessDefault('example', 'deny');
  t.same(await raw.hgetall(`${P}access:example`), { '10.0.0.0/8': 'deny', '10.1.2.3': 'grant', '2001:db8::/32': 'deny', default: 'deny' }, 'stored as documented');
  t.same(await dir.getAccessRules('example'), {
    default: 'deny',
    rules: [
      { network: '10.0.0.0/8', action: 'deny' },
      { network: '10.1.2.3', action: 'grant' },
      { network: '2001:db8::/32', action: 'deny' },
    ],
    domains: [],
  });
  await dir.setAccessRule('example', '10.0.0.0/8', 'grant');
  t.equal((await dir.getAccessRules('example')).rules[0]?.action, 'grant', 'one action per network: replaced');
  t.equal(await dir.delAccessRule('example', '10.1.2.3'), true);
  t.equal(await dir.delAccessRule('example', '10.1.2.3'), false);
  t.same(await dir.getAccessRules('other'), { default: 'grant', rules: [], domains: [] }, 'per virtual server');

  t.equal(await rejectsCode(dir.setAccessRule('Bad Name', '10.0.0.1', 'deny')), 'ERR_BAD_NAME');
  t.equal(await rejectsCode(dir.setAccessRule('example', '10.0.0.1 x', 'deny')), 'ERR_BAD_RECORD');
  t.equal(await rejectsCode(dir.setAccessRule('example', '10.0.0.1', 'allow')), 'ERR_BAD_RECORD');
  t.equal(await rejectsCode(dir.setAccessDefault('example', 'maybe')), 'ERR_BAD_RECORD');

  // Hand edits: junk fields are skipped, a broken default fails closed.
  await raw.hset(`${P}access:hand`, { default: 'Grant', 'not a net': 'deny', '10.0.0.9': 'perhaps', '10.0.0.8': 'grant' });
  t.same(await dir.getAccessRules('hand'), { default: 'deny', rules: [{ network: '10.0.0.8', action: 'grant' }], domains: [] });
});

t.test('domain rules: kept apart from networks in the same hash; junk skipped', async (t) => {
  const { dir, raw } = await directoryFixture(t, `${P}d:`);
  await dir.setAccessRule('example', '*.example.net', 'grant');
  await dir.setAccessRule('example', 'mail.example.net', 'deny');
  await dir.setAccessRule('example', 'dead.beef', 'deny');
  await dir.setAccessRule('example', '10.0.0.0/8', 'deny');
  await dir.setAccessDefault('example', 'deny');
  t.same(
    await raw.hgetall(`${P}d:access:example`),
    { '*.example.net': 'grant', 'mail.example.net': 'deny', 'dead.beef': 'deny', '10.0.0.0/8': 'deny', default: 'deny' },
    'stored as documented: the pattern is the field',
  );
  t.same(await dir.getAccessRules('example'), {
    default: 'deny',
    rules: [{ network: '10.0.0.0/8', action: 'deny' }],
    domains: [
      { domain: '*.example.net', action: 'grant' },
      { domain: 'dead.beef', action: 'deny' },
      { domain: 'mail.example.net', action: 'deny' },
    ],
  }, 'a name with letters in its last label is a domain rule, even when it looks like hex');
  t.equal(await dir.delAccessRule('example', 'mail.example.net'), true);
  t.equal(await dir.delAccessRule('example', 'mail.example.net'), false);
  for (const bad of ['Mail.example.net', 'mail.example.net.', 'a b.example.net', 'x\r\n.example.net', `${'a'.repeat(64)}.example.net`, '*.*.example.net']) {
    t.equal(await rejectsCode(dir.setAccessRule('example', bad, 'deny')), 'ERR_BAD_RECORD', JSON.stringify(bad));
  }
  const label63 = 'a'.repeat(63);
  const name253 = [label63, label63, label63, 'b'.repeat(61)].join('.');
  await dir.setAccessRule('example', name253, 'grant');
  t.equal(await rejectsCode(dir.setAccessRule('example', `${name253}b`, 'grant')), 'ERR_BAD_RECORD', 'over 253 characters');

  // Hand edits: fields that are neither a canonical network nor a canonical pattern are skipped.
  await raw.hset(`${P}d:access:hand`, { 'Upper.Example.net': 'deny', 'under_score.example.net': 'deny', localhost: 'deny', 'x.example.net': 'perhaps', 'ok.example.net': 'deny' });
  t.same(await dir.getAccessRules('hand'), { default: 'grant', rules: [], domains: [{ domain: 'ok.example.net', action: 'deny' }] });
});

t.test('user networks: stored comma-separated, removed with null or [], checked when read', async (t) => {
  const { dir, raw } = await directoryFixture(t, `${P}u:`);
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be', host: '127.0.0.1', login: 'user' });
  await dir.addUser({ name: 'nina@example.com', backend: 'be' });
  t.equal((await dir.getUser('nina@example.com'))?.networks, undefined, 'no restriction by default');
  await dir.setUser('nina@example.com', { networks: ['10.0.0.0/8', '2001:db8::/32'] });
  t.equal(await raw.hget(`${P}u:user:nina@example.com`, 'networks'), '10.0.0.0/8,2001:db8::/32', 'stored as documented');
  t.same((await dir.getUser('nina@example.com'))?.networks, ['10.0.0.0/8', '2001:db8::/32']);
  await dir.setUser('nina@example.com', { networks: [] });
  t.equal((await dir.getUser('nina@example.com'))?.networks, undefined, '[] removes the field');
  await dir.setUser('nina@example.com', { networks: ['10.0.0.1'] });
  await dir.setUser('nina@example.com', { networks: null });
  t.equal(await raw.hget(`${P}u:user:nina@example.com`, 'networks'), null, 'null removes the field');
  t.equal(await rejectsCode(dir.setUser('nina@example.com', { networks: ['10.0.0.1 ; x'] })), 'ERR_BAD_RECORD');
  t.equal(await rejectsCode(dir.setUser('nina@example.com', { networks: Array.from({ length: 33 }, (_, i) => `10.0.0.${i}`) })), 'ERR_BAD_RECORD');
  await raw.hset(`${P}u:user:nina@example.com`, 'networks', 'garbage!');
  t.equal(await rejectsCode(dir.getUser('nina@example.com')), 'ERR_BAD_RECORD', 'a hand-edited list that is not networks is a broken record');
});
