// `gatehouse serve` as an operator runs it: starts while the directory is down (logins
// answer UNAVAILABLE until Redis is back), reports a port in use cleanly, stops on SIGTERM.
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { generateSelfSigned } from '@gatehouse/certs';
import { freePort, startRedis, tmpDir } from '@gatehouse/testkit';
import { runCli, startServe } from './helpers.ts';

async function certFiles(): Promise<{ cert: string; key: string; ca: string }> {
  const dir = await tmpDir('gh-cli-serve-');
  const pair = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, pair.certPem);
  writeFileSync(key, pair.keyPem);
  return { cert, key, ca: pair.certPem };
}

/** One IMAP exchange over implicit TLS: greeting, LOGIN, and the tagged answer to it (or the greeting line, if the server closes first). */
async function login(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    let buf = '';
    let sent = false;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!sent && buf.includes('\r\n')) {
        sent = true;
        s.write('a LOGIN nobody@example.com pw\r\n');
      }
      const answer = /^a .*$/m.exec(buf)?.[0];
      if (answer !== undefined && buf.endsWith('\r\n')) {
        s.end();
        resolve(answer.replace(/\r$/, ''));
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(buf.split('\r\n')[0] ?? ''));
  });
}

t.test('serve: starts with the directory down, answers UNAVAILABLE, recovers when Redis comes back, stops on SIGTERM', async (t) => {
  const { cert, key, ca } = await certFiles();
  const redisPort = await freePort();
  const serve = await startServe(t, ['--redis', `redis://127.0.0.1:${redisPort}`, '--imaps', '127.0.0.1:0', '--cert', cert, '--key', key, '--domain', 'example.com']);
  const { port } = serve;
  // Access rules fail closed: a node that never read them refuses connections (docs/access.md).
  t.equal(await login(port, ca), '* BYE [UNAVAILABLE] Access rules unavailable; try again later.');
  const redis = await startRedis({ port: redisPort });
  t.teardown(() => redis.stop());
  // The client reconnects with a back-off of at most 2 s: retry until the answer changes.
  let answer = '';
  for (let i = 0; i < 40 && !answer.includes('AUTHENTICATIONFAILED'); i++) {
    answer = await login(port, ca);
    if (!answer.includes('AUTHENTICATIONFAILED')) await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(answer, 'a NO [AUTHENTICATIONFAILED] Authentication failed.', 'the directory answers again');
  serve.signal('SIGTERM');
  t.equal(await serve.exited, 0, 'a clean stop');
});

t.test('serve: a listen address in use is ERR_LISTEN and the process exits', async (t) => {
  const { cert, key } = await certFiles();
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const r = await runCli(['serve', '--redis', `redis://127.0.0.1:${await freePort()}`, '--imaps', `127.0.0.1:${port}`, '--cert', cert, '--key', key]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`ERR_LISTEN: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
});

t.test('serve: a bad default domain is refused at start', async (t) => {
  const { cert, key } = await certFiles();
  const r = await runCli(['serve', '--redis', 'redis://127.0.0.1:1', '--imaps', '127.0.0.1:0', '--cert', cert, '--key', key, '--domain', 'Bad_Domain']);
  t.equal(r.code, 1);
  t.match(r.stderr, /ERR_CONFIG[\s\S]*vservers\.0\.defaultDomain: a lower-case DNS domain name/);
});

/** The greeting and the answer to one POP3 command over implicit TLS. */
async function pop3Exchange(port: number, ca: string, command: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const lines = buf.split('\r\n').slice(0, -1);
      if (lines.length === 1 && buf.endsWith('\r\n')) s.write(`${command}\r\n`);
      if (lines.length === 2) {
        s.end();
        resolve(lines);
      }
    });
    s.on('error', reject);
  });
}

t.test('serve: --pop3s and --pop3 open POP3 listeners (implicit TLS and STLS) beside IMAP', async (t) => {
  const { cert, key, ca } = await certFiles();
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const serve = await startServe(t, ['--redis', redis.url, '--imaps', '127.0.0.1:0', '--pop3s', '127.0.0.1:0', '--pop3', '127.0.0.1:0', '--cert', cert, '--key', key], { listeners: 3 });
  const ports = Object.fromEntries(serve.listeners.map((l) => [`${l.name} ${l.protocol} ${l.tls}`, l.port]));
  t.same(Object.keys(ports).sort(), ['imaps imap implicit TLS', 'pop3 pop3 STLS', 'pop3s pop3 implicit TLS']);
  t.same(await pop3Exchange(ports['pop3s pop3 implicit TLS'] as number, ca, 'USER nobody'), ['+OK Gatehouse ready.', '+OK Send the password.']);
  serve.signal('SIGTERM');
  t.equal(await serve.exited, 0);
});

/** The first line a client from `from` reads after sending `header` ('' if closed without a word). */
function firstLineVia(port: number, from: string, header: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from }, () => s.write(header));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.split('\r\n')[0] as string);
      }
    });
    s.on('error', () => {});
    s.on('close', () => resolve(buf));
  });
}

t.test('serve --config: a listener with proxyProtocol takes the header from trustedProxies only', async (t) => {
  const { cert, key } = await certFiles();
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dir = await tmpDir('gh-cli-serve-lb-');
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(
    config,
    `redis: ${redis.url}
vservers:
  - name: lb
    tls: { cert: ${cert}, key: ${key} }
    listeners:
      - { listen: "127.0.0.1:0", tls: starttls, proxyProtocol: true, trustedProxies: ["127.0.0.2/32"] }
`,
  );
  const serve = await startServe(t, ['--config', config]);
  const { port } = serve;
  const header = 'PROXY TCP4 192.0.2.7 127.0.0.1 50000 143\r\n';
  t.match(await firstLineVia(port, '127.0.0.2', header), /^\* OK /, 'trusted balancer');
  t.equal(await firstLineVia(port, '127.0.0.3', header), '', 'untrusted peer: closed without a word');
  t.equal(await firstLineVia(port, '127.0.0.2', 'a CAPABILITY\r\n'), '', 'no header: closed');
  serve.signal('SIGTERM');
  t.equal(await serve.exited, 0);
});
