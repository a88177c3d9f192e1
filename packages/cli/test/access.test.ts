// `gatehouse access` end to end: the real command writes the rules to a real Redis, and a
// running node (500 ms refresh, the default) applies them to real sockets from distinct
// loopback source addresses within a second, with no restart. Domain rules resolve
// through a test DNS server on loopback (@gatehouse/testkit startDnsServer).
import t from 'tap';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory } from '@gatehouse/directory';
import { defaultImapLimits, startGatehouseNode } from '@gatehouse/proxy';
import { startDnsServer, startRedis, type TestDnsServer } from '@gatehouse/testkit';
import { runCli, type CliResult } from './helpers.ts';

const prefix = `acl${randomBytes(3).toString('hex')}:`;
let redisUrl = '';
let imapPort = 0;
let dir: Directory;
let dns: TestDnsServer;
const gh = (args: string[]): Promise<CliResult> => runCli(args, { env: { GATEHOUSE_REDIS_URL: redisUrl, GATEHOUSE_KEY_PREFIX: prefix } });

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  redisUrl = redis.url;
  const directory = await Directory.connect(redis.url, { prefix });
  t.teardown(() => directory.close());
  dir = directory;
  dns = await startDnsServer();
  t.teardown(() => dns.close());
  const cert = generateSelfSigned({ commonName: 'localhost' });
  const node = await startGatehouseNode({
    directory,
    logger: pino({ level: 'silent' }),
    nodeId: 'acl-cli',
    dns: { servers: [dns.address] },
    vservers: [
      {
        name: 'example',
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: defaultImapLimits,
        // Dual-stack: IPv4 clients arrive as ::ffff:127.0.0.x.
        imapListeners: [{ name: 'imap', host: '::', port: 0, tls: 'starttls', allowPlaintextAuth: false }],
      },
    ],
  });
  t.teardown(() => node.close());
  imapPort = node.listeners()[0]?.port ?? 0;
});

/** The greeting line a client from `from` reads. */
function greeting(from: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: from === '::1' ? '::1' : '127.0.0.1', port: imapPort, ...(from === '::1' ? {} : { localAddress: from }) });
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        s.destroy();
        resolve(buf.slice(0, i));
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(buf));
  });
}

/** Milliseconds until a client from `from` reads `want`, trying every 25 ms for up to 3 s. */
async function msUntil(from: string, want: (line: string) => boolean): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (want(await greeting(from))) return Date.now() - started;
    if (Date.now() - started > 3000) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const denied = (l: string): boolean => l === '* BYE [CONTACTADMIN] Access denied.';
const greeted = (l: string): boolean => l.startsWith('* OK ');

t.test('access add/del through the CLI reach a running node within a second', async (t) => {
  t.ok(greeted(await greeting('127.0.0.2')), 'no rules: grant all');
  let r = await gh(['access', 'add', 'example', 'deny', '127.0.0.2']);
  t.equal(r.code, 0, r.stderr);
  t.ok((await msUntil('127.0.0.2', denied)) < 1000, 'deny reached the node within a second');
  t.ok(greeted(await greeting('127.0.0.3')), 'neighbour still greeted');

  r = await gh(['access', 'del', 'example', 'deny', '127.0.0.2']);
  t.equal(r.code, 0, r.stderr);
  t.ok((await msUntil('127.0.0.2', greeted)) < 1000, 'deletion reached the node within a second');

  r = await gh(['access', 'add', 'example', 'grant', '::1', '--default', 'deny']);
  t.equal(r.code, 0, r.stderr);
  t.ok((await msUntil('127.0.0.3', denied)) < 1000, 'deny-all-except reached the node within a second');
  t.ok(greeted(await greeting('::1')), '::1 granted');
});

t.test('access list, --json, canonical forms and errors', async (t) => {
  let r = await gh(['access', 'add', 'example', 'deny', '0:0:0:0:0:ffff:10.1.2.3']);
  t.equal(r.code, 0, r.stderr);
  r = await gh(['access', 'add', 'example', 'grant', '10.1.0.0/255.255.0.0']);
  t.equal(r.code, 0, r.stderr);
  r = await gh(['access', 'list', 'example', '--json']);
  t.same(JSON.parse(r.stdout), {
    vserver: 'example',
    default: 'deny',
    rules: [
      { network: '10.1.2.3', action: 'deny' },
      { network: '10.1.0.0/16', action: 'grant' },
      { network: '::1', action: 'grant' },
    ],
    domains: [],
  }, 'mapped form stored as IPv4; mask as CIDR; IPv4 then IPv6, most specific first');
  r = await gh(['access', 'list', 'example']);
  t.match(r.stdout, /^default: deny\nNETWORK +ACTION\n10\.1\.2\.3 +deny\n/);

  r = await gh(['access', 'add', 'example', '--default', 'grant']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^default: grant/);

  r = await gh(['access', 'add', 'example', 'deny', '10.0.0.0/33', '--json']);
  t.equal(r.code, 1);
  t.equal(JSON.parse(r.stderr).error.code, 'ERR_BAD_ACCESS_RULE');
  r = await gh(['access', 'del', 'example', 'grant', '10.1.2.3', '--json']);
  t.equal(JSON.parse(r.stderr).error.code, 'ERR_NOT_FOUND', 'action given must match the stored one');
  r = await gh(['access', 'add', 'Bad Name', 'deny', '10.0.0.1', '--json']);
  t.equal(JSON.parse(r.stderr).error.code, 'ERR_BAD_NAME');
  r = await gh(['access', 'add', 'example', 'allow', '10.0.0.1']);
  t.equal(r.code, 2, 'usage');
  r = await gh(['access', 'frob', 'example']);
  t.equal(r.code, 2, 'usage');
});

t.test('domain rules through the CLI: canonical names, listed apart, applied by a running node within a second', async (t) => {
  // The node resolves through the test DNS server: 127.0.0.6 is host6.example.net (both ways).
  dns.setPtr('127.0.0.6', ['host6.example.net']);
  dns.set('host6.example.net', 'A', ['127.0.0.6']);
  await gh(['access', 'add', 'example', '--default', 'grant']);
  t.ok(greeted(await greeting('127.0.0.6')), 'no domain rule yet');

  let r = await gh(['access', 'add', 'example', 'deny', '*.Example.NET.']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\nDOMAIN +ACTION\n\*\.example\.net +deny\n$/, 'listed after the networks, canonical');
  t.ok((await msUntil('127.0.0.6', denied)) < 1000, 'the wildcard reached the node within a second');
  t.ok(greeted(await greeting('127.0.0.7')), 'an address without PTR: default grant');

  r = await gh(['access', 'add', 'example', 'grant', 'host6.example.net', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout).domains, [
    { domain: 'host6.example.net', action: 'grant' },
    { domain: '*.example.net', action: 'deny' },
  ], 'exact names first, then wildcards: the order of matching');
  t.ok((await msUntil('127.0.0.6', greeted)) < 1000, 'the exact name beats the wildcard');

  r = await gh(['access', 'del', 'example', 'grant', '*.example.net', '--json']);
  t.equal(JSON.parse(r.stderr).error.code, 'ERR_NOT_FOUND', 'action given must match the stored one');
  r = await gh(['access', 'del', 'example', '*.example.net']);
  t.equal(r.code, 0, r.stderr);
  r = await gh(['access', 'del', 'example', 'deny', 'host6.example.net', '--json']);
  t.equal(JSON.parse(r.stderr).error.code, 'ERR_NOT_FOUND');
  r = await gh(['access', 'del', 'example', 'host6.example.net', '--json']);
  t.same(JSON.parse(r.stdout).domains, [], 'all domain rules deleted');
  for (const bad of ['localhost', 'bad_name.example.net', '*.*.example.net', 'a b.example.net', `${'a'.repeat(64)}.example.net`]) {
    r = await gh(['access', 'add', 'example', 'deny', bad, '--json']);
    t.equal(JSON.parse(r.stderr).error.code, 'ERR_BAD_ACCESS_RULE', bad);
  }
});

t.test('user set --networks: canonical list stored, any lifts it, bad networks refused', async (t) => {
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be', host: '127.0.0.1', login: 'user' });
  await dir.addUser({ name: 'nina@example.com', backend: 'be' });
  let r = await gh(['user', 'set', 'nina@example.com', '--networks', '::ffff:127.0.0.5, 10.1.2.3/255.255.0.0,2001:DB8::/32', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout).networks, ['127.0.0.5', '10.1.0.0/16', '2001:db8::/32']);
  r = await gh(['user', 'set', 'nina@example.com', '--networks', '10.0.0.0/99', '--json']);
  t.equal(JSON.parse(r.stderr).error.code, 'ERR_BAD_ACCESS_RULE');
  r = await gh(['user', 'set', 'nina@example.com', '--networks', 'any', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).networks, undefined);
});
