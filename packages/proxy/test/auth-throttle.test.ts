// The tier-wide limit on failed logins per client address: real Redis, a real Dovecot
// store, two Gatehouse nodes on one directory, sockets from distinct loopback addresses
// (127.0.0.x and ::1). A client that reconnects, or moves to another node, or to the
// other protocol, keeps its count; once over the limit even the right password is
// refused without being checked; neighbours, exempt networks and the refusals that
// follow a right password are not counted.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { AuthFailures, Directory, hashPassword } from '@gatehouse/directory';
import { freePort, startDovecot, startRedis } from '@gatehouse/testkit';
import { authChannel, defaultImapLimits, startGatehouseNode, type AuthEvent, type AuthThrottleOptions, type GatehouseNode } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';
import { pop3 } from './helpers/pop3.ts';

const cert = generateSelfSigned({ commonName: 'localhost' });
const THROTTLED_IMAP = 'a NO [UNAVAILABLE] Too many failed logins from your address; try again later.';
const THROTTLED_POP3 = '-ERR [SYS/TEMP] Too many failed logins from your address; try again later.';
const LIMIT = 4;
const PER_CONNECTION = 2;

interface Ports {
  imap: number;
  pop3: number;
}
let redisUrl: string;
let counters: AuthFailures;
const nodes: Record<'a' | 'b' | 'exempt', Ports> = { a: { imap: 0, pop3: 0 }, b: { imap: 0, pop3: 0 }, exempt: { imap: 0, pop3: 0 } };
let shortWindow: Ports;

async function startNode(directory: Directory, nodeId: string, authThrottle: AuthThrottleOptions): Promise<Ports> {
  const node: GatehouseNode = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId,
    authThrottle,
    vservers: [
      {
        name: 'default',
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, authFailureDelayMs: 10, maxAuthFailures: PER_CONNECTION, backendConnectTimeoutMs: 500 },
        imapListeners: [{ name: 'imap', host: '::', port: 0, tls: 'starttls', allowPlaintextAuth: true }],
        pop3Listeners: [{ name: 'pop3', host: '::', port: 0, tls: 'starttls', allowPlaintextAuth: true }],
      },
    ],
  });
  t.teardown(() => node.close());
  const ls = node.listeners();
  return { imap: ls.find((l) => l.listener === 'imap')?.port ?? 0, pop3: ls.find((l) => l.listener === 'pop3')?.port ?? 0 };
}

async function directoryWithUsers(url: string, backend: { host: string; imapPort: number; pop3Port: number; masterUser: string; masterPassword: string }): Promise<Directory> {
  const directory = await Directory.connect(url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  await directory.addBackend({ name: 'be1', ...backend, tls: 'starttls', tlsVerify: false, login: 'master', state: 'active' });
  await directory.addBackend({ name: 'dead', host: '127.0.0.1', imapPort: await freePort(), pop3Port: await freePort(), tls: 'none', login: 'master', masterUser: 'm', masterPassword: 'p' });
  await directory.addUser({ name: 'alice@example.com', backend: 'be1', password: await hashPassword('alice-secret') });
  await directory.addUser({ name: 'dave@example.com', backend: 'be1', password: await hashPassword('dave-secret'), state: 'disabled' });
  await directory.addUser({ name: 'erin@example.com', backend: 'dead', password: await hashPassword('erin-secret') });
  return directory;
}

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  redisUrl = redis.url;
  const be1 = await startDovecot({ name: 'be1', users: [{ user: 'alice@example.com', password: 'alice-secret' }] });
  t.teardown(() => be1.stop());
  const backend = { host: be1.host, imapPort: be1.imapPort, pop3Port: be1.pop3Port, masterUser: be1.masterUser, masterPassword: be1.masterPassword };
  const directory = await directoryWithUsers(redisUrl, backend);
  counters = new AuthFailures({ redis: directory.redis, keys: directory.keys });
  const throttle = { maxFailures: LIMIT, windowMs: 600_000, exempt: [] };
  nodes.a = await startNode(directory, 'node-a', throttle);
  nodes.b = await startNode(directory, 'node-b', throttle);
  nodes.exempt = await startNode(directory, 'node-exempt', { ...throttle, exempt: ['127.0.0.32/28'] });
  // A directory of its own (another prefix): its counters are not the others'.
  shortWindow = await startNode(await directoryWithUsers(redisUrl, backend), 'node-short', { maxFailures: 2, windowMs: 1000, exempt: [] });
});

const connect = (port: number, from: string): Promise<RawClient> => RawClient.connect(port, from === '::1' ? { host: '::1' } : { localAddress: from });

/** One IMAP connection: LOGINs until one is answered OK or the server closes; the answers. */
async function imap(ports: Ports, from: string, ...logins: Array<[string, string]>): Promise<string[]> {
  const c = await connect(ports.imap, from);
  const answers: string[] = [];
  try {
    await c.line();
    for (const [user, password] of logins) {
      const reply = (await c.cmd('a', `LOGIN ${user} ${password}`)).at(-1) as string;
      answers.push(reply);
      if (reply.startsWith('a OK')) break;
    }
    const rest = logins.length === PER_CONNECTION && !answers.at(-1)?.startsWith('a OK') ? await c.rest() : [];
    return [...answers, ...rest];
  } finally {
    c.close();
  }
}

/** One POP3 connection, one USER/PASS: the answer to PASS. */
async function pop3Login(ports: Ports, from: string, user: string, password: string): Promise<string | null> {
  const c = await connect(ports.pop3, from);
  try {
    await c.line();
    await pop3(c, `USER ${user}`);
    return await pop3(c, `PASS ${password}`);
  } finally {
    c.close();
  }
}

const WRONG: [string, string] = ['alice', 'wrong'];
const RIGHT: [string, string] = ['alice', 'alice-secret'];
const FAILED = 'a NO [AUTHENTICATIONFAILED] Authentication failed.';

t.test('failures across reconnects and both protocols reach the limit; then even the right password is refused', async (t) => {
  const events: AuthEvent[] = [];
  const onAuth = (m: unknown): void => void events.push(m as AuthEvent);
  authChannel.subscribe(onAuth);
  t.teardown(() => authChannel.unsubscribe(onAuth));

  t.same(await imap(nodes.a, '127.0.0.7', WRONG, WRONG), [FAILED, FAILED, '* BYE Too many failed logins.'], 'the connection closes at maxAuthFailures');
  t.equal(await pop3Login(nodes.a, '127.0.0.7', 'alice', 'wrong'), '-ERR [AUTH] Authentication failed.');
  t.equal(await pop3Login(nodes.a, '127.0.0.7', 'nobody', 'wrong'), '-ERR [AUTH] Authentication failed.', 'an unknown user counts too');
  // Four failures on three connections: the fifth login from the address is throttled.
  t.same(await imap(nodes.a, '127.0.0.7', RIGHT), [THROTTLED_IMAP], 'IMAP: the right password is refused');
  t.equal(await pop3Login(nodes.a, '127.0.0.7', 'alice', 'alice-secret'), THROTTLED_POP3, 'POP3 shares the counter');
  t.same(await imap(nodes.a, '127.0.0.7', RIGHT, RIGHT), [THROTTLED_IMAP, THROTTLED_IMAP, '* BYE Too many failed logins.'], 'throttled logins count on the connection');
  t.match(events.filter((e) => e.session.remoteAddress === '127.0.0.7').map((e) => e.reason), ['bad-password', 'bad-password', 'bad-password', 'unknown-user', 'throttled', 'throttled', 'throttled', 'throttled']);

  t.match(await imap(nodes.a, '127.0.0.8', RIGHT), [/^a OK /], 'a neighbour still logs in');
  t.equal(await counters.count({ family: 4, value: 0x7f000007n }), LIMIT, 'throttled logins do not add to the count');

  t.equal(await counters.clear({ family: 4, value: 0x7f000007n }), true);
  t.match(await imap(nodes.a, '127.0.0.7', RIGHT), [/^a OK /], 'cleared: the address logs in again');
});

t.test('two nodes on one directory share the counter', async (t) => {
  await imap(nodes.a, '127.0.0.10', WRONG, WRONG);
  await imap(nodes.a, '127.0.0.10', WRONG, WRONG);
  t.same(await imap(nodes.b, '127.0.0.10', RIGHT), [THROTTLED_IMAP], 'failures on node A throttle on node B');
  t.equal(await pop3Login(nodes.b, '127.0.0.10', 'alice', 'alice-secret'), THROTTLED_POP3);
});

t.test('an exempt network is never throttled', async (t) => {
  for (let i = 0; i < LIMIT; i++) t.same(await imap(nodes.exempt, '127.0.0.33', WRONG, WRONG), [FAILED, FAILED, '* BYE Too many failed logins.']);
  t.match(await imap(nodes.exempt, '127.0.0.33', RIGHT), [/^a OK /]);
  t.equal(await counters.count({ family: 4, value: 0x7f000021n }), 0, 'nor counted');
  // The same address through a node without the exemption starts from zero too.
  t.match(await imap(nodes.a, '127.0.0.33', RIGHT), [/^a OK /]);
});

t.test('IPv6: ::1 is counted per /64', async (t) => {
  await imap(nodes.a, '::1', WRONG, WRONG);
  await imap(nodes.b, '::1', WRONG, WRONG);
  t.same(await imap(nodes.a, '::1', RIGHT), [THROTTLED_IMAP]);
  t.match(
    (await counters.list()).find((e) => e.client.includes(':')),
    { client: '0:0:0:0::/64', failures: LIMIT },
    'one counter for the /64',
  );
  t.equal(await counters.clear({ family: 6, value: 0xffffn }), true, 'any address of the /64 names the counter');
  t.match(await imap(nodes.a, '::1', RIGHT), [/^a OK /]);
});

t.test('refusals after a right password and store outages do not count', async (t) => {
  for (let i = 0; i < LIMIT; i++) {
    t.same(await imap(nodes.a, '127.0.0.11', ['dave', 'dave-secret'], ['dave', 'dave-secret']), [
      'a NO [AUTHORIZATIONFAILED] Account disabled.',
      'a NO [AUTHORIZATIONFAILED] Account disabled.',
      '* BYE Too many failed logins.',
    ]);
  }
  t.match(await imap(nodes.a, '127.0.0.11', RIGHT), [/^a OK /], 'a disabled account is not a wrong password');
  for (let i = 0; i < LIMIT + 1; i++) {
    t.equal(await pop3Login(nodes.a, '127.0.0.12', 'erin', 'erin-secret'), '-ERR [SYS/TEMP] Your mail store is unavailable; try again later.');
  }
  t.match(await imap(nodes.a, '127.0.0.12', RIGHT), [/^a OK /], 'a store outage is not a wrong password');
});

t.test('the window ends: the address logs in again', async (t) => {
  t.same(await imap(shortWindow, '127.0.0.13', WRONG, WRONG), [FAILED, FAILED, '* BYE Too many failed logins.']);
  t.same(await imap(shortWindow, '127.0.0.13', RIGHT), [THROTTLED_IMAP]);
  // The key expires 1 s after the first failure; wait for the answer to change, not for a time.
  let answer = THROTTLED_IMAP;
  for (let i = 0; i < 100 && answer === THROTTLED_IMAP; i++) {
    await new Promise((r) => setTimeout(r, 100));
    answer = (await imap(shortWindow, '127.0.0.13', RIGHT))[0] as string;
  }
  t.match(answer, /^a OK /);
});
