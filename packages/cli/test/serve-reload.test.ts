// `gatehouse serve --config FILE` and SIGHUP, as an operator uses them: the file is
// rewritten (the certificate renewed in place, an SNI certificate added, a listener
// added, one removed, one changed, a new banner) and the node told to re-read it. Users
// logged in before the reload keep working on their sockets, even those whose listener
// is gone; new connections see the new file. A broken file changes nothing.
// Real parts: the command in a child process, Redis, a Dovecot store, TLS clients.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { generateSelfSigned, type PemPair } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { freePorts, startDovecot, startRedis, tmpDir } from '@gatehouse/testkit';
import { cliPath } from './helpers.ts';

const ALICE = { name: 'alice@example.com', password: 'alice-secret' };
const VS = 'mail';
const oldCert = generateSelfSigned({ commonName: 'old.example.com', altNames: ['mail.example.com'] });
const newCert = generateSelfSigned({ commonName: 'new.example.com', altNames: ['mail.example.com'] });
const extraCert = generateSelfSigned({ commonName: 'extra.example.org' });
const trusted = [oldCert.certPem, newCert.certPem, extraCert.certPem];

/** An IMAP client on a real socket (TLS or not): the lines received, in order. */
class Client {
  socket: net.Socket;
  lines: string[] = [];
  closed = false;
  private buf = '';
  private read = 0;
  private wake: (() => void) | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      for (let i = this.buf.indexOf('\r\n'); i >= 0; i = this.buf.indexOf('\r\n')) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static tls(port: number, servername = 'mail.example.com'): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: trusted, servername }, () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  static plain(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  /** The next line not read yet. */
  async line(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.lines.length) {
      if (this.closed) throw new Error(`closed; lines: ${JSON.stringify(this.lines)}`);
      if (Date.now() > deadline) throw new Error(`no line; lines: ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
    return this.lines[this.read++] as string;
  }

  /** Sends `tag text` and returns the lines up to the tagged answer. */
  async cmd(tag: string, text: string): Promise<string[]> {
    this.socket.write(`${tag} ${text}\r\n`);
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      out.push(l);
      if (l.startsWith(`${tag} `)) return out;
    }
  }

  /** CN of the certificate the server showed, and whether this client verified it. */
  get certificate(): { cn: string; authorized: boolean } {
    const s = this.socket as tls.TLSSocket;
    return { cn: String(s.getPeerCertificate().subject.CN), authorized: s.authorized };
  }

  close(): void {
    this.socket.destroy();
  }
}

async function loggedIn(port: number): Promise<Client> {
  const c = await Client.tls(port);
  await c.line();
  const login = await c.cmd('a', `LOGIN ${ALICE.name} ${ALICE.password}`);
  if (!login.at(-1)?.startsWith('a OK')) throw new Error(`login: ${JSON.stringify(login)}`);
  const select = await c.cmd('s', 'SELECT INBOX');
  if (!select.at(-1)?.startsWith('s OK')) throw new Error(`select: ${JSON.stringify(select)}`);
  return c;
}

function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
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
let child: ChildProcess;
/** Every JSON log line the node wrote. */
const logs: Array<Record<string, unknown>> = [];
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

/** Sends SIGHUP and waits for the log line that ends that reload. */
async function hangUp(): Promise<Record<string, unknown>> {
  const from = logs.length;
  child.kill('SIGHUP');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const hit = logs.slice(from).find((l) => l['msg'] === 'config.reloaded' || l['msg'] === 'config.reload_failed');
    if (hit !== undefined) return hit;
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`no reload log line; logs: ${JSON.stringify(logs.slice(from))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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

  child = spawn(process.execPath, [cliPath, 'serve', '--config', files.config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GATEHOUSE_REDIS_URL: '' } });
  t.teardown(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    let i: number;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if ((stderr.match(/listening on/g) ?? []).length === 3) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
});

let onKept: Client;
let onRemoved: Client;
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
  const before = await Client.tls(ports.kept);
  t.match(await before.line(), / Before reload\.$/);
  before.close();

  // The certificate renewed in place (same files), an SNI certificate, the listener
  // changes, a new banner, and a setting that needs a restart.
  writeFileSync(files.cert, newCert.certPem);
  writeFileSync(files.key, newCert.keyPem);
  writeConfig({ banner: 'After reload.', listeners: reloadedListeners(), sni: extraCert, heartbeatMs: 5000 });
  const from = logs.length;
  const done = await hangUp();
  t.equal(done['msg'], 'config.reloaded', JSON.stringify(done));
  t.same(done['certificatesReloaded'], [VS]);
  t.same([...(done['opened'] as string[])].sort(), [`${VS}/imap 127.0.0.1:${ports.changed}`, `${VS}/new 127.0.0.1:${ports.added}`]);
  t.same([...(done['closed'] as string[])].sort(), [`${VS}/imap 127.0.0.1:${ports.changed}`, `${VS}/old 127.0.0.1:${ports.removed}`]);
  t.same(done['failed'], []);
  const restart = logs.slice(from).find((l) => l['msg'] === 'config.restart_required');
  t.same(restart?.['keys'], ['sessionRegistry'], 'the registry timing waits for a restart');

  // Logged in before the reload: still served, on the kept listener and on the removed one.
  for (const [name, c] of [['kept listener', onKept], ['removed listener', onRemoved]] as const) {
    t.match((await c.cmd('n', 'NOOP')).at(-1), /^n OK/, `${name}: NOOP`);
    const fetch = await c.cmd('f', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    t.match(fetch.at(-1), /^f OK/, `${name}: FETCH`);
    t.ok(fetch.includes('Subject: Welcome to Gatehouse'), `${name}: the message header arrives`);
    t.equal(c.certificate.cn, 'old.example.com', `${name}: on the TLS session it started with`);
  }

  // New connections: the new certificate (verified by the client) and banner.
  const after = await Client.tls(ports.kept);
  t.match(await after.line(), / After reload\.$/);
  t.same(after.certificate, { cn: 'new.example.com', authorized: true });
  after.close();
  const bySni = await Client.tls(ports.kept, 'extra.example.org');
  t.same(bySni.certificate, { cn: 'extra.example.org', authorized: true }, 'the SNI certificate added by the reload');
  bySni.close();
  // The new listener accepts and serves logins.
  const fresh = await loggedIn(ports.added);
  t.match(fresh.lines[0], / After reload\.$/);
  t.match((await fresh.cmd('n', 'NOOP')).at(-1), /^n OK/);
  fresh.close();
  // The changed listener now allows LOGIN in cleartext (no LOGINDISABLED).
  const plain = await Client.plain(ports.changed);
  const greeting = await plain.line();
  t.match(greeting, / After reload\.$/);
  t.notMatch(greeting, /LOGINDISABLED/);
  t.match((await plain.cmd('a', `LOGIN ${ALICE.name} ${ALICE.password}`)).at(-1), /^a OK/);
  plain.close();
  // The removed listener refuses.
  t.equal(await refused(ports.removed), 'ECONNREFUSED');
});

t.test('SIGHUP with a broken file: config.reload_failed, and the node keeps the config it runs', async (t) => {
  const withExtra = [...reloadedListeners(), { name: 'extra', port: ports.never, tls: 'implicit' as const }];
  // A schema error.
  writeFileSync(files.config, `vservers:\n  - name: ${VS}\n    tls: { cert: ${files.cert}, key: ${files.key} }\n    listeners:\n      - { listen: "127.0.0.1:${ports.never}", tls: sometimes }\n`);
  const bad = await hangUp();
  t.equal(bad['msg'], 'config.reload_failed');
  t.equal(bad['code'], 'ERR_CONFIG');
  t.match(bad['message'], /vservers\.0\.listeners\.0\.tls/);
  // A key that does not match its certificate, in an otherwise valid file.
  const mismatched = join(files.dir, 'other.key');
  writeFileSync(mismatched, oldCert.keyPem);
  writeConfig({ banner: 'Broken.', listeners: withExtra, key: mismatched });
  const wrongKey = await hangUp();
  t.equal(wrongKey['msg'], 'config.reload_failed');
  t.equal(wrongKey['code'], 'ERR_CERT_INVALID');
  t.match(wrongKey['message'], /vservers\.0\.tls.*does not match/);

  // An SNI certificate that names no host (its only name is an IP address), without `names`.
  writeConfig({ banner: 'Broken.', listeners: withExtra, sni: generateSelfSigned({ commonName: '127.0.0.1' }) });
  const nameless = await hangUp();
  t.equal(nameless['msg'], 'config.reload_failed');
  t.equal(nameless['code'], 'ERR_CERT_INVALID');
  t.match(nameless['message'], /vservers\.0\.tls\.sni\.0\) names no DNS name/);

  // Still the config of the last good reload.
  t.equal(await refused(ports.never), 'ECONNREFUSED', 'the listener of the broken file was not opened');
  const c = await Client.tls(ports.kept);
  t.match(await c.line(), / After reload\.$/);
  t.equal(c.certificate.cn, 'new.example.com');
  c.close();
  const fresh = await loggedIn(ports.added);
  t.match((await fresh.cmd('n', 'NOOP')).at(-1), /^n OK/);
  fresh.close();
  t.match((await onKept.cmd('n', 'NOOP')).at(-1), /^n OK/, 'the session from before the first reload still works');
});

t.test('SIGHUP: a listener whose address is taken is reported as failed; the rest of the file applies', async (t) => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => squatter.close());
  const busy = (squatter.address() as net.AddressInfo).port;
  writeConfig({ banner: 'Partly applied.', listeners: [...reloadedListeners(), { name: 'busy', port: busy, tls: 'implicit' }], sni: extraCert, heartbeatMs: 5000 });
  const from = logs.length;
  const done = await hangUp();
  t.equal(done['msg'], 'config.reloaded');
  t.equal(done['level'], 40, 'logged as a warning');
  t.same(done['failed'], [{ listener: `${VS}/busy 127.0.0.1:${busy}`, code: 'EADDRINUSE' }]);
  t.same(done['opened'], []);
  t.same(done['closed'], []);
  t.ok(logs.slice(from).some((l) => l['msg'] === 'listener.error' && l['listener'] === 'busy' && l['code'] === 'EADDRINUSE'));
  const c = await Client.tls(ports.added);
  t.match(await c.line(), / Partly applied\.$/, 'the new banner applies');
  c.close();
});
