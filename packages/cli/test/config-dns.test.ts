// The `dns` block of the config (the resolver of the domain access rules): defaults,
// errors with their key path and line, and `gatehouse serve` handing it to the node.
import t from 'tap';
import net from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory } from '@gatehouse/directory';
import { startDnsServer, startRedis, tmpDir } from '@gatehouse/testkit';
import { parseConfig } from '../src/index.ts';
import { startServe } from './helpers.ts';

const vservers = `vservers:
  - name: example
    tls: { cert: /c.pem, key: /k.pem }
    listeners:
      - { listen: "127.0.0.1:0", tls: starttls }
`;

t.test('config: dns defaults to the system resolver, 2 s, 5 min / 1 min cache of 10000', async (t) => {
  t.same(parseConfig(vservers, 'a.yaml').dns, { timeoutMs: 2000, cacheTtlMs: 300_000, negativeCacheTtlMs: 60_000, cacheMaxEntries: 10_000 });
  const cfg = parseConfig(`dns:\n  servers: ["192.0.2.53", "192.0.2.54:5353", "2001:db8::53", "[2001:db8::54]:5353"]\n  timeoutMs: 500\n  cacheMaxEntries: 0\n${vservers}`, 'b.yaml');
  t.same(cfg.dns, { servers: ['192.0.2.53', '192.0.2.54:5353', '2001:db8::53', '[2001:db8::54]:5353'], timeoutMs: 500, cacheTtlMs: 300_000, negativeCacheTtlMs: 60_000, cacheMaxEntries: 0 });
});

t.test('config: bad dns keys are reported with their path and line', async (t) => {
  try {
    parseConfig(`dns:\n  servers: ["dns.example.net", "192.0.2.53:0", "[192.0.2.1"]\n  timeoutMs: 50\n  retries: 3\n${vservers}`, 'bad.yaml');
    t.fail('should throw');
  } catch (err) {
    const e = err as { code: string; details: Array<{ path: string; line: number | null }> };
    t.equal(e.code, 'ERR_CONFIG');
    t.same(
      e.details.map((d) => `${d.path}@${d.line}`).sort(),
      ['dns.servers.0@2', 'dns.servers.1@2', 'dns.servers.2@2', 'dns.timeoutMs@3', 'dns@2'].sort(),
      'a name, port 0 and a broken bracket; a timeout below 100 ms; the unknown key at its object',
    );
  }
});

t.test('serve --config: the dns block reaches the node (a domain rule resolved through the configured server)', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dns = await startDnsServer();
  t.teardown(() => dns.close());
  dns.setPtr('127.0.0.2', ['mail.example.net']);
  dns.set('mail.example.net', 'A', ['127.0.0.2']);
  const prefix = `cd${randomBytes(3).toString('hex')}:`;
  const dir = await Directory.connect(redis.url, { prefix });
  t.teardown(() => dir.close());
  await dir.setAccessDefault('example', 'deny');
  await dir.setAccessRule('example', '*.example.net', 'grant');

  const files = await tmpDir('gh-cli-dns-');
  const pair = generateSelfSigned({ commonName: 'localhost' });
  writeFileSync(join(files, 'cert.pem'), pair.certPem);
  writeFileSync(join(files, 'key.pem'), pair.keyPem);
  const config = join(files, 'gatehouse.yaml');
  writeFileSync(
    config,
    `redis: ${redis.url}
keyPrefix: "${prefix}"
log: { level: silent }
dns: { servers: ["${dns.address}"], timeoutMs: 1000 }
vservers:
  - name: example
    tls: { cert: ${join(files, 'cert.pem')}, key: ${join(files, 'key.pem')} }
    listeners:
      - { listen: "127.0.0.1:0", tls: starttls }
`,
  );
  const { port } = await startServe(t, ['--config', config]);
  const greeting = (from: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n')) s.destroy();
      });
      s.on('error', reject);
      s.on('close', () => resolve(buf.split('\r\n')[0] ?? ''));
    });
  t.match(await greeting('127.0.0.2'), /^\* OK /, 'mail.example.net, confirmed through the configured server');
  t.equal(await greeting('127.0.0.3'), '* BYE [CONTACTADMIN] Access denied.', 'no PTR: default deny');
  t.equal(dns.queryCount('mail.example.net', 'A'), 1, 'the node asked the configured server');
});
