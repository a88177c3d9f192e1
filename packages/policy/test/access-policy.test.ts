import t from 'tap';
import { AccessPolicy, canonicalNetwork, formatIp, parseClientAddress, parseIp, parseNetwork } from '../src/index.ts';

t.test('addresses: every textual form becomes one value; mapped IPv6 becomes IPv4', async (t) => {
  const v4 = parseIp('192.0.2.7');
  t.same(v4, { family: 4, value: 0xc0000207n });
  for (const form of ['::ffff:192.0.2.7', '::FFFF:c000:207', '0:0:0:0:0:ffff:c000:0207', '0000:0000:0000:0000:0000:ffff:192.0.2.7', '0::ffff:192.0.2.7']) {
    t.same(parseIp(form), v4, form);
  }
  t.same(parseIp('2001:db8::1'), parseIp('2001:0db8:0:0:0:0:0:0001'));
  t.same(parseIp('64:ff9b::1.2.3.4'), { family: 6, value: (0x64n << 112n) | (0xff9bn << 96n) | 0x01020304n });
  t.same(parseIp('1:2:3:4:5:6:1.2.3.4')?.family, 6);
  t.same(parseIp('::'), { family: 6, value: 0n });
  t.same(parseClientAddress('fe80::1%eth0'), parseIp('fe80::1'));
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::g', '12345::', '1:2:3:4:5:6:7::8', '::1.2.3', 'x'.repeat(46), 'fe80::1%eth0', ':', '1.2.3.4/8']) {
    t.equal(parseIp(bad), null, bad);
  }
});

t.test('networks: CIDR, dotted mask, host bits cleared, mapped /96+ becomes IPv4', async (t) => {
  t.equal(canonicalNetwork('10.1.2.3/8'), '10.0.0.0/8');
  t.equal(canonicalNetwork('192.168.1.0/255.255.255.0'), '192.168.1.0/24');
  t.equal(canonicalNetwork('192.0.2.7'), '192.0.2.7');
  t.equal(canonicalNetwork('192.0.2.7/32'), '192.0.2.7');
  t.equal(canonicalNetwork('0.0.0.0/0'), '0.0.0.0/0');
  t.equal(canonicalNetwork('::ffff:10.0.0.0/104'), '10.0.0.0/8');
  t.equal(canonicalNetwork('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(canonicalNetwork('2001:DB8:0:0:1::/64'), '2001:db8::/64');
  t.equal(canonicalNetwork('2001:db8::/ffff:ffff::'), '2001:db8::/32');
  t.equal(canonicalNetwork('::1'), '::1');
  t.equal(canonicalNetwork('1:0:0:1:0:0:0:1'), '1:0:0:1::1');
  t.equal(canonicalNetwork('1:0:2:3:4:5:6:7'), '1:0:2:3:4:5:6:7');
  t.equal(canonicalNetwork('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
  t.equal(canonicalNetwork('::/0'), '::/0');
  for (const bad of ['10.0.0.0/33', '10.0.0.0/255.0.255.0', '10.0.0.0/ffff::', '10.0.0.0/x', '10.0.0.0/', '/8', '::/129', 'nope', '10.0.0.0/08']) {
    t.throws(() => canonicalNetwork(bad), { code: 'ERR_BAD_ACCESS_RULE' }, bad);
  }
  t.equal(parseNetwork('x'.repeat(46)), null);
  t.equal(formatIp({ family: 6, value: 0n }), '::');
});

t.test('order: the longest prefix wins whatever the insertion order; default otherwise', async (t) => {
  const rules = [
    { network: '10.0.0.0/8', action: 'deny' as const },
    { network: '10.1.0.0/16', action: 'grant' as const },
    { network: '10.1.2.3', action: 'deny' as const },
  ];
  for (const order of [rules, [...rules].reverse()]) {
    const p = new AccessPolicy({ default: 'grant', rules: order });
    t.same(p.evaluate('10.9.9.9'), { action: 'deny', rule: '10.0.0.0/8' });
    t.same(p.evaluate('10.1.9.9'), { action: 'grant', rule: '10.1.0.0/16' });
    t.same(p.evaluate('10.1.2.3'), { action: 'deny', rule: '10.1.2.3' });
    t.same(p.evaluate('::ffff:10.1.2.3'), { action: 'deny', rule: '10.1.2.3' });
    t.same(p.evaluate('0:0:0:0:0:ffff:a01:203'), { action: 'deny', rule: '10.1.2.3' });
    t.same(p.evaluate('192.0.2.1'), { action: 'grant', rule: null });
  }
  t.equal(new AccessPolicy({ default: 'grant', rules }).size, 3);
});

t.test('default deny-all-except; IPv6 rules; unparsable address gets the default', async (t) => {
  const p = new AccessPolicy({
    default: 'deny',
    rules: [
      { network: '2001:db8::/32', action: 'grant' },
      { network: '127.0.0.2', action: 'grant' },
    ],
  });
  t.same(p.evaluate('2001:db8:1::5'), { action: 'grant', rule: '2001:db8::/32' });
  t.same(p.evaluate('2001:db9::5'), { action: 'deny', rule: null });
  t.same(p.evaluate('127.0.0.2'), { action: 'grant', rule: '127.0.0.2' });
  t.same(p.evaluate('127.0.0.3'), { action: 'deny', rule: null });
  t.same(p.evaluate('garbage'), { action: 'deny', rule: null });
  // An IPv4 rule never matches a native IPv6 address and vice versa.
  t.same(p.evaluate('::7f00:2'), { action: 'deny', rule: null });
});

t.test('a bad stored rule set is refused with ERR_BAD_ACCESS_RULE', async (t) => {
  t.throws(() => new AccessPolicy({ default: 'maybe' as 'grant', rules: [] }), { code: 'ERR_BAD_ACCESS_RULE' });
  t.throws(() => new AccessPolicy({ default: 'grant', rules: [{ network: 'x', action: 'deny' }] }), { code: 'ERR_BAD_ACCESS_RULE' });
  t.throws(() => new AccessPolicy({ default: 'grant', rules: [{ network: '10.0.0.1', action: 'allow' as 'grant' }] }), { code: 'ERR_BAD_ACCESS_RULE' });
});
