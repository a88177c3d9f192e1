// The LMTP front door (RFC 2033) in front of two real Dovecot stores, driven by Python's
// smtplib and by swaks: each recipient's copy lands in that user's store byte-exact, the
// stores' per-recipient replies are relayed exactly, and every refusal is decided at
// RCPT time with the documented reply.
import t, { type Test } from 'tap';
import { freePort } from '@gatehouse/testkit';
import { pythonSend, swaks } from './helpers/clients.ts';
import { startScriptedStore } from './helpers/scripted-store.ts';
import { inbox, splitDelivered, startDeliveryTier, type DeliveryTier, type TierUser } from './helpers/tier.ts';

const extraUsers: TierUser[] = [
  { name: 'erin@example.com', password: 'erin-secret', backend: 'be1' },
  { name: 'frank@example.com', password: 'frank-secret', backend: 'be2' },
  { name: 'gina@example.com', password: 'gina-secret', backend: 'be1' },
  { name: 'hank@example.com', password: 'hank-secret', backend: 'be2' },
  { name: 'ivy@example.com', password: 'ivy-secret', backend: 'be1' },
];

let tier: DeliveryTier;
t.before(async () => {
  tier = await startDeliveryTier(t, { extraUsers });
});

/** A message with what tends to break byte-exactness: dot lines, 8-bit bytes, long lines, trailing spaces. */
function awkwardMessage(tag: string): Buffer {
  return Buffer.concat([
    Buffer.from(`From: Sender <sender@remote.test>\r\nTo: someone\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@remote.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`),
    Buffer.from('.leading dot\r\n..two dots\r\n.\r\nline after a lone dot  \r\n\tTab line\r\n', 'latin1'),
    Buffer.from([0xe9, 0xe8, 0x0d, 0x0a]),
    Buffer.from(`${'x'.repeat(990)}\r\nend of ${tag}\r\n`),
  ]);
}

function assertLanded(t: Test, stored: Buffer | undefined, sent: Buffer, user: string): void {
  t.ok(stored, `${user} has the message`);
  if (stored === undefined) return;
  const { prefix, rest } = splitDelivered(stored, sent);
  t.ok(rest.equals(sent), `${user}: the message as sent, byte for byte`);
  // What the store prepends at delivery, and nothing else.
  t.match(prefix, /^Return-Path: <[^>]*>\r\n(Delivered-To: [^\r\n]+\r\n)?Received: from [^\r\n]+(\r\n\t[^\r\n]*)*\r\n$/, `${user}: only the store's trace fields before it`);
}

t.test('LMTP: each recipient lands in its own store byte-exact, store replies relayed per recipient', async (t) => {
  const message = awkwardMessage('multi-store');
  const r = await pythonSend(t, {
    protocol: 'lmtp',
    port: tier.lmtpPort,
    from: 'sender@remote.test',
    to: ['alice@example.com', 'bob@example.com', 'nobody@example.com', 'Carol@Example.COM'],
    message,
    starttls: true,
  });
  t.equal(r.tls, 'TLSv1.3', 'STARTTLS with the virtual server certificate');
  t.same(r.esmtp, ['8bitmime', 'pipelining', 'size'], 'LHLO after STARTTLS: no AUTH, no SMTPUTF8');
  t.same(r.rcpt.map(([a, c, text]) => [a, c, text]), [
    ['alice@example.com', 250, 'Accepted'],
    ['bob@example.com', 250, 'Accepted'],
    ['nobody@example.com', 550, '5.1.1 <nobody@example.com>: Recipient address rejected: User unknown'],
    ['Carol@Example.COM', 250, 'Accepted'],
  ]);
  t.equal(r.data.length, 3, 'one DATA reply per accepted recipient');
  t.match(r.data[0], [250, /^2\.0\.0 <alice@example\.com> \S+ Saved$/], 'Dovecot be1 reply for alice, as it came');
  t.match(r.data[1], [250, /^2\.0\.0 <bob@example\.com> \S+ Saved$/], 'Dovecot be2 reply for bob');
  t.match(r.data[2], [250, /^2\.0\.0 <carol@example\.com> \S+ Saved$/], 'carol (same store as alice, one LMTP transaction)');
  for (const user of ['alice@example.com', 'bob@example.com', 'carol@example.com']) {
    const box = await inbox(t, tier, user);
    t.equal(box.length, 1, `${user}: exactly one copy`);
    assertLanded(t, box[0], message, user);
  }
  // XCLIENT: the store's own Received: names the real client's HELO, not Gatehouse.
  const alice = (await inbox(t, tier, 'alice@example.com'))[0]?.toString('latin1') ?? '';
  t.match(alice, /^Received: from client\.test \(\[127\.0\.0\.1\]\)/m, 'the store knows the client (XCLIENT HELO/ADDR)');
  t.notMatch(alice, /\(Gatehouse\)/, 'no Received: of our own when the store took XCLIENT');
  // Each copy went to its own store only.
  const be1Log = await tier.backends.be1.readLog();
  t.notMatch(be1Log, /lmtp\(bob@example\.com\)/, 'bob was never delivered to be1');
});

t.test('LMTP: swaks with STARTTLS, two stores', async (t) => {
  // swaks sends --data as it is, without dot-stuffing: no line may start with a dot.
  const message = Buffer.from(awkwardMessage('swaks-lmtp').toString('latin1').replace(/^\./gm, '-'), 'latin1');
  // swaks ends the data with CRLF . CRLF itself: the file goes without its last CRLF.
  const r = await swaks(t, ['--protocol', 'LMTP', '--port', String(tier.lmtpPort), '--tls', '--from', 'sender@remote.test', '--to', 'erin@example.com,frank@example.com', '--helo', 'swaks.test'], message.subarray(0, -2));
  t.equal(r.code, 0, 'swaks reports success');
  t.match(r.out, /<~\s+250 2\.0\.0 <erin@example\.com> \S+ Saved/);
  t.match(r.out, /<~\s+250 2\.0\.0 <frank@example\.com> \S+ Saved/);
  for (const user of ['erin@example.com', 'frank@example.com']) {
    const box = await inbox(t, tier, user);
    t.equal(box.length, 1);
    // swaks sends the file as given; it must arrive unchanged.
    assertLanded(t, box[0], message, user);
  }
});

t.test('RCPT refusals: relay, switches, drain, store without LMTP, aliases, subaddresses', async (t) => {
  const d = tier.directory;
  await d.addDomain('off.example');
  await d.setDomain('off.example', { delivery: false });
  await d.setUser('gina@example.com', { delivery: false });
  await d.addBackend({ name: 'drained', host: '127.0.0.1', imapPort: 1143, lmtpPort: 1024, login: 'user', state: 'drain' });
  await d.addBackend({ name: 'nolmtp', host: '127.0.0.1', imapPort: 1143, login: 'user' });
  await d.addUser({ name: 'dr@example.com', backend: 'drained' });
  await d.addUser({ name: 'nl@example.com', backend: 'nolmtp' });
  await d.addUser({ name: 'x@off.example', backend: 'be1' });
  await d.addAlias('info@example.com', 'hank@example.com');
  const message = Buffer.from('Subject: refusals\r\n\r\nbody\r\n');
  const r = await pythonSend(t, {
    protocol: 'lmtp',
    port: tier.lmtpPort,
    from: '',
    to: ['someone@elsewhere.test', 'x@off.example', 'gina@example.com', 'dr@example.com', 'nl@example.com', 'bad!name@example.com', 'plain', 'info@example.com', 'ivy+lists@example.com'],
    message,
  });
  t.same(r.rcpt, [
    ['someone@elsewhere.test', 550, '5.7.1 <someone@elsewhere.test>: Relay access denied'],
    ['x@off.example', 550, '5.7.1 <x@off.example>: Delivery to this domain is disabled'],
    ['gina@example.com', 550, '5.7.1 <gina@example.com>: Delivery to this mailbox is disabled'],
    ['dr@example.com', 451, '4.3.2 <dr@example.com>: Mailbox store under maintenance; try again later'],
    ['nl@example.com', 451, '4.3.5 <nl@example.com>: Mailbox store does not take deliveries; try again later'],
    ['bad!name@example.com', 550, '5.1.1 <bad!name@example.com>: Recipient address rejected: User unknown'],
    ['plain', 501, 'Error: Bad recipient address syntax'], // smtp-server's own syntax check
    ['info@example.com', 250, 'Accepted'],
    ['ivy+lists@example.com', 250, 'Accepted'],
  ]);
  t.match(r.data, [[250, /^2\.0\.0 <hank@example\.com> /], [250, /^2\.0\.0 <ivy@example\.com> /]], 'alias and subaddress delivered to their users');
  t.equal((await inbox(t, tier, 'hank@example.com')).length, 1);
  t.equal((await inbox(t, tier, 'ivy@example.com')).length, 1);
  t.equal((await inbox(t, tier, 'gina@example.com')).length, 0, 'nothing for a switched-off mailbox');
});

t.test('store down at RCPT time: 451 4.4.1, the other recipients still delivered', async (t) => {
  const port = await freePort('127.0.0.1');
  await tier.directory.addBackend({ name: 'down', host: '127.0.0.1', imapPort: 1143, lmtpPort: port, login: 'user' });
  await tier.directory.addUser({ name: 'down1@example.com', backend: 'down' });
  const message = Buffer.from('Subject: store down\r\n\r\nbody\r\n');
  const r = await pythonSend(t, { protocol: 'lmtp', port: tier.lmtpPort, from: 's@remote.test', to: ['down1@example.com', 'dave@example.com'], message });
  t.same(r.rcpt[0], ['down1@example.com', 451, '4.4.1 <down1@example.com>: Mailbox store not reachable; try again later']);
  t.same(r.rcpt[1], ['dave@example.com', 250, 'Accepted']);
  t.match(r.data, [[250, /^2\.0\.0 <dave@example\.com> /]]);
});

t.test('store fails mid-delivery: 4xx for its recipients, nothing acknowledged, others delivered', async (t) => {
  for (const script of ['close-during-data', 'close-after-dot'] as const) {
    const store = await startScriptedStore(t, script);
    const be = `s-${script}`;
    const user = `${script.replace(/-/g, '')}@example.com`;
    await tier.directory.addBackend({ name: be, host: '127.0.0.1', imapPort: 1143, lmtpPort: store.port, login: 'user' });
    await tier.directory.addUser({ name: user, backend: be });
    const message = awkwardMessage(script);
    const r = await pythonSend(t, { protocol: 'lmtp', port: tier.lmtpPort, from: 's@remote.test', to: [user, 'alice@example.com'], message });
    t.same(r.rcpt.map((x) => x[1]), [250, 250], `${script}: both recipients accepted at RCPT`);
    t.same(r.data[0], [451, `4.4.2 <${user}>: Mailbox store failed during delivery; try again later`], `${script}: 4xx for the failed store`);
    t.match(r.data[1], [250, /^2\.0\.0 <alice@example\.com> /], `${script}: alice's store took it`);
  }
  t.test('the scripted store reply is relayed at RCPT exactly', async (t) => {
    const store = await startScriptedStore(t, 'tempfail-rcpt');
    await tier.directory.addBackend({ name: 'full', host: '127.0.0.1', imapPort: 1143, lmtpPort: store.port, login: 'user' });
    await tier.directory.addUser({ name: 'full@example.com', backend: 'full' });
    const r = await pythonSend(t, { protocol: 'lmtp', port: tier.lmtpPort, from: 's@remote.test', to: ['full@example.com'], message: Buffer.from('x\r\n') });
    t.same(r.rcpt, [['full@example.com', 452, '4.2.2 <x> Mailbox is full']]);
    t.same(r.data, [], 'no DATA without an accepted recipient');
  });
});
