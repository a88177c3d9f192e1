import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { generateSelfSigned, loadPemPair } from '../src/index.ts';

const pair = generateSelfSigned({ commonName: 'imap.gatehouse.test', altNames: ['localhost', '127.0.0.1'], days: 30 });

async function startTlsServer(t: Test): Promise<number> {
  const server = tls.createServer({ cert: pair.certPem, key: pair.keyPem }, (socket) => {
    socket.end('hello\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

function connect(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pair.certPem, ...options });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

t.test('node tls: a client trusting the cert as CA connects by DNS name and by IP', async (t) => {
  const port = await startTlsServer(t);
  t.equal(await connect(port, { servername: 'imap.gatehouse.test' }), 'hello\n');
  t.equal(await connect(port, { servername: 'localhost' }), 'hello\n');
  // No servername: Node checks the connect host (127.0.0.1) against the IP SAN.
  t.equal(await connect(port, {}), 'hello\n');
});

t.test('node tls: a name not in subjectAltName is refused', async (t) => {
  const port = await startTlsServer(t);
  await t.rejects(connect(port, { servername: 'other.test' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

t.test('node tls: a client without the CA refuses the self-signed cert', async (t) => {
  const port = await startTlsServer(t);
  await t.rejects(connect(port, { servername: 'localhost', ca: [] }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
});

const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
t.test('python ssl with VERIFY_X509_STRICT accepts the cert as CA', { skip: python === undefined ? 'no python3' : false }, async (t) => {
  const port = await startTlsServer(t);
  const script = [
    'import ssl, socket, sys',
    'ctx = ssl.create_default_context(cadata=sys.stdin.read())',
    'ctx.verify_flags |= ssl.VERIFY_X509_STRICT',
    `s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", ${port})), server_hostname="imap.gatehouse.test")`,
    'print(s.recv(100).decode().strip())',
  ].join('\n');
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile(python ?? 'python3', ['-c', script], (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
    child.stdin?.end(pair.certPem);
  });
  t.equal(out.trim(), 'hello');
});

t.test('generateSelfSigned: validity, CN and SANs as asked', async (t) => {
  const info = loadPemPair(pair.certPem, pair.keyPem);
  t.equal(info.subjectCN, 'imap.gatehouse.test');
  t.same(info.altNames, ['imap.gatehouse.test', 'localhost', '127.0.0.1']);
  const days = (info.notAfter.getTime() - Date.now()) / 86_400_000;
  t.ok(days > 29.9 && days <= 30, `about 30 days left (${days})`);
  const x509 = new (await import('node:crypto')).X509Certificate(pair.certPem);
  t.ok(x509.ca, 'basicConstraints CA:TRUE, so it can be its own trust anchor');
  t.ok(x509.checkIssued(x509), 'self-issued');
});

t.test('generateSelfSigned: rejects bad options', async (t) => {
  t.throws(() => generateSelfSigned({ commonName: '' }), TypeError);
  t.throws(() => generateSelfSigned({ commonName: 'x', days: 0 }), TypeError);
});
