// `gatehouse serve --config FILE` and SIGHUP, as an operator uses them: the file is
// rewritten (the certificate renewed in place, an SNI certificate added, a listener
// added, one removed, one changed, a new banner) and the node told to re-read it. Users
// logged in before the reload keep working on their sockets, even those whose listener
// is gone; new connections see the new file. A broken file changes nothing.
// Real parts: the command in a child process, Redis, a Dovecot store, TLS clients.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import t from 'tap';
import { generateSelfSigned, type PemPair } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { freePorts, startDovecot, startRedis, tmpDir } from '@gatehouse/testkit';
import { hangUp, startServe, type ServeProcess } from './helpers.ts';
import { connectResult, LineClient } from './helpers/line-client.ts';

const ALICE = { name: 'alice@example.com', password: 'alice-secret' };
const VS = 'mail';
const oldCert = generateSelfSigned({ commonName: 'old.example.com', altNames: ['mail.example.com'] });
const newCert = generateSelfSigned({ commonName: 'new.example.com', altNames: ['mail.example.com'] });
const extraCert = generateSelfSigned({ commonName: 'extra.example.org' });
const trusted = [oldCert.certPem, newCert.certPem, extraCert.certPem];

/** Implicit TLS, verified against the certificates of this file. */
const tlsClient = (port: number, servername = 'mail.example.com'): Promise<LineClient> => LineClient.tls(port, { ca: trusted, servername });

async function loggedIn(port: number): Promise<LineClient> {
  const c = await tlsClient(port);
  await c.line();
  const login = await c.imap('a', `LOGIN ${ALICE.name} ${ALICE.password}`);
  if (!login.at(-1)?.startsWith('a OK')) throw new Error(`login: ${JSON.stringify(login)}`);
  const select = await c.imap('s', 'SELECT INBOX');
  if (!select.at(-1)?.startsWith('s OK')) throw new Error(`select: ${JSON.stringify(select)}`);
  return c;
}

interface Listener {
  name: string;
  port: number;
  tls: 'implicit' | 'starttls';
  allowPlaintextAuth?: boolean;
}

interface Files {
  dir: string;
  config: string;
  cert: string;
  key: string;
}

interface ConfigOptions {
  banner: string;
  listeners: Listener[];
  /** The default certificate and key files; default the ones in `files`. */
  cert?: string;
  key?: string;
  sni?: PemPair;
  heartbeatMs?: number;
}

let redisUrl = '';
let prefix = '';
let files: Files;
let serve: ServeProcess;
let ports: { kept: number; changed: number; removed: number; added: number; never: number };

function writeConfig(o: ConfigOptions): void {
  const sni: Array<Record<string, string>> = [];
  if (o.sni !== undefined) {
    writeFileSync(join(files.dir, 'sni.crt'), o.sni.certPem);
    writeFileSync(join(files.dir, 'sni.key'), o.sni.keyPem);
    sni.push({ cert: join(files.dir, 'sni.crt'), key: join(files.dir, 'sni.key') });
  }
  const config = {
    redis: redisUrl,
    keyPrefix: prefix,
    node: { id: 'reload-node' },
    log: { level: 'info' },
    ...(o.heartbeatMs === undefined ? {} : { sessionRegistry: { heartbeatMs: o.heartbeatMs } }),
    vservers: [
      {
        name: VS,
        defaultDomain: 'example.com',
        banner: o.banner,
        tls: { cert: o.cert ?? files.cert, key: o.key ?? files.key, ...(sni.length > 0 ? { sni } : {}) },
        limits: { authFailureDelayMs: 50 },
        listeners: o.listeners.map((l) => ({ name: l.name, listen: `127.0.0.1:${l.port}`, tls: l.tls, allowPlaintextAuth: l.allowPlaintextAuth ?? false })),
      },
    ],
  };
  // YAML is a superset of JSON: the file is written as JSON.
  writeFileSync(files.config, JSON.stringify(config, null, 2));
}

const initialListeners = (): Listener[] => [
  { name: 'imaps', port: ports.kept, tls: 'implicit' },
  { name: 'imap', port: ports.changed, tls: 'starttls' },
  { name: 'old', port: ports.removed, tls: 'implicit' },
];
const reloadedListeners = (): Listener[] => [
  { name: 'imaps', port: ports.kept, tls: 'implicit' },
  { name: 'imap', port: ports.changed, tls: 'starttls', allowPlaintextAuth: true },
  { name: 'new', port: ports.added, tls: 'implicit' },
];

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  redisUrl = redis.url;
  const be1 = await startDovecot({ name: 'be1', users: [{ user: ALICE.name, password: ALICE.password }] });
  t.teardown(() => be1.stop());
  prefix = `t${randomBytes(4).toString('hex')}:`;
  const directory = await Directory.connect(redis.url, { prefix });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  await directory.addBackend({
    name: be1.name,
    host: be1.host,
    imapPort: be1.imapPort,
    pop3Port: be1.pop3Port,
    tls: 'starttls',
    login: 'master',
    masterUser: be1.masterUser,
    masterPassword: be1.masterPassword,
  });
  await directory.addUser({ name: ALICE.name, backend: be1.name, password: await hashPassword(ALICE.password) });

  const dir = await tmpDir('gh-reload-');
  files = { dir, config: join(dir, 'gatehouse.yaml'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  writeFileSync(files.cert, oldCert.certPem);
  writeFileSync(files.key, oldCert.keyPem);
  const [kept, changed, removed, added, never] = await freePorts(5);
  ports = { kept: kept as number, changed: changed as number, removed: removed as number, added: added as number, never: never as number };
  writeConfig({ banner: 'Before reload.', listeners: initialListeners() });

  serve = await startServe(t, ['--config', files.config], { listeners: 3 });
});

let onKept: LineClient;
let onRemoved: LineClient;
const fileTest = t;

t.test('SIGHUP: listeners, certificate and banner change for new connections; logged-in sessions go on', async (t) => {
  onKept = await loggedIn(ports.kept);
  onRemoved = await loggedIn(ports.removed);
  // Closed at the end of the file: the next test uses onKept too.
  fileTest.teardown(() => {
    onKept.close();
    onRemoved.close();
  });
  t.equal(onKept.certificate.cn, 'old.example.com');
  const before = await tlsClient(ports.kept);
  t.match(await before.line(), / Before reload\.$/);
  before.close();

  // The certificate renewed in place (same files), an SNI certificate, the listener
  // changes, a new banner, and a setting that needs a restart.
  writeFileSync(files.cert, newCert.certPem);
  writeFileSync(files.key, newCert.keyPem);
  writeConfig({ banner: 'After reload.', listeners: reloadedListeners(), sni: extraCert, heartbeatMs: 5000 });
  const { done, lines } = await hangUp(serve);
  t.equal(done['msg'], 'config.reloaded', JSON.stringify(done));
  t.same(done['certificatesReloaded'], [VS]);
  t.same([...(done['opened'] as string[])].sort(), [`${VS}/imap 127.0.0.1:${ports.changed}`, `${VS}/new 127.0.0.1:${ports.added}`]);
  t.same([...(done['closed'] as string[])].sort(), [`${VS}/imap 127.0.0.1:${ports.changed}`, `${VS}/old 127.0.0.1:${ports.removed}`]);
  t.same(done['failed'], []);
  const restart = lines.find((l) => l['msg'] === 'config.restart_required');
  t.same(restart?.['keys'], ['sessionRegistry'], 'the registry timing waits for a restart');

  // Logged in before the reload: still served, on the kept listener and on the removed one.
  for (const [name, c] of [['kept listener', onKept], ['removed listener', onRemoved]] as const) {
    t.match((await c.imap('n', 'NOOP')).at(-1), /^n OK/, `${name}: NOOP`);
    const fetch = await c.imap('f', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    t.match(fetch.at(-1), /^f OK/, `${name}: FETCH`);
    t.ok(fetch.includes('Subject: Welcome to Gatehouse'), `${name}: the message header arrives`);
    t.equal(c.certificate.cn, 'old.example.com', `${name}: on the TLS session it started with`);
  }

  // New connections: the new certificate (verified by the client) and banner.
  const after = await tlsClient(ports.kept);
  t.match(await after.line(), / After reload\.$/);
  t.same(after.certificate, { cn: 'new.example.com', authorized: true });
  after.close();
  const bySni = await tlsClient(ports.kept, 'extra.example.org');
  t.same(bySni.certificate, { cn: 'extra.example.org', authorized: true }, 'the SNI certificate added by the reload');
  bySni.close();
  // The new listener accepts and serves logins.
  const fresh = await loggedIn(ports.added);
  t.match(fresh.lines[0], / After reload\.$/);
  t.match((await fresh.imap('n', 'NOOP')).at(-1), /^n OK/);
  fresh.close();
  // The changed listener now allows LOGIN in cleartext (no LOGINDISABLED).
  const plain = await LineClient.plain(ports.changed);
  const greeting = await plain.line();
  t.match(greeting, / After reload\.$/);
  t.notMatch(greeting, /LOGINDISABLED/);
  t.match((await plain.imap('a', `LOGIN ${ALICE.name} ${ALICE.password}`)).at(-1), /^a OK/);
  plain.close();
  // The removed listener refuses.
  t.equal(await connectResult(ports.removed), 'ECONNREFUSED');
});

t.test('SIGHUP with a broken file: config.reload_failed, and the node keeps the config it runs', async (t) => {
  const withExtra = [...reloadedListeners(), { name: 'extra', port: ports.never, tls: 'implicit' as const }];
  // A schema error.
  writeFileSync(files.config, `vservers:\n  - name: ${VS}\n    tls: { cert: ${files.cert}, key: ${files.key} }\n    listeners:\n      - { listen: "127.0.0.1:${ports.never}", tls: sometimes }\n`);
  const { done: bad } = await hangUp(serve);
  t.equal(bad['msg'], 'config.reload_failed');
  t.equal(bad['code'], 'ERR_CONFIG');
  t.match(bad['message'], /vservers\.0\.listeners\.0\.tls/);
  // A key that does not match its certificate, in an otherwise valid file.
  const mismatched = join(files.dir, 'other.key');
  writeFileSync(mismatched, oldCert.keyPem);
  writeConfig({ banner: 'Broken.', listeners: withExtra, key: mismatched });
  const { done: wrongKey } = await hangUp(serve);
  t.equal(wrongKey['msg'], 'config.reload_failed');
  t.equal(wrongKey['code'], 'ERR_CERT_INVALID');
  t.match(wrongKey['message'], /vservers\.0\.tls.*does not match/);

  // An SNI certificate that names no host (its only name is an IP address), without `names`.
  writeConfig({ banner: 'Broken.', listeners: withExtra, sni: generateSelfSigned({ commonName: '127.0.0.1' }) });
  const { done: nameless } = await hangUp(serve);
  t.equal(nameless['msg'], 'config.reload_failed');
  t.equal(nameless['code'], 'ERR_CERT_INVALID');
  t.match(nameless['message'], /vservers\.0\.tls\.sni\.0\) names no DNS name/);

  // Still the config of the last good reload.
  t.equal(await connectResult(ports.never), 'ECONNREFUSED', 'the listener of the broken file was not opened');
  const c = await tlsClient(ports.kept);
  t.match(await c.line(), / After reload\.$/);
  t.equal(c.certificate.cn, 'new.example.com');
  c.close();
  const fresh = await loggedIn(ports.added);
  t.match((await fresh.imap('n', 'NOOP')).at(-1), /^n OK/);
  fresh.close();
  t.match((await onKept.imap('n', 'NOOP')).at(-1), /^n OK/, 'the session from before the first reload still works');
});

t.test('SIGHUP: a listener whose address is taken is reported as failed; the rest of the file applies', async (t) => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => squatter.close());
  const busy = (squatter.address() as net.AddressInfo).port;
  writeConfig({ banner: 'Partly applied.', listeners: [...reloadedListeners(), { name: 'busy', port: busy, tls: 'implicit' }], sni: extraCert, heartbeatMs: 5000 });
  const { done, lines } = await hangUp(serve);
  t.equal(done['msg'], 'config.reloaded');
  t.equal(done['level'], 40, 'logged as a warning');
  t.same(done['failed'], [{ listener: `${VS}/busy 127.0.0.1:${busy}`, code: 'EADDRINUSE' }]);
  t.same(done['opened'], []);
  t.same(done['closed'], []);
  t.ok(lines.some((l) => l['msg'] === 'listener.error' && l['listener'] === 'busy' && l['code'] === 'EADDRINUSE'));
  const c = await tlsClient(ports.added);
  t.match(await c.line(), / Partly applied\.$/, 'the new banner applies');
  c.close();
});
