// `gatehouse throttle list|clear`, run as the real command against a real tier: Redis, a
// Dovecot store and a Gatehouse node; a client from 127.0.0.7 fails its way to the limit
// and an operator lets it in again.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { pino } from 'pino';
import t from 'tap';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { defaultImapLimits, startGatehouseNode } from '@gatehouse/proxy';
import { startDovecot, startRedis } from '@gatehouse/testkit';
import { parseConfig } from '../src/index.ts';
import { runCli } from './helpers.ts';

let imapPort = 0;
let cli: (...args: string[]) => ReturnType<typeof runCli>;

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const be1 = await startDovecot({ name: 'be1', users: [{ user: 'alice@example.com', password: 'alice-secret' }] });
  t.teardown(() => be1.stop());
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const directory = await Directory.connect(redis.url, { prefix });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  await directory.addBackend({
    name: 'be1',
    host: be1.host,
    imapPort: be1.imapPort,
    tls: 'starttls',
    tlsVerify: false,
    login: 'master',
    masterUser: be1.masterUser,
    masterPassword: be1.masterPassword,
  });
  await directory.addUser({ name: 'alice@example.com', backend: 'be1', password: await hashPassword('alice-secret') });
  const cert = generateSelfSigned({ commonName: 'localhost' });
  const node = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId: 'throttle-node',
    authThrottle: { maxFailures: 3, windowMs: 600_000, exempt: [] },
    vservers: [
      {
        name: 'default',
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, authFailureDelayMs: 10 },
        imapListeners: [{ name: 'imap', host: '127.0.0.1', port: 0, tls: 'starttls', allowPlaintextAuth: true }],
        pop3Listeners: [],
      },
    ],
  });
  t.teardown(() => node.close());
  imapPort = node.listeners()[0]?.port ?? 0;
  cli = (...args) => runCli(['--redis', redis.url, '--prefix', prefix, ...args]);
});

/** One IMAP LOGIN from `from` on a fresh connection: the tagged answer. */
function login(from: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: imapPort, localAddress: from });
    let buf = '';
    let sent = false;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!sent && buf.includes('\r\n')) {
        sent = true;
        s.write(`a LOGIN alice ${password}\r\n`);
      }
      const m = /^a .*$/m.exec(buf);
      if (m !== null) {
        s.destroy();
        resolve(m[0].trimEnd());
      }
    });
    s.on('error', reject);
  });
}

t.test('throttle list shows the counter; throttle clear lets the address in again', async (t) => {
  for (let i = 0; i < 3; i++) t.equal(await login('127.0.0.7', 'wrong'), 'a NO [AUTHENTICATIONFAILED] Authentication failed.');
  t.equal(await login('127.0.0.7', 'alice-secret'), 'a NO [UNAVAILABLE] Too many failed logins from your address; try again later.');
  t.match(await login('127.0.0.8', 'alice-secret'), /^a OK /, 'a neighbour is not throttled');

  const json = await cli('throttle', 'list', '--json');
  t.equal(json.code, 0, json.stderr);
  const { counters } = JSON.parse(json.stdout) as { counters: Array<{ client: string; failures: number; expiresInMs: number }> };
  t.equal(counters.length, 1);
  t.match(counters[0], { client: '127.0.0.7', failures: 3 });
  t.ok((counters[0]?.expiresInMs ?? 0) > 0 && (counters[0]?.expiresInMs ?? 0) <= 600_000, 'expires within the window');

  const table = await cli('throttle', 'list');
  t.equal(table.code, 0);
  t.match(table.stdout, /^CLIENT\s+FAILURES\s+EXPIRESIN\n127\.0\.0\.7\s+3\s+\d+s\n$/);

  const cleared = await cli('throttle', 'clear', '127.0.0.7');
  t.equal(cleared.code, 0, cleared.stderr);
  t.equal(cleared.stdout, 'cleared the failed logins of 127.0.0.7\n');
  t.match(await login('127.0.0.7', 'alice-secret'), /^a OK /, 'the address logs in again');
  t.equal((await cli('throttle', 'list')).stdout, '(none)\n');
  t.same(JSON.parse((await cli('throttle', 'clear', '127.0.0.7', '--json')).stdout), { client: '127.0.0.7', cleared: false });
});

t.test('throttle clear takes an IPv6 address or its /64; anything else is a usage error', async (t) => {
  t.same(JSON.parse((await cli('throttle', 'clear', '2001:db8:0:1::/64', '--json')).stdout), { client: '2001:db8:0:1::/64', cleared: false });
  t.same(JSON.parse((await cli('throttle', 'clear', '2001:db8:0:1:2:3:4:5', '--json')).stdout), { client: '2001:db8:0:1::/64', cleared: false });
  for (const args of [['clear', 'office'], ['clear', '2001:db8::/48'], ['clear'], ['flush'], []]) {
    const r = await cli('throttle', ...args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, /ERR_USAGE: [^]*usage: gatehouse throttle/);
  }
});

t.test('config authThrottle: defaults of 20 failures in 10 minutes; a bad exempt network is named with its line', async (t) => {
  const base = `vservers:
  - name: example
    tls: { cert: /c, key: /k }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit }
`;
  t.same(parseConfig(base, 'a.yaml').authThrottle, { maxFailures: 20, windowMs: 600_000, exempt: [] });
  t.same(parseConfig(`authThrottle: { maxFailures: 0 }\n${base}`, 'b.yaml').authThrottle, { maxFailures: 0, windowMs: 600_000, exempt: [] }, '0 turns it off');
  t.throws(() => parseConfig(`authThrottle:\n  exempt: [192.0.2.0/24, webmail]\n  windowMs: 10\n${base}`, 'c.yaml'), {
    code: 'ERR_CONFIG',
    message: /^(?=[^]*c\.yaml:2: authThrottle\.exempt\.1: an IP address or network)(?=[^]*c\.yaml:3: authThrottle\.windowMs)/,
  });
});
