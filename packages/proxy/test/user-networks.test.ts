// Per-user networks: a user with `networks` may log in only from them. Checked after a
// right password (like the other account rules), so the reply reveals nothing to someone
// without it. The back-end is a closed port: a login that passes the check ends in
// UNAVAILABLE there, which proves it got past the rule.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { freePort, startRedis } from '@gatehouse/testkit';
import { defaultImapLimits, startGatehouseNode, type GatehouseNode } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';
import { pop3 } from './helpers/pop3.ts';

let node: GatehouseNode;
let directory: Directory;
const port: Record<string, number> = {};

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  directory = await Directory.connect(redis.url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  await directory.addBackend({ name: 'dead', host: '127.0.0.1', imapPort: await freePort(), pop3Port: await freePort(), tls: 'none', login: 'master', masterUser: 'm', masterPassword: 'p' });
  await directory.addUser({ name: 'nina@example.com', backend: 'dead', password: await hashPassword('pw') });
  await directory.setUser('nina@example.com', { networks: ['127.0.0.5', '127.0.1.0/24', '::1'] });
  const cert = generateSelfSigned({ commonName: 'localhost' });
  node = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId: 'net-node',
    vservers: [
      {
        name: 'nets',
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, authFailureDelayMs: 10, backendConnectTimeoutMs: 500 },
        imapListeners: [{ name: 'imap', host: '::', port: 0, tls: 'starttls', allowPlaintextAuth: true }],
        pop3Listeners: [{ name: 'pop3', host: '127.0.0.1', port: 0, tls: 'starttls', allowPlaintextAuth: true }],
      },
    ],
  });
  t.teardown(() => node.close());
  for (const l of node.listeners()) port[l.listener] = l.port;
});

async function imapLogin(from: string, password = 'pw'): Promise<string | undefined> {
  const c = await RawClient.connect(port['imap'] as number, from === '::1' ? { host: '::1' } : { localAddress: from });
  try {
    await c.line();
    return (await c.cmd('a', `LOGIN nina ${password}`)).at(-1);
  } finally {
    c.close();
  }
}

t.test('IMAP: only from the user\'s networks, IPv4 (mapped on a dual-stack listener) and IPv6', async (t) => {
  t.equal(await imapLogin('127.0.0.2'), 'a NO [AUTHORIZATIONFAILED] Login not allowed from this network.');
  t.equal(await imapLogin('127.0.0.2', 'wrong'), 'a NO [AUTHENTICATIONFAILED] Authentication failed.', 'a wrong password reveals nothing');
  t.equal(await imapLogin('127.0.0.5'), 'a NO [UNAVAILABLE] Your mail store is unavailable; try again later.', 'single address allowed');
  t.equal(await imapLogin('127.0.1.77'), 'a NO [UNAVAILABLE] Your mail store is unavailable; try again later.', 'subnet allowed');
  t.equal(await imapLogin('::1'), 'a NO [UNAVAILABLE] Your mail store is unavailable; try again later.', 'IPv6 allowed');
  await directory.setUser('nina@example.com', { networks: null });
  t.teardown(() => directory.setUser('nina@example.com', { networks: ['127.0.0.5', '127.0.1.0/24', '::1'] }));
  t.equal(await imapLogin('127.0.0.2'), 'a NO [UNAVAILABLE] Your mail store is unavailable; try again later.', 'restriction lifted');
});

t.test('POP3: the same rule with its own reply', async (t) => {
  const c = await RawClient.connect(port['pop3'] as number, { localAddress: '127.0.0.2' });
  t.teardown(() => c.close());
  await c.line();
  t.equal(await pop3(c, 'USER nina'), '+OK Send the password.');
  t.equal(await pop3(c, 'PASS pw'), '-ERR [AUTH] Login not allowed from this network.');
});
