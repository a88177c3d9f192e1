// Several certificates on one virtual server, chosen by the name the client asks for
// (SNI): real listeners (implicit TLS, STARTTLS, POP3 STLS, implicit TLS behind a PROXY
// header), real clients (Node's tls, and OpenSSL's s_client as a non-Node TLS stack).
// Each check reads the certificate the client was shown and whether the client, trusting
// only that certificate, verified it for the name it asked for.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { generateSelfSigned, type PemPair } from '@gatehouse/certs';
import { Directory } from '@gatehouse/directory';
import { startRedis, tmpDir } from '@gatehouse/testkit';
import { certificateNames, defaultImapLimits, startGatehouseNode, type GatehouseNode } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';

const fallback = generateSelfSigned({ commonName: 'default.test' });
const mailA = generateSelfSigned({ commonName: 'mail.a.test' });
const wildB = generateSelfSigned({ commonName: 'wild-b', altNames: ['*.b.test'] });
/** Made by `openssl req` without any subjectAltName: its name can only come from the CN. */
let cnOnly: PemPair;
let node: GatehouseNode;
const port: Record<string, number> = {};

t.before(async () => {
  const dir = await tmpDir('gh-sni-');
  await new Promise<void>((resolve, reject) =>
    execFile(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=cn-only.test', '-days', '2', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')],
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  cnOnly = { certPem: readFileSync(join(dir, 'c.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };

  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const directory = await Directory.connect(redis.url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  node = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId: 'sni-node',
    vservers: [
      {
        name: 'multi',
        defaultDomain: 'a.test',
        banner: 'Gatehouse ready.',
        tls: {
          cert: fallback.certPem,
          key: fallback.keyPem,
          sni: [
            { cert: mailA.certPem, key: mailA.keyPem },
            { cert: wildB.certPem, key: wildB.keyPem },
            { cert: cnOnly.certPem, key: cnOnly.keyPem },
          ],
        },
        limits: { ...defaultImapLimits },
        imapListeners: [
          { name: 'imaps', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false },
          { name: 'imap', host: '127.0.0.1', port: 0, tls: 'starttls', allowPlaintextAuth: false },
          { name: 'pimaps', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false, proxyProtocol: true, trustedProxies: ['127.0.0.2'] },
        ],
        pop3Listeners: [{ name: 'pop3', host: '127.0.0.1', port: 0, tls: 'starttls', allowPlaintextAuth: false }],
      },
    ],
  });
  t.teardown(() => node.close());
  for (const l of node.listeners()) port[l.listener] = l.port;
});

/** Every certificate the tests may be shown: a client trusts them all and says which one it got. */
const trusted = (): string[] => [fallback.certPem, mailA.certPem, wildB.certPem, cnOnly.certPem];

interface Seen {
  cn: string;
  altNames: string;
  /** The client verified the chain and the name it asked for. */
  authorized: boolean;
}

function seen(s: tls.TLSSocket): Seen {
  const peer = s.getPeerCertificate();
  return { cn: String(peer.subject.CN), altNames: peer.subjectaltname ?? '', authorized: s.authorized };
}

/** Implicit TLS with Node's client; `servername` undefined sends no SNI (the host is an IP address). */
function implicitTls(listenPort: number, servername?: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: listenPort, ca: trusted(), rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) }, () => {
      const r = seen(s);
      s.destroy();
      resolve(r);
    });
    s.once('error', reject);
  });
}

/** Cleartext greeting, STARTTLS (IMAP) or STLS (POP3), then the handshake with `servername`. */
async function upgraded(protocol: 'imap' | 'pop3', servername?: string): Promise<Seen & { greeting: string | null; afterTls: string[] }> {
  const c = await RawClient.connect(port[protocol === 'imap' ? 'imap' : 'pop3'] as number);
  const greeting = await c.line();
  if (protocol === 'imap') await c.cmd('s', 'STARTTLS');
  else c.send('STLS\r\n');
  const ready = protocol === 'imap' ? null : await c.line();
  if (ready !== null && !ready.startsWith('+OK')) throw new Error(`STLS refused: ${ready}`);
  c.socket.removeAllListeners('data');
  const secure = tls.connect({ socket: c.socket, ca: trusted(), rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  const r = seen(secure);
  // The session goes on over TLS: one command answered there.
  const reply = await new Promise<string[]>((resolve) => {
    let buf = '';
    secure.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (protocol === 'imap' ? /^n /m.test(buf) : buf.includes('\r\n.\r\n')) resolve(buf.split('\r\n').filter((l) => l !== ''));
    });
    secure.write(protocol === 'imap' ? 'n NOOP\r\n' : 'CAPA\r\n');
  });
  secure.destroy();
  return { ...r, greeting, afterTls: reply };
}

/** OpenSSL's client: prints the subject it was shown; `-starttls imap` speaks the IMAP upgrade itself. */
function sClient(listenPort: number, servername: string | null, starttls?: 'imap' | 'pop3'): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ['s_client', '-connect', `127.0.0.1:${listenPort}`, ...(servername === null ? ['-noservername'] : ['-servername', servername])];
    if (starttls !== undefined) args.push('-starttls', starttls);
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const subject = /^subject=(.*)$/m.exec(out)?.[1];
      if (subject === undefined) reject(new Error(`no subject from s_client: ${out}`));
      else resolve(subject.replace(/\s+/g, ''));
    });
    // s_client ends the session when its stdin closes.
    child.stdin.end(starttls === 'imap' ? 'q LOGOUT\r\n' : '');
  });
}

t.test('SNI, implicit TLS: the certificate for the name asked (exact, wildcard for one label, any case, trailing dot), the default otherwise', async (t) => {
  const imaps = port['imaps'] as number;
  const exact = await implicitTls(imaps, 'mail.a.test');
  t.equal(exact.cn, 'mail.a.test');
  t.ok(exact.authorized, 'the client verified mail.a.test');
  t.equal((await implicitTls(imaps, 'MAIL.A.Test.')).cn, 'mail.a.test', 'case and a trailing dot do not matter');
  const wild = await implicitTls(imaps, 'imap.b.test');
  t.equal(wild.cn, 'wild-b');
  t.match(wild.altNames, /DNS:\*\.b\.test/);
  t.ok(wild.authorized, 'the client verified imap.b.test against *.b.test');
  t.equal((await implicitTls(imaps, 'deep.imap.b.test')).cn, 'default.test', 'a wildcard covers one label only');
  t.equal((await implicitTls(imaps, 'b.test')).cn, 'default.test', 'nor the bare parent');
  const none = await implicitTls(imaps);
  t.equal(none.cn, 'default.test', 'no SNI: the default certificate');
  const unknown = await implicitTls(imaps, 'other.test');
  t.equal(unknown.cn, 'default.test', 'an unknown name: the default certificate');
  t.notOk(unknown.authorized, 'which the client cannot verify for other.test');
});

t.test('SNI: a certificate without subjectAltName is chosen by its CN', async (t) => {
  t.same(certificateNames(cnOnly.certPem), ['cn-only.test']);
  t.same(certificateNames(wildB.certPem), ['wild-b', '*.b.test'], 'with SANs, the DNS SANs (the CN is ignored unless listed)');
  const r = await implicitTls(port['imaps'] as number, 'cn-only.test');
  t.equal(r.cn, 'cn-only.test');
  t.equal(r.altNames, '');
});

t.test('SNI after STARTTLS (IMAP) and STLS (POP3): the name asked in the upgrade chooses, and the session goes on', async (t) => {
  const a = await upgraded('imap', 'mail.a.test');
  t.match(a.greeting, /^\* OK /);
  t.equal(a.cn, 'mail.a.test');
  t.ok(a.authorized);
  t.equal(a.afterTls.at(-1), 'n OK NOOP completed.');
  const b = await upgraded('imap', 'x.b.test');
  t.equal(b.cn, 'wild-b');
  t.ok(b.authorized);
  t.equal((await upgraded('imap')).cn, 'default.test', 'no SNI: the default');
  t.equal((await upgraded('imap', 'nobody.example')).cn, 'default.test', 'unknown: the default');
  const p = await upgraded('pop3', 'mail.a.test');
  t.match(p.greeting, /^\+OK /);
  t.equal(p.cn, 'mail.a.test');
  t.match(p.afterTls[0], /^\+OK/);
  t.ok(p.afterTls.includes('USER'), 'over TLS, CAPA offers USER');
  t.equal((await upgraded('pop3')).cn, 'default.test');
});

t.test('SNI behind a PROXY header on an implicit-TLS listener', async (t) => {
  const shown = async (servername?: string): Promise<string> => {
    const raw = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: port['pimaps'] as number, localAddress: '127.0.0.2' }, () => resolve(s));
      s.once('error', reject);
    });
    raw.write('PROXY TCP4 192.0.2.10 127.0.0.1 50000 993\r\n');
    const secure = tls.connect({ socket: raw, ca: trusted(), rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const cn = seen(secure).cn;
    secure.destroy();
    return cn;
  };
  t.equal(await shown('mail.a.test'), 'mail.a.test');
  t.equal(await shown('pop.b.test'), 'wild-b');
  t.equal(await shown(), 'default.test');
});

t.test('SNI with OpenSSL s_client: implicit TLS and STARTTLS show the chosen subject', async (t) => {
  const imaps = port['imaps'] as number;
  t.equal(await sClient(imaps, 'mail.a.test'), 'CN=mail.a.test');
  t.equal(await sClient(imaps, 'imap.b.test'), 'CN=wild-b');
  t.equal(await sClient(imaps, null), 'CN=default.test', 'no SNI');
  t.equal(await sClient(imaps, 'unknown.test'), 'CN=default.test', 'an unknown name');
  const imap = port['imap'] as number;
  t.equal(await sClient(imap, 'mail.a.test', 'imap'), 'CN=mail.a.test');
  t.equal(await sClient(imap, 'smtp.b.test', 'imap'), 'CN=wild-b');
  t.equal(await sClient(imap, null, 'imap'), 'CN=default.test');
  t.equal(await sClient(port['pop3'] as number, 'cn-only.test', 'pop3'), 'CN=cn-only.test', 'POP3 STLS');
});
