import t from 'tap';
import { AccessPolicy, canonicalAccessRule, canonicalDomainRule, normalizeHostName, parseDomainPattern } from '../src/index.ts';

t.test('host names from DNS: LDH only, lower-cased, one trailing dot dropped, at most 253 characters', async (t) => {
  t.equal(normalizeHostName('Mail.Example.NET.'), 'mail.example.net');
  t.equal(normalizeHostName('a'), 'a');
  t.equal(normalizeHostName('x-1.example.net'), 'x-1.example.net');
  const label63 = 'a'.repeat(63);
  const name253 = [label63, label63, label63, 'b'.repeat(61)].join('.');
  t.equal(name253.length, 253);
  t.equal(normalizeHostName(name253), name253, 'at the cap');
  t.equal(normalizeHostName(`${name253}.`), name253, 'at the cap with the root dot');
  t.equal(normalizeHostName(`${name253}b`), null, 'one over the cap');
  t.equal(normalizeHostName(`${'a'.repeat(64)}.example.net`), null, 'a 64-character label');
  for (const bad of [
    '',
    '.',
    'a..b',
    '.example.net',
    'example.net..',
    'good.example.net evil',
    'good.example.net\r\nx-injected: 1',
    'good.example.net\n',
    'good\x00.example.net',
    'bad_name.example.net',
    '-a.example.net',
    'a-.example.net',
    '*.example.net',
    'exa\\046mple.net',
    'ex/ample.net',
    '\u212Aey.example.net',
    'bücher.example',
  ]) {
    t.equal(normalizeHostName(bad), null, JSON.stringify(bad));
  }
  t.equal(normalizeHostName(42 as unknown as string), null, 'not a string');
});

t.test('domain rules: exact needs two labels, wildcard any depth below, last label not numeric', async (t) => {
  t.equal(canonicalDomainRule('Mail.Example.Net.'), 'mail.example.net');
  t.equal(canonicalDomainRule('*.EXAMPLE.net'), '*.example.net');
  t.equal(canonicalDomainRule('*.net'), '*.net');
  t.same(parseDomainPattern('*.a.example.net'), { kind: 'wildcard', name: 'a.example.net', labels: 3 });
  t.same(parseDomainPattern('host.example.net'), { kind: 'exact', name: 'host.example.net', labels: 3 });
  const label63 = 'a'.repeat(63);
  const suffix251 = [label63, label63, label63, 'b'.repeat(59)].join('.');
  t.equal(canonicalDomainRule(`*.${suffix251}`).length, 253, 'wildcard at the cap');
  t.throws(() => canonicalDomainRule(`*.${suffix251}b`), { code: 'ERR_BAD_ACCESS_RULE' }, 'wildcard one over');
  t.equal(parseDomainPattern(42 as unknown as string), null, 'not a string');
  for (const bad of ['default', 'localhost', '*', '*.', '**.example.net', 'a.*.example.net', '*example.net', 'x.1.2', '*.1.2', '1.2.3.4', 'a b.net', 'a_b.example.net', '']) {
    t.throws(() => canonicalDomainRule(bad), { code: 'ERR_BAD_ACCESS_RULE' }, JSON.stringify(bad));
  }
});

t.test('access rule targets: networks and domains told apart by shape', async (t) => {
  t.same(canonicalAccessRule('10.1.2.3/8'), { network: '10.0.0.0/8' });
  t.same(canonicalAccessRule('2001:DB8::/32'), { network: '2001:db8::/32' });
  t.same(canonicalAccessRule('dead.beef'), { domain: 'dead.beef' }, 'hex-looking letters without a colon are a name');
  t.same(canonicalAccessRule('*.Example.net'), { domain: '*.example.net' });
  t.throws(() => canonicalAccessRule('1.2.3'), { code: 'ERR_BAD_ACCESS_RULE' });
  t.throws(() => canonicalAccessRule('nope'), { code: 'ERR_BAD_ACCESS_RULE' });
  t.throws(() => canonicalAccessRule('10.0.0.0/33'), { code: 'ERR_BAD_ACCESS_RULE' });
});

t.test('checkAddress: IP rules decide without names; domain rules ask for them; none: default', async (t) => {
  const p = new AccessPolicy({
    default: 'deny',
    rules: [{ network: '10.0.0.0/8', action: 'deny' }],
    domains: [{ domain: '*.example.net', action: 'grant' }],
  });
  t.equal(p.hasDomainRules, true);
  t.equal(p.size, 2);
  t.same(p.checkAddress('10.1.2.3'), { action: 'deny', rule: '10.0.0.0/8' }, 'an IP rule decides: no DNS');
  t.same(p.checkAddress('::ffff:192.0.2.7'), { action: 'resolve', rule: null, address: '192.0.2.7' }, 'mapped address looked up as IPv4');
  t.same(p.checkAddress('2001:DB8:0::1'), { action: 'resolve', rule: null, address: '2001:db8::1' });
  t.same(p.checkAddress('garbage'), { action: 'deny', rule: null }, 'unparsable: default, no lookup');
  t.same(p.evaluate('192.0.2.7'), { action: 'deny', rule: null }, 'evaluate: as if no name was confirmed');
  const plain = new AccessPolicy({ default: 'grant', rules: [] });
  t.equal(plain.hasDomainRules, false);
  t.same(plain.checkAddress('192.0.2.7'), { action: 'grant', rule: null }, 'no domain rules: never resolve');
});

t.test('decideByNames: exact beats wildcard, longer wildcard beats shorter, deny wins ties, junk skipped', async (t) => {
  const p = new AccessPolicy({
    default: 'grant',
    rules: [],
    domains: [
      { domain: '*.example.net', action: 'deny' },
      { domain: 'good.example.net', action: 'grant' },
      { domain: '*.trusted.example.net', action: 'grant' },
      { domain: '*.bad.trusted.example.net', action: 'deny' },
      { domain: 'other.org', action: 'grant' },
      { domain: 'evil.org', action: 'deny' },
    ],
  });
  t.same(p.decideByNames(['x.example.net']), { action: 'deny', rule: '*.example.net', name: 'x.example.net' });
  t.same(p.decideByNames(['a.b.c.example.net']), { action: 'deny', rule: '*.example.net', name: 'a.b.c.example.net' }, 'any depth');
  t.same(p.decideByNames(['GOOD.example.net.']), { action: 'grant', rule: 'good.example.net', name: 'good.example.net' }, 'exact beats wildcard');
  t.same(p.decideByNames(['h.trusted.example.net']), { action: 'grant', rule: '*.trusted.example.net', name: 'h.trusted.example.net' });
  t.same(p.decideByNames(['h.bad.trusted.example.net']), { action: 'deny', rule: '*.bad.trusted.example.net', name: 'h.bad.trusted.example.net' });
  t.same(p.decideByNames(['example.net']), { action: 'grant', rule: null }, 'the wildcard is strictly below its suffix');
  t.same(p.decideByNames(['trusted.example.net']), { action: 'deny', rule: '*.example.net', name: 'trusted.example.net' });
  t.same(p.decideByNames([]), { action: 'grant', rule: null }, 'no confirmed name: default');
  t.same(p.decideByNames(['unrelated.com']), { action: 'grant', rule: null });
  // Several names for one client: the most specific match across all of them.
  t.same(p.decideByNames(['x.example.net', 'good.example.net']), { action: 'grant', rule: 'good.example.net', name: 'good.example.net' });
  t.same(p.decideByNames(['x.example.net', 'h.trusted.example.net']), { action: 'grant', rule: '*.trusted.example.net', name: 'h.trusted.example.net' });
  t.same(p.decideByNames(['other.org', 'evil.org']), { action: 'deny', rule: 'evil.org', name: 'evil.org' }, 'a tie: deny wins');
  t.same(p.decideByNames(['evil.org', 'other.org']), { action: 'deny', rule: 'evil.org', name: 'evil.org' }, 'whatever the order');
  t.same(p.decideByNames(['good.example.net evil', 'bad_x.example.net', 'good.example.net\r\n']), { action: 'grant', rule: null }, 'hostile names match nothing');
});

t.test('a bad stored domain rule is refused with ERR_BAD_ACCESS_RULE', async (t) => {
  t.throws(() => new AccessPolicy({ default: 'grant', rules: [], domains: [{ domain: 'localhost', action: 'deny' }] }), { code: 'ERR_BAD_ACCESS_RULE' });
  t.throws(() => new AccessPolicy({ default: 'grant', rules: [], domains: [{ domain: 'a.example.net', action: 'allow' as 'grant' }] }), { code: 'ERR_BAD_ACCESS_RULE' });
});
