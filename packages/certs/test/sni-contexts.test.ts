// SniContexts, the certificate choice shared by the IMAP/POP3 and the LMTP/SMTP listeners:
// what each client name gets, checked on real handshakes (the certificate a client sees).
import tls from 'node:tls';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { SniContexts, certificateNames, defaultContextOptions, generateSelfSigned, type VirtualServerTls } from '../src/index.ts';

const fallback = generateSelfSigned({ commonName: 'default.test', altNames: ['default.test'] });
const exact = generateSelfSigned({ commonName: 'mail.example.com', altNames: ['mail.example.com', 'MX.Example.com'] });
const wild = generateSelfSigned({ commonName: 'wild.example.org' });
const shadow = generateSelfSigned({ commonName: 'shadow.example.com', altNames: ['mail.example.com'] });

/** The subject CN a TLS client asking for `servername` is shown by a server choosing with `sni`. */
async function shown(t: Test, material: VirtualServerTls, servername: string | undefined): Promise<string> {
  const sni = new SniContexts(material);
  const server = tls.createServer({ ...defaultContextOptions(material), SNICallback: (name, cb) => cb(null, sni.select(name).context) }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) });
  await once(socket, 'secureConnect');
  const cn = String(socket.getPeerCertificate().subject.CN);
  socket.destroy();
  return cn;
}

t.test('select: exact name, then a wildcard for one label, else the default; first entry wins a name', async (t) => {
  const material: VirtualServerTls = {
    cert: fallback.certPem,
    key: fallback.keyPem,
    sni: [
      { cert: exact.certPem, key: exact.keyPem },
      { cert: wild.certPem, key: wild.keyPem, names: ['*.example.org'] },
      { cert: shadow.certPem, key: shadow.keyPem },
    ],
  };
  const sni = new SniContexts(material);
  for (const [name, cn] of [
    ['mail.example.com', 'mail.example.com'],
    ['MAIL.example.com.', 'mail.example.com'],
    ['mx.example.com', 'mail.example.com'],
    ['a.example.org', 'wild.example.org'],
    ['a.b.example.org', 'default.test'],
    ['example.org', 'default.test'],
    ['unknown.test', 'default.test'],
  ] as const) {
    t.equal(await shown(t, material, name), cn, `${name}: ${cn}`);
  }
  t.equal(await shown(t, material, undefined), 'default.test', 'no SNI name: the default');
  t.equal(sni.select('a.example.org').matched, '*.example.org');
  t.equal(sni.select('.example.org').matched, null, 'an empty first label is no match for a wildcard');
});

t.test('certificateNames: DNS subjectAltNames, else the CN; never an IP address', async (t) => {
  t.same(certificateNames(exact.certPem), ['mail.example.com', 'mx.example.com']);
  t.same(certificateNames(wild.certPem), ['wild.example.org']);
  t.same(certificateNames(generateSelfSigned({ commonName: '127.0.0.1' }).certPem), []);
  t.throws(() => new SniContexts({ cert: fallback.certPem, key: fallback.keyPem, sni: [{ cert: exact.certPem, key: exact.keyPem, names: [] }] }), TypeError);
});
