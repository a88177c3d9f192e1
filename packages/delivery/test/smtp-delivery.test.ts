// The SMTP listener (MX role, RFC 5321) in front of two real Dovecot stores: swaks and
// Python's smtplib. A message is accepted (250) only when every recipient's store took
// it; otherwise 4xx (the sender retries), or the stores' 5xx when all refused for good.
// Only local domains are accepted: no relay, no AUTH.
import t from 'tap';
import { pythonSend, swaks } from './helpers/clients.ts';
import { startScriptedStore } from './helpers/scripted-store.ts';
import { inbox, splitDelivered, startDeliveryTier, type DeliveryTier } from './helpers/tier.ts';

let tier: DeliveryTier;
t.before(async () => {
  tier = await startDeliveryTier(t, { limits: { maxMessageBytes: 64 * 1024 } });
});

const message = (tag: string): Buffer =>
  Buffer.from(`From: <s@remote.test>\r\nTo: <x@example.com>\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@remote.test>\r\n\r\n.dotted\r\nbody of ${tag}\r\n`);

t.test('SMTP: swaks with STARTTLS to two stores, 250 once both stores accepted', async (t) => {
  const m = message('swaks-smtp').subarray(0, -2); // swaks adds the final CRLF itself
  const r = await swaks(t, ['--port', String(tier.smtpPort), '--tls', '--ehlo', 'mx.remote.test', '--from', 's@remote.test', '--to', 'alice@example.com,bob@example.com'], m);
  t.equal(r.code, 0, 'swaks reports success');
  t.match(r.out, /<~\s+250 2\.0\.0 Ok: delivered to 2 mailboxes/);
  t.notMatch(r.out, /AUTH/, 'no AUTH offered');
  for (const u of ['alice@example.com', 'bob@example.com']) {
    const box = await inbox(t, tier, u);
    t.equal(box.length, 1, `${u}: one copy`);
    t.ok(box[0] && splitDelivered(box[0], Buffer.concat([m, Buffer.from('\r\n')])).rest.equals(Buffer.concat([m, Buffer.from('\r\n')])), `${u}: byte-exact`);
  }
});

t.test('SMTP: smtplib, unknown user and foreign domain refused at RCPT, the rest delivered', async (t) => {
  const m = message('smtplib');
  const r = await pythonSend(t, { protocol: 'smtp', port: tier.smtpPort, from: 's@remote.test', to: ['carol@example.com', 'ghost@example.com', 'victim@elsewhere.test', 'dave@example.com'], message: m });
  t.notOk(r.esmtp.includes('auth'), 'EHLO offers no AUTH');
  t.ok(r.esmtp.includes('starttls') && r.esmtp.includes('size'), 'STARTTLS and SIZE offered');
  t.same(
    r.rcpt.map((x) => x.slice(1)),
    [
      [250, 'Accepted'],
      [550, '5.1.1 <ghost@example.com>: Recipient address rejected: User unknown'],
      [550, '5.7.1 <victim@elsewhere.test>: Relay access denied'],
      [250, 'Accepted'],
    ],
  );
  t.same(r.data, [[250, '2.0.0 Ok: delivered to 2 mailboxes']]);
  for (const u of ['carol@example.com', 'dave@example.com']) {
    const box = await inbox(t, tier, u);
    t.ok(box.length === 1 && box[0] && splitDelivered(box[0], m).rest.equals(m), `${u}: one byte-exact copy`);
  }
});

t.test('SMTP: a store failing mid-delivery makes the whole message 451', async (t) => {
  const store = await startScriptedStore(t, 'close-during-data');
  await tier.directory.addBackend({ name: 'flaky', host: '127.0.0.1', imapPort: 1143, lmtpPort: store.port, login: 'user' });
  await tier.directory.addUser({ name: 'flaky@example.com', backend: 'flaky' });
  const r = await pythonSend(t, { protocol: 'smtp', port: tier.smtpPort, from: 's@remote.test', to: ['flaky@example.com', 'alice@example.com'], message: message('flaky') });
  t.same(r.rcpt.map((x) => x[1]), [250, 250]);
  t.same(r.data, [[451, '4.3.0 Not delivered to 1 of 2 recipients (<flaky@example.com>); try again later']], 'not acknowledged: the sender keeps it');
  t.equal(store.completed, 0, 'the failing store never got the whole message');
});

t.test('SIZE: an oversized message gets 552 (SMTP once, LMTP per recipient), nothing delivered', async (t) => {
  const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.from(`${'y'.repeat(998)}\r\n`.repeat(70))]);
  const r = await swaks(t, ['--port', String(tier.smtpPort), '--from', 's@remote.test', '--to', 'bob@example.com'], big.subarray(0, -2));
  t.not(r.code, 0, 'swaks reports the refusal');
  t.match(r.out, /<\*\*\s+552 Error: message exceeds fixed maximum message size 65536/);
  const lmtp = await pythonSend(t, { protocol: 'lmtp', port: tier.lmtpPort, from: 's@remote.test', to: ['bob@example.com', 'dave@example.com'], message: big });
  t.same(lmtp.data.map((d) => d[0]), [552, 552], 'LMTP: 552 for each recipient');
  const before = (await inbox(t, tier, 'bob@example.com')).length;
  t.equal(before, 1, 'bob has only the swaks message of the first test');
});
