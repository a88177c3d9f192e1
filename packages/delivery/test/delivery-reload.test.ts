// DeliveryNode.reload, what a SIGHUP does to the LMTP/SMTP listeners: new limits replace
// a listener while the transaction under way on the old one finishes under the limits it
// started with; a new banner and certificates (with SNI) reach the next connections of a
// kept listener; an address in use is reported and the rest applies; a certificate that
// does not load changes nothing. Real parts: two Dovecot stores, Redis, TLS on sockets.
import net from 'node:net';
import t from 'tap';
import { generateSelfSigned } from '@gatehouse/certs';
import { LineClient } from './helpers/line-client.ts';
import { inbox, splitDelivered, startDeliveryTier, type DeliveryTier } from './helpers/tier.ts';
import type { DeliveryVirtualServer } from '../src/index.ts';

let tier: DeliveryTier;
t.before(async () => {
  tier = await startDeliveryTier(t, { limits: { maxMessageBytes: 100_000 } });
});

const portOf = (name: string): number => {
  const l = tier.delivery.listeners().find((x) => x.listener === name);
  if (l === undefined) throw new Error(`no listener ${name}`);
  return l.port;
};
const sizeOf = (ehlo: string[]): string | undefined => ehlo.find((l) => /^250[- ]SIZE/.test(l))?.slice(4);

t.test('reload: new limits replace the listener; the transaction under way finishes under the limits it started with', async (t) => {
  const mta = await LineClient.connect(portOf('smtp'));
  await mta.line();
  t.equal(sizeOf(await mta.cmd('EHLO mta.test')), 'SIZE 100000');
  t.match((await mta.cmd('MAIL FROM:<sender@remote.test>')).at(-1), /^250 /);
  t.match((await mta.cmd('RCPT TO:<alice@example.com>')).at(-1), /^250 /);
  t.match((await mta.cmd('DATA')).at(-1), /^354 /);
  // 5000 bytes: under the old limit, over the new one.
  const message = Buffer.from(`Subject: limits\r\nMessage-ID: <limits@remote.test>\r\n\r\n${`${'y'.repeat(98)}\r\n`.repeat(49)}`);
  mta.socket.write(message.subarray(0, 1000));

  const next: DeliveryVirtualServer = { ...tier.vserver, limits: { ...tier.vserver.limits, maxMessageBytes: 2000 } };
  const report = await tier.delivery.reload([next]);
  t.same(report.closed.map((l) => l.listener).sort(), ['lmtp', 'smtp'], 'both listeners of the virtual server replaced');
  t.same(report.opened.map((l) => l.listener).sort(), ['lmtp', 'smtp']);
  t.same(report.failed, []);
  t.same(report.certificatesReloaded, []);

  mta.socket.write(Buffer.concat([message.subarray(1000), Buffer.from('.\r\n')]));
  t.match((await mta.reply()).at(-1), /^250 2\.0\.0 /, 'delivered: the old limit applies to the transaction under way');
  t.equal(sizeOf(await mta.cmd('EHLO mta.test')), 'SIZE 100000', 'and to the rest of that session');
  t.match((await mta.cmd('QUIT')).at(-1), /^221 /);
  mta.close();
  const box = await inbox(t, tier, 'alice@example.com');
  const copy = box.find((m) => m.includes('<limits@remote.test>'));
  t.ok(copy !== undefined && splitDelivered(copy, message).rest.equals(message), 'the message landed byte for byte');

  const fresh = await LineClient.connect(portOf('smtp'));
  await fresh.line();
  t.equal(sizeOf(await fresh.cmd('EHLO mta.test')), 'SIZE 2000', 'a new connection: the new limit');
  t.match((await fresh.cmd('MAIL FROM:<sender@remote.test> SIZE=5000')).at(-1), /^552 /, 'and it is enforced');
  await fresh.cmd('QUIT');
  fresh.close();
  tier.vserver = next;
});

t.test('reload: a new banner and certificates reach new connections of a kept listener; SNI picks by exact name and wildcard', async (t) => {
  const port = portOf('lmtp');
  const before = await LineClient.connect(port);
  t.match(await before.line(), /^220 gatehouse\.test LMTP Gatehouse delivery$/);
  await before.cmd('LHLO mta.test');
  await before.starttls('localhost');
  t.equal(before.certificateCn, 'localhost');

  const renewed = generateSelfSigned({ commonName: 'renewed.test', altNames: ['renewed.test'] });
  const exact = generateSelfSigned({ commonName: 'mx.example.com', altNames: ['mx.example.com'] });
  const wildcard = generateSelfSigned({ commonName: 'any.example.org' });
  const next: DeliveryVirtualServer = {
    ...tier.vserver,
    banner: 'Renewed',
    tls: { cert: renewed.certPem, key: renewed.keyPem, sni: [{ cert: exact.certPem, key: exact.keyPem }, { cert: wildcard.certPem, key: wildcard.keyPem, names: ['*.example.org'] }] },
  };
  const report = await tier.delivery.reload([next]);
  t.same(report, { opened: [], closed: [], failed: [], certificatesReloaded: ['default'] }, 'kept: nothing closed or opened');
  t.equal(portOf('lmtp'), port);

  t.match((await before.cmd('LHLO mta.test')).at(-1), /^250 /, 'the session from before goes on in its TLS session');
  t.equal(before.certificateCn, 'localhost');
  await before.cmd('QUIT');
  before.close();

  for (const [servername, cn] of [
    ['localhost', 'renewed.test'],
    ['MX.example.com', 'mx.example.com'],
    ['a.example.org', 'any.example.org'],
    ['a.b.example.org', 'renewed.test'],
    ['example.org', 'renewed.test'],
  ] as const) {
    const c = await LineClient.connect(port);
    t.match(await c.line(), /^220 gatehouse\.test LMTP Renewed$/, 'the new banner');
    await c.cmd('LHLO mta.test');
    t.match((await c.starttls(servername)).at(-1), /^220 /);
    t.equal(c.certificateCn, cn, `SNI ${servername}: ${cn}`);
    t.match((await c.cmd('LHLO mta.test')).at(-1), /^250 /);
    c.close();
  }
  tier.vserver = next;
});

t.test('reload: an address in use is reported and the rest applies; a certificate that does not load changes nothing', async (t) => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => squatter.close());
  const busy = (squatter.address() as net.AddressInfo).port;
  const next: DeliveryVirtualServer = {
    ...tier.vserver,
    banner: 'Partly applied',
    listeners: [...tier.vserver.listeners, { name: 'busy', host: '127.0.0.1', port: busy, protocol: 'smtp', tls: 'starttls' }],
  };
  const report = await tier.delivery.reload([next]);
  t.same(report.failed.map((f) => [f.listener, f.port, f.code]), [['busy', busy, 'EADDRINUSE']]);
  t.same(report.opened, []);
  t.same(report.closed, []);
  const c = await LineClient.connect(portOf('smtp'));
  t.match(await c.line(), /^220 gatehouse\.test ESMTP Partly applied$/, 'the new banner applies');
  c.close();

  const listeners = tier.delivery.listeners();
  const broken = { ...next, banner: 'Broken', listeners: tier.vserver.listeners, tls: { cert: tier.cert.certPem, key: generateSelfSigned({ commonName: 'other' }).keyPem } };
  await t.rejects(tier.delivery.reload([broken]), 'a key that does not match: the reload throws');
  t.same(tier.delivery.listeners(), listeners, 'no listener closed or opened');
  const after = await LineClient.connect(portOf('smtp'));
  t.match(await after.line(), /^220 gatehouse\.test ESMTP Partly applied$/, 'the banner of the last good reload');
  await after.cmd('EHLO mta.test');
  await after.starttls('localhost');
  t.equal(after.certificateCn, 'renewed.test', 'and its certificate');
  after.close();
});
