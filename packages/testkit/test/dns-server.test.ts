// The test DNS server answers node's own resolver (c-ares) as a real server would.
import t from 'tap';
import { Resolver } from 'node:dns/promises';
import { reverseName, startDnsServer } from '../src/index.ts';

t.test('reverse names: in-addr.arpa and ip6.arpa nibbles', async (t) => {
  t.equal(reverseName('127.0.0.2'), '2.0.0.127.in-addr.arpa');
  t.equal(reverseName('::1'), `1.${'0.'.repeat(31)}ip6.arpa`);
  t.equal(reverseName('2001:db8::5'), `5.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`);
  t.throws(() => reverseName('::ffff:1.2.3.4'));
});

t.test('answers PTR, A and AAAA from the table, NXDOMAIN otherwise, counts every query', async (t) => {
  const dns = await startDnsServer();
  t.teardown(() => dns.close());
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([dns.address]);
  dns.setPtr('127.0.0.2', ['host.example.net']);
  dns.setPtr('::1', ['six.example.net']);
  dns.set('host.example.net', 'A', ['127.0.0.2', '127.0.0.9']);
  dns.set('six.example.net', 'AAAA', ['::1']);
  t.same(await r.reverse('127.0.0.2'), ['host.example.net']);
  t.same(await r.reverse('::1'), ['six.example.net']);
  t.same(await r.resolve4('HOST.example.net'), ['127.0.0.2', '127.0.0.9'], 'names are case-insensitive');
  t.same(await r.resolve6('six.example.net'), ['::1']);
  await t.rejects(r.resolve4('nowhere.example.net'), { code: 'ENOTFOUND' }, 'NXDOMAIN');
  await t.rejects(r.resolve6('host.example.net'), { code: 'ENODATA' }, 'the name exists without AAAA');
  t.equal(dns.queryCount('host.example.net'), 2, 'A and AAAA');
  t.equal(dns.queryCount('host.example.net', 'A'), 1);
  t.equal(dns.queryCount(reverseName('127.0.0.2'), 'PTR'), 1);
  dns.remove('host.example.net');
  await t.rejects(r.resolve4('host.example.net'), { code: 'ENOTFOUND' }, 'removed');
});

t.test('a silenced name is never answered: the resolver times out', async (t) => {
  const dns = await startDnsServer();
  t.teardown(() => dns.close());
  const r = new Resolver({ timeout: 200, tries: 1 });
  r.setServers([dns.address]);
  dns.set('slow.example.net', 'A', ['127.0.0.2']);
  dns.silence('slow.example.net');
  const arrived = dns.waitForQuery('slow.example.net', 'A');
  await t.rejects(r.resolve4('slow.example.net'), { code: 'ETIMEOUT' });
  await arrived;
  t.equal(dns.queryCount('slow.example.net', 'A'), 1, 'the query arrived');
});

t.test('an answer too big for UDP is truncated and fetched again over TCP', async (t) => {
  const dns = await startDnsServer();
  t.teardown(() => dns.close());
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([dns.address]);
  const many = Array.from({ length: 120 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  dns.set('big.example.net', 'A', many);
  t.same(await r.resolve4('big.example.net'), many);
  t.equal(dns.queryCount('big.example.net', 'A'), 2, 'once over UDP, once over TCP');
});
