// Domain-name access rules at accept time: real sockets from distinct loopback source
// addresses (127.0.0.x and ::1) against a real node whose resolver is a test DNS server
// on loopback (@gatehouse/testkit startDnsServer), so every PTR, A and AAAA answer —
// forged, hostile, missing or never sent — is one the test wrote. Rules are written to a
// real Redis through the Directory, as `gatehouse access` does; `node.refreshAccess()`
// stands in for the 500 ms refresh (the CLI test checks the live path).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory } from '@gatehouse/directory';
import { reverseName, startDnsServer, startRedis, type TestDnsServer } from '@gatehouse/testkit';
import { defaultImapLimits, startGatehouseNode, type GatehouseNode, type ImapListenerSpec } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';

const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
let directory: Directory;
let node: GatehouseNode;
let dns: TestDnsServer;
const port: Record<string, number> = {};
const VS = 'dom';
/** Every log line of the node, parsed. */
const logs: Array<Record<string, unknown>> = [];

const listener = (name: string, host: string): ImapListenerSpec => ({ name, host, port: 0, tls: 'starttls', allowPlaintextAuth: false });

/** A host whose PTR and A records agree: its name is confirmed. */
function host(address: string, name: string): void {
  dns.setPtr(address, [name]);
  dns.set(name, address.includes(':') ? 'AAAA' : 'A', [address]);
}

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  dns = await startDnsServer();
  t.teardown(() => dns.close());
  directory = await Directory.connect(redis.url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  node = await startGatehouseNode({
    directory,
    logger: pino({ level: 'info' }, sink),
    nodeId: 'dns-node',
    accessRefreshMs: 60_000,
    // 1 s: the silent-server cases wait this long; every other answer comes from loopback.
    dns: { servers: [dns.address], timeoutMs: 1000 },
    vservers: [
      {
        name: VS,
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: defaultImapLimits,
        imapListeners: [listener('imap4', '127.0.0.1'), listener('imap6', '::1')],
        pop3Listeners: [listener('pop34', '127.0.0.1')],
      },
    ],
  });
  t.teardown(() => node.close());
  for (const l of node.listeners()) port[l.listener] = l.port;

  host('127.0.0.2', 'good.example.net');
  host('127.0.0.3', 'h3.example.net');
  host('127.0.0.13', 'a.b.example.net');
  // Forged: the PTR of .4 claims good.example.net, whose A record is .2 only.
  dns.setPtr('127.0.0.4', ['good.example.net']);
  // .5 has no PTR at all (NXDOMAIN); the PTR queries of .6 and .18 are never answered.
  dns.silence(reverseName('127.0.0.6'));
  dns.silence(reverseName('127.0.0.18'));
  host('127.0.0.10', 'h10.example.net');
  host('127.0.0.11', 'h11.example.net');
  host('127.0.0.17', 'h17.example.net');
  host('::1', 'six.example.net');
  // Hostile PTR names, each with an A record that would confirm it if it were ever looked up.
  host('127.0.0.7', 'h7 evil.example.net');
  host('127.0.0.8', 'h8\r\nx-forged: 1.example.net');
  host('127.0.0.9', 'h_9.example.net');
  dns.setPtr('127.0.0.14', [`${'a'.repeat(64)}.example.net`]);
});

async function setRules(def: 'grant' | 'deny', rules: Array<[string, 'grant' | 'deny']>): Promise<void> {
  const current = await directory.getAccessRules(VS);
  for (const r of current.rules) await directory.delAccessRule(VS, r.network);
  for (const d of current.domains) await directory.delAccessRule(VS, d.domain);
  await directory.setAccessDefault(VS, def);
  for (const [rule, action] of rules) await directory.setAccessRule(VS, rule, action);
  await node.refreshAccess();
}

/** The first line the server sends to a client from `from`, and whether it then closed. */
async function firstLine(from: string, listenerName = from === '::1' ? 'imap6' : 'imap4'): Promise<{ line: string | null; closed: boolean }> {
  const c = await RawClient.connect(port[listenerName] as number, from === '::1' ? { host: '::1' } : { localAddress: from });
  try {
    const line = await c.line();
    if (line === null || (!line.startsWith('* OK') && !line.startsWith('+OK'))) return { line, closed: (await c.rest()).length === 0 };
    return { line, closed: false };
  } finally {
    c.close();
  }
}

/** The last `conn.denied` line logged for a client address. */
const deniedLog = (address: string): Record<string, unknown> | undefined => logs.findLast((l) => l['msg'] === 'conn.denied' && l['remoteAddress'] === address);

const DENIED = { line: '* BYE [CONTACTADMIN] Access denied.', closed: true };
const OK = { line: '* OK', closed: false };

t.test('grant by exact name: deny all except good.example.net, confirmed by its A record', async (t) => {
  await setRules('deny', [['good.example.net', 'grant']]);
  t.match(await firstLine('127.0.0.2'), OK);
  t.match(await firstLine('127.0.0.2', 'pop34'), { line: '+OK', closed: false }, 'POP3 too');
  t.same(await firstLine('127.0.0.3'), DENIED, 'another confirmed name: the default');
  t.match(deniedLog('127.0.0.3'), { rule: 'default', dns: 'confirmed', reason: 'denied' });
});

t.test('deny by wildcard: any name strictly below example.net, at any depth; the log names the rule and the name', async (t) => {
  await setRules('grant', [['*.example.net', 'deny']]);
  t.same(await firstLine('127.0.0.3'), DENIED);
  t.match(deniedLog('127.0.0.3'), { msg: 'conn.denied', vserver: VS, listener: 'imap4', rule: '*.example.net', name: 'h3.example.net', dns: 'confirmed' });
  t.same(await firstLine('127.0.0.13'), DENIED, 'a.b.example.net');
  t.same(await firstLine('127.0.0.2', 'pop34'), { line: '-ERR Access denied.', closed: true }, 'POP3 refusal line');
  t.match(await firstLine('127.0.0.5'), OK, 'no PTR: default grant');
});

t.test('an exact name beats a wildcard', async (t) => {
  await setRules('grant', [['*.example.net', 'deny'], ['good.example.net', 'grant']]);
  t.match(await firstLine('127.0.0.2'), OK, 'good.example.net granted by its own rule');
  t.same(await firstLine('127.0.0.3'), DENIED, 'h3.example.net denied by the wildcard');
});

t.test('an IP rule beats a domain rule, and then no DNS query is made at all', async (t) => {
  await setRules('deny', [['*.example.net', 'grant'], ['127.0.0.10', 'deny']]);
  t.same(await firstLine('127.0.0.10'), DENIED);
  t.match(deniedLog('127.0.0.10'), { rule: '127.0.0.10' });
  t.notOk('dns' in (deniedLog('127.0.0.10') ?? {}), 'decided without a lookup');
  t.equal(dns.queryCount(reverseName('127.0.0.10')), 0, 'the DNS server was never asked');
  t.match(await firstLine('127.0.0.3'), OK, 'a client no IP rule matches: its name decides');
});

t.test('a forged PTR (the forward lookup of the name does not contain the client) matches nothing', async (t) => {
  await setRules('deny', [['good.example.net', 'grant']]);
  t.same(await firstLine('127.0.0.4'), DENIED, 'claims good.example.net, but good.example.net is 127.0.0.2');
  t.match(deniedLog('127.0.0.4'), { rule: 'default', dns: 'unconfirmed', unconfirmedNames: ['good.example.net'] });
  t.notOk('name' in (deniedLog('127.0.0.4') ?? {}), 'no confirmed name logged');
  await setRules('grant', [['good.example.net', 'deny']]);
  t.match(await firstLine('127.0.0.4'), OK, 'nor does it match a deny rule');
});

t.test('no PTR, and a DNS server that never answers: the default applies', async (t) => {
  await setRules('deny', [['*.example.net', 'grant']]);
  t.same(await firstLine('127.0.0.5'), DENIED);
  t.match(deniedLog('127.0.0.5'), { rule: 'default', dns: 'no-ptr' });
  t.same(await firstLine('127.0.0.6'), DENIED);
  t.match(deniedLog('127.0.0.6'), { rule: 'default', dns: 'timeout' });
  t.equal(dns.queryCount(reverseName('127.0.0.6'), 'PTR'), 1, 'the query was sent, and never answered');
  await setRules('grant', [['*.example.net', 'deny']]);
  t.match(await firstLine('127.0.0.5'), OK);
  t.match(await firstLine('127.0.0.6'), OK);
});

t.test('IPv6: ::1 by its ip6.arpa PTR, confirmed by AAAA', async (t) => {
  await setRules('deny', [['six.example.net', 'grant']]);
  t.match(await firstLine('::1'), OK);
  await setRules('grant', [['*.example.net', 'deny']]);
  t.same(await firstLine('::1'), DENIED);
  t.match(deniedLog('::1'), { rule: '*.example.net', name: 'six.example.net' });
});

t.test('hostile PTR names (space, CR LF, underscore, over-long label) match nothing, and the node keeps serving', async (t) => {
  await setRules('deny', [['*.example.net', 'grant']]);
  for (const from of ['127.0.0.7', '127.0.0.8', '127.0.0.9', '127.0.0.14']) t.same(await firstLine(from), DENIED, from);
  t.equal(dns.queryCount('h7 evil.example.net', 'A'), 0, 'a hostile name is never looked up forward');
  t.equal(dns.queryCount('h_9.example.net', 'A'), 0);
  t.match(deniedLog('127.0.0.7'), { dns: 'unconfirmed', unconfirmedNames: ['h7?evil.example.net'] }, 'logged sanitized');
  const crlf = deniedLog('127.0.0.8');
  t.match(crlf, { dns: 'unconfirmed', rule: 'default' });
  t.notMatch(JSON.stringify(crlf?.['unconfirmedNames']), /[\r\n ]|\\[rn]/, 'no CR, LF or space reaches the log');
  t.match(deniedLog('127.0.0.14'), { rule: 'default' });
  t.match(await firstLine('127.0.0.2'), OK, 'still serving');
});

t.test('the cache: a second connection from one address, or two at once, ask the DNS once', async (t) => {
  await setRules('grant', [['*.example.org', 'deny']]);
  t.match(await firstLine('127.0.0.11'), OK);
  t.match(await firstLine('127.0.0.11'), OK);
  t.equal(dns.queryCount(reverseName('127.0.0.11'), 'PTR'), 1, 'one PTR query');
  t.equal(dns.queryCount('h11.example.net', 'A'), 1, 'one A query');
  const both = await Promise.all([firstLine('127.0.0.17'), firstLine('127.0.0.17')]);
  t.match(both, [OK, OK]);
  t.equal(dns.queryCount(reverseName('127.0.0.17'), 'PTR'), 1, 'concurrent connections share one lookup');
});

t.test('a client that hangs up while its lookup runs is dropped quietly', async (t) => {
  await setRules('grant', [['*.example.net', 'deny']]);
  const gone = await RawClient.connect(port['imap4'] as number, { localAddress: '127.0.0.18' });
  gone.socket.destroy();
  // The next connection from the same address shares the lookup still running (or its
  // cached outcome): when it is answered, the first one has been dealt with.
  t.match(await firstLine('127.0.0.18'), OK, 'timeout: default grant');
  t.equal(dns.queryCount(reverseName('127.0.0.18'), 'PTR'), 1);
  t.match(await firstLine('127.0.0.2', 'pop34'), { line: '-ERR Access denied.', closed: true }, 'the node still serves');
});

t.test('closing the node ends the connections still waiting for a lookup, without a greeting', async (t) => {
  const other = await startGatehouseNode({
    directory,
    logger: pino({ level: 'silent' }),
    nodeId: 'dns-node-2',
    accessRefreshMs: 60_000,
    dns: { servers: [dns.address], timeoutMs: 30_000 },
    vservers: [
      {
        name: VS,
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: defaultImapLimits,
        imapListeners: [listener('imap4', '127.0.0.1')],
      },
    ],
  });
  await setRules('grant', [['*.example.net', 'deny']]);
  await other.refreshAccess();
  dns.silence(reverseName('127.0.0.19'));
  const c = await RawClient.connect(other.listeners()[0]?.port as number, { localAddress: '127.0.0.19' });
  t.teardown(() => c.close());
  // Wait until the node has asked (the lookup is then in flight, the client waiting).
  await dns.waitForQuery(reverseName('127.0.0.19'), 'PTR');
  await other.close();
  t.equal(await c.line(), null, 'closed, never greeted');
});
