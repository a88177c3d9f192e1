// `gatehouse serve --config FILE` and SIGHUP on the delivery front door, as an operator
// uses them: the first LMTP listener added to a running node, then, while an MTA is in the
// middle of a DATA on it, that listener removed and another added with a renewed
// certificate and an SNI one. The transaction under way finishes and its message lands
// byte-exact; the removed address refuses; the new one presents the new certificates
// after STARTTLS and delivers. Then the last LMTP listener goes and comes back.
// Real parts: the command in a child process, Redis, a Dovecot store with its LMTP, TLS
// clients on real sockets; the mail is read back through Gatehouse's IMAPS listener.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import t from 'tap';
import { generateSelfSigned, type PemPair } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { freePorts, removeDir, startDovecot, startRedis, tmpDir } from '@gatehouse/testkit';
import { hangUp, startServe, type ServeProcess } from './helpers.ts';
import { connectResult, LineClient, type TrustOptions } from './helpers/line-client.ts';

const ALICE = { name: 'alice@example.com', password: 'alice-secret' };
const VS = 'mail';
const oldCert = generateSelfSigned({ commonName: 'old.example.com', altNames: ['mail.example.com'] });
const newCert = generateSelfSigned({ commonName: 'new.example.com', altNames: ['mail.example.com'] });
const relayCert = generateSelfSigned({ commonName: 'relay.example.org', altNames: ['relay.example.org'] });
const trusted = [oldCert.certPem, newCert.certPem, relayCert.certPem];

/** Verified against the certificates of this file, for `servername`. */
const trust = (servername: string): TrustOptions => ({ ca: trusted, servername });

/** A message with what tends to break byte-exactness: dot lines, 8-bit bytes, a long line. */
function message(tag: string): Buffer {
  return Buffer.concat([
    Buffer.from(`From: Sender <sender@remote.test>\r\nTo: alice@example.com\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@remote.test>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n`),
    Buffer.from('.leading dot\r\n..two dots\r\n.\r\nline after a lone dot  \r\n'),
    Buffer.from([0xe9, 0xe8, 0x0d, 0x0a]),
    Buffer.from(`${'x'.repeat(900)}\r\nend of ${tag}\r\n`),
  ]);
}

/** RFC 5321 §4.5.2: a line starting with a dot gets one more. */
function dotStuffed(data: Buffer): Buffer {
  return Buffer.from(data.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
}

/** LHLO, MAIL, RCPT for alice and DATA up to the 354. */
async function openTransaction(c: LineClient): Promise<void> {
  for (const [command, code] of [
    ['LHLO mta.test', '250'],
    ['MAIL FROM:<sender@remote.test>', '250'],
    [`RCPT TO:<${ALICE.name}>`, '250'],
    ['DATA', '354'],
  ] as const) {
    const r = await c.cmd(command);
    if (!r.at(-1)?.startsWith(`${code} `)) throw new Error(`${command}: ${JSON.stringify(r)}`);
  }
}

/** The stored copies of the message with this Message-ID tag, read through Gatehouse's IMAPS listener. */
async function stored(tag: string): Promise<Buffer[]> {
  const c = await LineClient.tls(ports.imaps, trust('mail.example.com'));
  try {
    await c.line();
    const login = await c.imap('a', `LOGIN ${ALICE.name} ${ALICE.password}`);
    if (!login.at(-1)?.startsWith('a OK')) throw new Error(`login: ${JSON.stringify(login)}`);
    await c.imap('s', 'SELECT INBOX');
    const search = await c.imap('f', `UID SEARCH HEADER Message-ID "<${tag}@remote.test>"`);
    const uids = (search.find((l) => l.startsWith('* SEARCH')) ?? '').split(' ').slice(2);
    const out: Buffer[] = [];
    for (const uid of uids) out.push(await fetchBody(c, uid));
    return out;
  } finally {
    c.close();
  }
}

/** UID FETCH BODY.PEEK[] of one message, its literal read byte for byte. */
async function fetchBody(c: LineClient, uid: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = (d: Buffer): void => {
    chunks.push(d);
  };
  c.socket.on('data', collect);
  const done = await c.imap('b', `UID FETCH ${uid} (BODY.PEEK[])`);
  c.socket.off('data', collect);
  if (!done.at(-1)?.startsWith('b OK')) throw new Error(`fetch: ${JSON.stringify(done)}`);
  const all = Buffer.concat(chunks);
  const m = /BODY\[\] \{(\d+)\}\r\n/.exec(all.toString('latin1'));
  if (m === null) throw new Error(`no literal in ${JSON.stringify(done)}`);
  const start = m.index + m[0].length;
  return all.subarray(start, start + Number(m[1]));
}

/** The stored copy is the message as sent, after only the trace fields the store prepends. */
function landedExact(copy: Buffer | undefined, sent: Buffer): boolean {
  if (copy === undefined || copy.length < sent.length) return false;
  const prefix = copy.subarray(0, copy.length - sent.length).toString('latin1');
  return copy.subarray(copy.length - sent.length).equals(sent) && /^Return-Path: <[^>]*>\r\n(?:[A-Za-z-]+: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)*$/.test(prefix);
}

interface ConfigOptions {
  banner: string;
  /** LMTP listeners (STARTTLS) beside the IMAPS one. */
  lmtp: Array<{ name: string; port: number }>;
  sni?: PemPair;
}

let redisUrl = '';
let prefix = '';
let dir = '';
let serve: ServeProcess;
let ports: { imaps: number; first: number; second: number; third: number };

function writeConfig(o: ConfigOptions): void {
  const sni: Array<Record<string, string>> = [];
  if (o.sni !== undefined) {
    writeFileSync(join(dir, 'sni.crt'), o.sni.certPem);
    writeFileSync(join(dir, 'sni.key'), o.sni.keyPem);
    sni.push({ cert: join(dir, 'sni.crt'), key: join(dir, 'sni.key') });
  }
  const config = {
    redis: redisUrl,
    keyPrefix: prefix,
    node: { id: 'reload-delivery-node' },
    log: { level: 'info' },
    vservers: [
      {
        name: VS,
        defaultDomain: 'example.com',
        banner: o.banner,
        tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ...(sni.length > 0 ? { sni } : {}) },
        listeners: [
          { name: 'imaps', listen: `127.0.0.1:${ports.imaps}`, tls: 'implicit' },
          ...o.lmtp.map((l) => ({ name: l.name, protocol: 'lmtp', listen: `127.0.0.1:${l.port}`, tls: 'starttls' })),
        ],
      },
    ],
  };
  // YAML is a superset of JSON: the file is written as JSON.
  writeFileSync(join(dir, 'gatehouse.yaml'), JSON.stringify(config, null, 2));
}

function writeCertificate(pair: PemPair): void {
  writeFileSync(join(dir, 'tls.crt'), pair.certPem);
  writeFileSync(join(dir, 'tls.key'), pair.keyPem);
}

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  redisUrl = redis.url;
  const be1 = await startDovecot({ name: 'be1', sampleMail: false, users: [{ user: ALICE.name, password: ALICE.password }] });
  t.teardown(() => be1.stop());
  prefix = `t${randomBytes(4).toString('hex')}:`;
  const directory = await Directory.connect(redis.url, { prefix });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  await directory.addBackend({
    name: be1.name,
    host: be1.host,
    imapPort: be1.imapPort,
    lmtpPort: be1.lmtpPort,
    tls: 'starttls',
    tlsVerify: false,
    login: 'master',
    masterUser: be1.masterUser,
    masterPassword: be1.masterPassword,
  });
  await directory.addUser({ name: ALICE.name, backend: be1.name, password: await hashPassword(ALICE.password) });

  dir = await tmpDir('gh-reload-delivery-');
  t.teardown(() => removeDir(dir));
  const [imaps, first, second, third] = await freePorts(4);
  ports = { imaps: imaps as number, first: first as number, second: second as number, third: third as number };
  writeCertificate(oldCert);
  // No LMTP listener yet: the first one comes with a reload.
  writeConfig({ banner: 'Before reload.', lmtp: [] });

  serve = await startServe(t, ['--config', join(dir, 'gatehouse.yaml')]);
});

t.test('SIGHUP: the first LMTP listener of a running node opens and delivers to the store', async (t) => {
  t.equal(await connectResult(ports.first), 'ECONNREFUSED', 'no LMTP listener before the reload');
  writeConfig({ banner: 'First LMTP.', lmtp: [{ name: 'lmtp-a', port: ports.first }] });
  const { done, lines } = await hangUp(serve);
  t.equal(done['msg'], 'config.reloaded', JSON.stringify(done));
  t.same(done['opened'], [`${VS}/lmtp-a 127.0.0.1:${ports.first}`]);
  t.same(done['closed'], []);
  t.same(done['failed'], []);
  t.notOk(
    lines.some((l) => l['msg'] === 'config.restart_required'),
    'a delivery listener needs no restart',
  );

  const c = await LineClient.plain(ports.first);
  t.match(await c.line(), /^220 \S+ LMTP First LMTP\.$/, 'greeting with the banner of the file');
  await openTransaction(c);
  const sent = message('first-listener');
  c.socket.write(Buffer.concat([dotStuffed(sent), Buffer.from('.\r\n')]));
  t.match((await c.reply()).at(-1), /^250 2\.0\.0 <alice@example\.com> \S+ Saved$/, "the store's reply for alice");
  t.match((await c.cmd('QUIT')).at(-1), /^221 /);
  c.close();
  const copies = await stored('first-listener');
  t.equal(copies.length, 1, 'one copy in the store');
  t.ok(landedExact(copies[0], sent), 'the message as sent, byte for byte');
});

t.test('SIGHUP during a DATA: the transaction finishes on the removed listener; the new one serves the new certificates', async (t) => {
  // An MTA mid-transaction on the listener about to go: part of the message sent.
  const mta = await LineClient.plain(ports.first);
  await mta.line();
  await mta.cmd('LHLO mta.test');
  t.match((await mta.starttls(trust('mail.example.com'))).at(-1), /^220 /);
  t.same(mta.certificate, { cn: 'old.example.com', authorized: true }, 'STARTTLS with the certificate of the start');
  await openTransaction(mta);
  const sent = message('in-flight');
  const wire = dotStuffed(sent);
  const half = wire.indexOf('line after');
  mta.socket.write(wire.subarray(0, half));
  // Another session accepted before the reload, in cleartext: it starts TLS after it.
  const idle = await LineClient.plain(ports.first);
  await idle.line();
  await idle.cmd('LHLO idle.test');

  // The certificate renewed in place, an SNI certificate added, the listener moved.
  writeCertificate(newCert);
  writeConfig({ banner: 'After reload.', lmtp: [{ name: 'lmtp-b', port: ports.second }], sni: relayCert });
  const { done, lines } = await hangUp(serve);
  t.equal(done['msg'], 'config.reloaded', JSON.stringify(done));
  t.same(done['opened'], [`${VS}/lmtp-b 127.0.0.1:${ports.second}`]);
  t.same(done['closed'], [`${VS}/lmtp-a 127.0.0.1:${ports.first}`]);
  t.same(done['failed'], []);
  t.same(done['certificatesReloaded'], [VS]);
  t.notOk(
    lines.some((l) => l['msg'] === 'config.restart_required'),
    'no restart named for the delivery changes',
  );
  t.equal(await connectResult(ports.first), 'ECONNREFUSED', 'the removed listener refuses new connections');

  // The rest of the message, the final dot: delivered, and the session goes on.
  mta.socket.write(Buffer.concat([wire.subarray(half), Buffer.from('.\r\n')]));
  t.match((await mta.reply()).at(-1), /^250 2\.0\.0 <alice@example\.com> \S+ Saved$/, 'the transaction under way is delivered');
  t.match((await mta.cmd('NOOP')).at(-1), /^250 /, 'the session still takes commands');
  t.match((await mta.cmd('QUIT')).at(-1), /^221 /);
  mta.close();
  const copies = await stored('in-flight');
  t.equal(copies.length, 1, 'one copy in the store');
  t.ok(landedExact(copies[0], sent), 'the message as sent, byte for byte');

  // The session from before the reload that starts TLS now: the renewed certificate.
  t.match((await idle.starttls(trust('mail.example.com'))).at(-1), /^220 /);
  t.same(idle.certificate, { cn: 'new.example.com', authorized: true }, 'STARTTLS after the reload, on the removed listener');
  idle.close();

  // The new listener: its greeting, the new default certificate, the SNI one, a delivery.
  const fresh = await LineClient.plain(ports.second);
  t.match(await fresh.line(), /^220 \S+ LMTP After reload\.$/);
  await fresh.cmd('LHLO mta.test');
  t.match((await fresh.starttls(trust('mail.example.com'))).at(-1), /^220 /);
  t.same(fresh.certificate, { cn: 'new.example.com', authorized: true }, 'the renewed default certificate');
  await openTransaction(fresh);
  const after = message('new-listener');
  fresh.socket.write(Buffer.concat([dotStuffed(after), Buffer.from('.\r\n')]));
  t.match((await fresh.reply()).at(-1), /^250 2\.0\.0 <alice@example\.com> \S+ Saved$/);
  fresh.close();
  const landed = await stored('new-listener');
  t.equal(landed.length, 1);
  t.ok(landedExact(landed[0], after), 'delivered through the new listener, byte for byte');

  const bySni = await LineClient.plain(ports.second);
  await bySni.line();
  await bySni.cmd('LHLO mta.test');
  t.match((await bySni.starttls(trust('RELAY.example.org'))).at(-1), /^220 /);
  t.same(bySni.certificate, { cn: 'relay.example.org', authorized: true }, 'the SNI name picks the SNI certificate');
  t.match((await bySni.cmd('LHLO mta.test')).at(-1), /^250 /, 'and the session goes on in TLS');
  bySni.close();
  const unknown = await LineClient.plain(ports.second);
  await unknown.line();
  await unknown.cmd('LHLO mta.test');
  t.match((await unknown.starttls(trust('other.example.net'), true)).at(-1), /^220 /);
  t.same(unknown.certificate, { cn: 'new.example.com', authorized: true }, 'a name no certificate has: the default');
  unknown.close();
});

t.test('SIGHUP: the last LMTP listener removed refuses; a later reload opens one again, an address in use is reported', async (t) => {
  writeConfig({ banner: 'No delivery.', lmtp: [], sni: relayCert });
  const removed = await hangUp(serve);
  t.equal(removed.done['msg'], 'config.reloaded', JSON.stringify(removed.done));
  t.same(removed.done['closed'], [`${VS}/lmtp-b 127.0.0.1:${ports.second}`]);
  t.same(removed.done['opened'], []);
  t.equal(await connectResult(ports.second), 'ECONNREFUSED');

  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => squatter.close());
  const busy = (squatter.address() as net.AddressInfo).port;
  writeConfig({
    banner: 'Delivery again.',
    lmtp: [
      { name: 'lmtp-busy', port: busy },
      { name: 'lmtp-c', port: ports.third },
    ],
    sni: relayCert,
  });
  const added = await hangUp(serve);
  t.equal(added.done['level'], 40, 'logged as a warning');
  t.same(added.done['failed'], [{ listener: `${VS}/lmtp-busy 127.0.0.1:${busy}`, code: 'EADDRINUSE' }]);
  t.same(added.done['opened'], [`${VS}/lmtp-c 127.0.0.1:${ports.third}`], 'the rest of the file applies');
  const c = await LineClient.plain(ports.third);
  t.match(await c.line(), /^220 \S+ LMTP Delivery again\.$/);
  t.match((await c.cmd('QUIT')).at(-1), /^221 /);
  c.close();
});
