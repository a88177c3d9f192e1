// The tier-wide session list and kick, end to end: two Gatehouse nodes sharing one Redis
// (and a third, `gatehouse serve` in a child process, for SIGKILL), two Dovecot stores,
// IMAP and POP3 clients on real TLS sockets; `gatehouse who` and `gatehouse kick` run as
// the real command.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory, SessionRegistry, hashPassword, type SessionRecord } from '@gatehouse/directory';
import { defaultImapLimits, startGatehouseNode, startSessionRegistrar, type GatehouseNode } from '@gatehouse/proxy';
import { imapLogin, pop3Login, startDovecot, startRedis, tmpDir } from '@gatehouse/testkit';
import { runCli, startServe } from './helpers.ts';

const USERS = [
  { name: 'alice@example.com', password: 'alice-secret', backend: 'be1' },
  { name: 'bob@example.com', password: 'bob-secret', backend: 'be2' },
] as const;
const HEARTBEAT_MS = 200;
const TTL_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

interface Setup {
  redisUrl: string;
  prefix: string;
  ca: string;
  certFile: string;
  keyFile: string;
  directory: Directory;
  registry: SessionRegistry;
  nodes: Record<'a' | 'b', { node: GatehouseNode; imaps: number; pop3s: number }>;
}

async function setup(): Promise<Setup> {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const [be1, be2] = await Promise.all(
    (['be1', 'be2'] as const).map((name) => startDovecot({ name, users: USERS.filter((u) => u.backend === name).map((u) => ({ user: u.name, password: u.password })) })),
  );
  if (!be1 || !be2) throw new Error('dovecot did not start');
  t.teardown(() => be1.stop());
  t.teardown(() => be2.stop());
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const directory = await Directory.connect(redis.url, { prefix });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  for (const be of [be1, be2]) {
    await directory.addBackend({
      name: be.name,
      host: be.host,
      imapPort: be.imapPort,
      pop3Port: be.pop3Port,
      tls: 'starttls',
      login: 'master',
      masterUser: be.masterUser,
      masterPassword: be.masterPassword,
    });
  }
  for (const u of USERS) await directory.addUser({ name: u.name, backend: u.backend, password: await hashPassword(u.password) });

  const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const dir = await tmpDir('gh-who-');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, cert.certPem);
  writeFileSync(keyFile, cert.keyPem);
  const logger = pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' });
  const start = async (id: 'a' | 'b'): Promise<{ node: GatehouseNode; imaps: number; pop3s: number }> => {
    const node = await startGatehouseNode({
      directory,
      logger,
      nodeId: `node-${id}`,
      vservers: [
        {
          name: `v${id}`,
          defaultDomain: 'example.com',
          banner: 'Gatehouse ready.',
          tls: { cert: cert.certPem, key: cert.keyPem },
          limits: { ...defaultImapLimits, authFailureDelayMs: 50 },
          imapListeners: [{ name: 'imaps', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false }],
          pop3Listeners: [{ name: 'pop3s', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false }],
        },
      ],
    });
    const registrar = await startSessionRegistrar({ directory, nodeId: node.nodeId, logger, heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS });
    // Teardowns run last-in first-out: sessions end (and are removed), then the registrar stops.
    t.teardown(() => registrar.close());
    t.teardown(() => node.close());
    const port = (p: string): number => node.listeners().find((l) => l.protocol === p)?.port ?? 0;
    return { node, imaps: port('imap'), pop3s: port('pop3') };
  };
  const nodes = { a: await start('a'), b: await start('b') };
  return { redisUrl: redis.url, prefix, ca: cert.certPem, certFile, keyFile, directory, registry: new SessionRegistry({ redis: directory.redis, keys: directory.keys }), nodes };
}

let s: Setup;
t.before(async () => {
  s = await setup();
});

const cli = (args: string[]): ReturnType<typeof runCli> => runCli(['--redis', s.redisUrl, '--prefix', s.prefix, ...args]);

async function whoJson(args: string[] = []): Promise<{ sessions: SessionRecord[]; nodes: Array<{ node: string; sessions: number }> }> {
  const r = await cli(['--json', 'who', ...args]);
  if (r.code !== 0) throw new Error(`who failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { sessions: SessionRecord[]; nodes: Array<{ node: string; sessions: number }> };
}

t.test('who: lists the IMAP and POP3 sessions of both nodes with their fields, filters, and one summary line per node', async (t) => {
  const { a, b } = s.nodes;
  const aliceImapA = await imapLogin(a.imaps, s.ca, 'alice', 'alice-secret');
  const bobPopA = await pop3Login(a.pop3s, s.ca, 'bob@example.com', 'bob-secret');
  const alicePopB = await pop3Login(b.pop3s, s.ca, 'alice@example.com', 'alice-secret');
  const bobImapB = await imapLogin(b.imaps, s.ca, 'bob@example.com', 'bob-secret');
  const clients = [aliceImapA, bobPopA, alicePopB, bobImapB];
  t.teardown(() => {
    for (const c of clients) c.socket.destroy();
  });
  bobImapB.send('i1 SELECT INBOX');
  await bobImapB.waitLine(/^i1 OK/);
  bobImapB.send('i2 IDLE');
  await bobImapB.waitLine(/^\+ /);

  // The IDLE state shows from the next heartbeat on.
  const all = await until(
    'four sessions, bob idle',
    () => whoJson(),
    (w) => w.sessions.length === 4 && w.sessions.some((x) => x.state === 'idle'),
  );
  const find = (user: string, protocol: string): SessionRecord | undefined => all.sessions.find((x) => x.user === user && x.protocol === protocol);
  const expect = [
    { c: aliceImapA, user: 'alice@example.com', protocol: 'imap', node: 'node-a', vserver: 'va', backend: 'be1', state: 'authenticated' },
    { c: bobPopA, user: 'bob@example.com', protocol: 'pop3', node: 'node-a', vserver: 'va', backend: 'be2', state: 'authenticated' },
    { c: alicePopB, user: 'alice@example.com', protocol: 'pop3', node: 'node-b', vserver: 'vb', backend: 'be1', state: 'authenticated' },
    { c: bobImapB, user: 'bob@example.com', protocol: 'imap', node: 'node-b', vserver: 'vb', backend: 'be2', state: 'idle' },
  ];
  for (const e of expect) {
    const got = find(e.user, e.protocol);
    t.match(
      got,
      { user: e.user, protocol: e.protocol, node: e.node, vserver: e.vserver, backend: e.backend, state: e.state, remoteAddress: '127.0.0.1', remotePort: e.c.socket.localPort, tls: 'TLSv1.3' },
      `${e.user} ${e.protocol} on ${e.node}`,
    );
    t.ok((got?.bytesIn ?? 0) > 0 && (got?.bytesOut ?? 0) > 0, 'bytes both ways');
    t.ok(Date.parse(got?.since ?? '') <= Date.parse(got?.lastActivity ?? ''), 'since ≤ last activity');
  }
  t.same(
    all.nodes.map((n) => [n.node, n.sessions]),
    [
      ['node-a', 2],
      ['node-b', 2],
    ],
  );
  const ids = (w: { sessions: SessionRecord[] }): string[] => w.sessions.map((x) => `${x.user}/${x.protocol}`).sort();
  t.same(ids(await whoJson(['--user', 'Alice@Example.com'])), ['alice@example.com/imap', 'alice@example.com/pop3'], '--user (normalized)');
  t.same(ids(await whoJson(['--node', 'node-b'])), ['alice@example.com/pop3', 'bob@example.com/imap'], '--node');
  t.same(ids(await whoJson(['--backend', 'be2'])), ['bob@example.com/imap', 'bob@example.com/pop3'], '--backend');
  t.same(ids(await whoJson(['--vserver', 'va'])), ['alice@example.com/imap', 'bob@example.com/pop3'], '--vserver');

  const human = await cli(['who']);
  t.equal(human.code, 0);
  t.match(human.stdout, /^ID\s+USER\s+CLIENT\s+VSERVER\s+PROTOCOL\s+TLS\s+NODE\s+BACKEND\s+SINCE/m, 'a table header');
  t.match(human.stdout, /^node node-a: 2 sessions, [0-9.]+ logins\/s, in \d+(\.\d)? (B|KiB)\/s, out/m, 'a summary line for node-a');
  t.match(human.stdout, /^node node-b: 2 sessions/m, 'a summary line for node-b');
  t.equal(human.stdout.split('\n').filter((l) => l.includes('@example.com')).length, 4, 'four session rows');

  // Kick bob's IMAP session by id, through the command.
  const bobImap = find('bob@example.com', 'imap');
  const kicked = await cli(['kick', bobImap?.id ?? '']);
  t.equal(kicked.code, 0, kicked.stderr);
  t.match(kicked.stdout, `kicked ${bobImap?.id} (bob@example.com on node-b)`);
  t.equal(await bobImapB.waitLine(/^\* BYE/), '* BYE Administrator closed the session.', 'the IMAP client reads the BYE');
  await bobImapB.waitClosed();
  const unknown = await cli(['kick', 'nosuchsession']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /ERR_NOT_FOUND/);
  const usage = await cli(['kick']);
  t.equal(usage.code, 2);

  // Kick alice from node-a's side: both her sessions end, the one on node-b too, within a second.
  const started = Date.now();
  await s.registry.kick({ user: 'alice@example.com' });
  const [imapClosed, popClosed] = await Promise.all([aliceImapA.waitClosed(), alicePopB.waitClosed()]);
  t.ok(imapClosed - started < 1000 && popClosed - started < 1000, `both ended within a second (${imapClosed - started} ms, ${popClosed - started} ms)`);
  t.equal(aliceImapA.lines.at(-1), '* BYE Administrator closed the session.', 'IMAP: * BYE');
  t.match(alicePopB.lines, ['+OK Gatehouse ready.', '+OK', /^\+OK/], 'POP3: closed without a word');
  t.equal(alicePopB.lines.length, 3);
  const after = await until('alice gone', () => whoJson(), (w) => w.sessions.every((x) => x.user !== 'alice@example.com'), 2000);
  t.same(ids(after), ['bob@example.com/pop3']);

  // Through the command, by user: bob's POP3 session on node-a.
  const byUser = await cli(['--json', 'kick', '--user', 'bob@example.com']);
  t.equal(byUser.code, 0, byUser.stderr);
  t.same(JSON.parse(byUser.stdout), { kicked: [find('bob@example.com', 'pop3')?.id], remaining: [] });
  await bobPopA.waitClosed();
});

t.test('who: the sessions of a SIGKILLed `gatehouse serve` disappear within the TTL', async (t) => {
  const config = join(await tmpDir('gh-who-serve-'), 'gatehouse.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      redis: s.redisUrl,
      keyPrefix: s.prefix,
      node: { id: 'node-k' },
      sessionRegistry: { heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS },
      log: { level: 'silent' },
      vservers: [{ name: 'vk', defaultDomain: 'example.com', tls: { cert: s.certFile, key: s.keyFile }, listeners: [{ listen: '127.0.0.1:0', tls: 'implicit' }] }],
    }),
  );
  const serve = await startServe(t, ['--config', config, '--admin', '0']);
  const adminPort = Number(/admin listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(serve.stderr)?.[1]);
  t.ok(adminPort > 0, '`--admin 0` opened the admin listener on loopback');
  const c = await imapLogin(serve.port, s.ca, 'alice', 'alice-secret');
  t.teardown(() => c.socket.destroy());
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  t.match(metrics, /^gatehouse_logins_total\{protocol="imap",vserver="vk",backend="be1"\} 1$/m, 'the serve node counts its login');
  const listed = await until('the serve node`s session', () => whoJson(['--node', 'node-k']), (w) => w.sessions.length === 1);
  t.match(listed.sessions[0], { user: 'alice@example.com', node: 'node-k', vserver: 'vk', protocol: 'imap' });
  serve.signal('SIGKILL');
  await serve.exited;
  const killedAt = Date.now();
  // Polled in-process (the command takes a few hundred ms to start), then checked with it.
  await until(
    'no node-k',
    async () => ({ sessions: await s.registry.list(), nodes: await s.registry.nodes() }),
    (w) => w.sessions.every((x) => x.node !== 'node-k') && w.nodes.every((n) => n.node !== 'node-k'),
    5000,
  );
  const gone = Date.now() - killedAt;
  t.ok(gone <= TTL_MS + 100, `gone ${gone} ms after SIGKILL (TTL ${TTL_MS} ms)`);
  const w = await whoJson();
  t.notOk(w.sessions.some((x) => x.node === 'node-k') || w.nodes.some((n) => n.node === 'node-k'), '`who` no longer lists node-k');
});
