// Forward-confirmed reverse lookups against a test DNS server on loopback: what counts as
// confirmed, the bounds (names per address, deadline), and the cache (TTLs on a clock the
// test turns, eviction of the oldest, shared lookups).
import t from 'tap';
import { reverseName, startDnsServer, type TestDnsServer } from '@gatehouse/testkit';
import { parseIp } from '@gatehouse/policy';
import { MAX_LOGGED_NAME_CHARS, MAX_PTR_NAMES, createReverseDns, reverseLookupName, sanitizeDnsName } from '../src/reverse-dns.ts';

let dns: TestDnsServer;

t.before(async () => {
  dns = await startDnsServer();
  t.teardown(() => dns.close());
});

function host(address: string, name: string): void {
  dns.setPtr(address, [name]);
  dns.set(name, address.includes(':') ? 'AAAA' : 'A', [address]);
}

t.test('confirmed, forged, missing: what a lookup says', async (t) => {
  const rdns = createReverseDns({ servers: [dns.address] });
  t.teardown(() => rdns.close());
  host('192.0.2.1', 'Mail.Example.NET');
  t.same(await rdns.lookup('192.0.2.1'), { status: 'confirmed', names: ['mail.example.net'], unconfirmed: [] }, 'canonical name');
  dns.setPtr('192.0.2.2', ['mail.example.net']);
  t.same(await rdns.lookup('192.0.2.2'), { status: 'unconfirmed', names: [], unconfirmed: ['mail.example.net'] }, 'forged: the A record is another address');
  dns.setPtr('192.0.2.3', ['nowhere.example.net']);
  t.same(await rdns.lookup('192.0.2.3'), { status: 'unconfirmed', names: [], unconfirmed: ['nowhere.example.net'] }, 'the name does not exist');
  t.same(await rdns.lookup('192.0.2.4'), { status: 'no-ptr', names: [], unconfirmed: [] }, 'NXDOMAIN');
  dns.set(reverseName('192.0.2.5'), 'PTR', []);
  t.same(await rdns.lookup('192.0.2.5'), { status: 'no-ptr', names: [], unconfirmed: [] }, 'the name exists without PTR');
  host('2001:db8::1', 'six.example.net');
  t.same(await rdns.lookup('2001:db8::1'), { status: 'confirmed', names: ['six.example.net'], unconfirmed: [] }, 'IPv6 by AAAA');
  dns.setPtr('2001:db8::2', ['v4only.example.net']);
  dns.set('v4only.example.net', 'A', ['192.0.2.6']);
  t.same((await rdns.lookup('2001:db8::2')).status, 'unconfirmed', 'an IPv6 client is not confirmed by an A record');
  t.same((await rdns.lookup('not an address')).status, 'error');
});

t.test('at most MAX_PTR_NAMES names are confirmed; hostile ones are never looked up', async (t) => {
  const rdns = createReverseDns({ servers: [dns.address] });
  t.teardown(() => rdns.close());
  const names = Array.from({ length: MAX_PTR_NAMES + 2 }, (_, i) => `n${i}.example.net`);
  dns.setPtr('192.0.2.10', names);
  for (const n of names) dns.set(n, 'A', ['192.0.2.10']);
  const r = await rdns.lookup('192.0.2.10');
  t.same(r.names, names.slice(0, MAX_PTR_NAMES));
  t.equal(dns.queryCount(names[MAX_PTR_NAMES] as string), 0, 'names past the cap: not queried');
  dns.setPtr('192.0.2.11', ['bad name.example.net', 'ok.example.net']);
  dns.set('bad name.example.net', 'A', ['192.0.2.11']);
  dns.set('ok.example.net', 'A', ['192.0.2.11']);
  t.same(await rdns.lookup('192.0.2.11'), { status: 'confirmed', names: ['ok.example.net'], unconfirmed: ['bad?name.example.net'] });
  t.equal(dns.queryCount('bad name.example.net'), 0);
});

t.test('one deadline for the PTR and the forward lookups together', async (t) => {
  const rdns = createReverseDns({ servers: [dns.address], timeoutMs: 300 });
  t.teardown(() => rdns.close());
  dns.silence(reverseName('192.0.2.20'));
  t.same(await rdns.lookup('192.0.2.20'), { status: 'timeout', names: [], unconfirmed: [] }, 'silent PTR');
  dns.setPtr('192.0.2.21', ['slow.example.net']);
  dns.silence('slow.example.net');
  t.equal((await rdns.lookup('192.0.2.21')).status, 'timeout', 'silent forward lookup');
});

t.test('a resolver that cannot be reached is an error, not a match', async (t) => {
  const gone = await startDnsServer();
  await gone.close();
  const rdns = createReverseDns({ servers: [gone.address], timeoutMs: 1000 });
  t.teardown(() => rdns.close());
  t.same(await rdns.lookup('192.0.2.30'), { status: 'error', names: [], unconfirmed: [] }, 'refused: error, cached as negative');
});

t.test('cache: positive and negative TTLs, oldest evicted first, concurrent lookups shared', async (t) => {
  let clock = 0;
  const rdns = createReverseDns({ servers: [dns.address], cacheTtlMs: 1000, negativeCacheTtlMs: 100, cacheMaxEntries: 2, now: () => clock });
  t.teardown(() => rdns.close());
  host('192.0.2.40', 'c40.example.net');
  const ptr = (a: string): number => dns.queryCount(reverseName(a), 'PTR');

  await Promise.all([rdns.lookup('192.0.2.40'), rdns.lookup('192.0.2.40'), rdns.lookup('192.0.2.40')]);
  t.equal(ptr('192.0.2.40'), 1, 'three concurrent lookups, one query');
  clock = 999;
  await rdns.lookup('192.0.2.40');
  t.equal(ptr('192.0.2.40'), 1, 'cached until its TTL');
  clock = 1000;
  await rdns.lookup('192.0.2.40');
  t.equal(ptr('192.0.2.40'), 2, 'asked again once expired');

  await rdns.lookup('192.0.2.41'); // no PTR: negative
  clock = 1099;
  await rdns.lookup('192.0.2.41');
  t.equal(ptr('192.0.2.41'), 1, 'negative answer cached for its shorter TTL');
  clock = 1100;
  await rdns.lookup('192.0.2.41');
  t.equal(ptr('192.0.2.41'), 2, 'and asked again after it');

  t.equal(rdns.cacheSize, 2);
  await rdns.lookup('192.0.2.42'); // a third address evicts the oldest (.40)
  t.equal(rdns.cacheSize, 2, 'bounded');
  await rdns.lookup('192.0.2.41');
  t.equal(ptr('192.0.2.41'), 2, 'the newer entry stayed');
  await rdns.lookup('192.0.2.40');
  t.equal(ptr('192.0.2.40'), 3, 'the oldest was evicted');
});

t.test('cacheMaxEntries 0 turns the cache off', async (t) => {
  const rdns = createReverseDns({ servers: [dns.address], cacheMaxEntries: 0 });
  t.teardown(() => rdns.close());
  host('192.0.2.50', 'c50.example.net');
  await rdns.lookup('192.0.2.50');
  await rdns.lookup('192.0.2.50');
  t.equal(dns.queryCount(reverseName('192.0.2.50'), 'PTR'), 2);
  t.equal(rdns.cacheSize, 0);
});

t.test('PTR query names: in-addr.arpa, and ip6.arpa nibbles, as the test server expects them', async (t) => {
  for (const a of ['192.0.2.7', '127.0.0.1', '0.0.0.0', '::1', '2001:db8::5', 'fe80::1:2:3:4']) {
    t.equal(reverseLookupName(parseIp(a) ?? { family: 4, value: 0n }), reverseName(a), a);
  }
  t.equal(reverseLookupName(parseIp('192.0.2.7') ?? { family: 4, value: 0n }), '7.2.0.192.in-addr.arpa');
});

t.test('names in logs: printable ASCII only, length capped', async (t) => {
  t.equal(sanitizeDnsName('a b\r\n\x00é.example.net'), 'a?b????.example.net');
  const long = 'x'.repeat(300);
  t.equal(sanitizeDnsName(long), `${'x'.repeat(MAX_LOGGED_NAME_CHARS)}…`);
  t.equal(sanitizeDnsName('x'.repeat(MAX_LOGGED_NAME_CHARS)), 'x'.repeat(MAX_LOGGED_NAME_CHARS), 'at the cap: whole');
});
