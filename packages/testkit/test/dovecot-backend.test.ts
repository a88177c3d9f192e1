import { ImapFlow } from 'imapflow';
import t from 'tap';
import { sampleAttachment, sampleMessages, publicSampleMessages, startDovecot, type DovecotBackend } from '../src/index.ts';
import { LineClient, saslPlain } from './helpers/line-client.ts';

let be: DovecotBackend;
const ALICE = { user: 'alice', password: 'alice-secret' };
const BOB = { user: 'bob@example.com', password: 'b0b pass' };

t.before(async () => {
  be = await startDovecot({ name: 'be1', users: [ALICE, BOB] });
});
t.teardown(() => be.stop());

function tlsOpts(): { ca: string; servername: string } {
  return { ca: be.caPem, servername: be.tlsServername };
}

async function imap(port = be.imapPort, secure = false): Promise<LineClient> {
  const c = await LineClient.connect(port, secure ? tlsOpts() : undefined);
  t.teardown(() => c.close());
  return c;
}

t.test('IMAP: plain LOGIN, and STARTTLS offered before login', async (t) => {
  const c = await imap();
  t.match(await c.readLine(), /^\* OK /);
  const cap = await c.imap('CAPABILITY');
  t.match(cap.untagged[0], /^\* CAPABILITY .*\bSTARTTLS\b/);
  t.match((await c.imap(`LOGIN ${ALICE.user} "${ALICE.password}"`)).tagged, /^OK /);
});

t.test('IMAP: STARTTLS verified against caPem, then LOGIN', async (t) => {
  const c = await imap();
  await c.readLine();
  t.match((await c.imap('STARTTLS')).tagged, /^OK /);
  await c.upgradeTls(tlsOpts());
  t.ok((c.socket as import('node:tls').TLSSocket).authorized, 'server cert verified');
  t.match((await c.imap(`LOGIN ${ALICE.user} "${ALICE.password}"`)).tagged, /^OK /);
});

t.test('IMAPS: implicit TLS, then LOGIN', async (t) => {
  const c = await imap(be.imapsPort, true);
  t.match(await c.readLine(), /^\* OK /);
  t.match((await c.imap(`LOGIN "${BOB.user}" "${BOB.password}"`)).tagged, /^OK /);
});

t.test('IMAP: a wrong password is refused at once, and again (no auth penalty)', async (t) => {
  const c = await imap();
  await c.readLine();
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    t.match((await c.imap(`LOGIN ${ALICE.user} wrong`)).tagged, /^NO \[AUTHENTICATIONFAILED\]/);
    t.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms`);
  }
  t.match((await c.imap(`LOGIN ${ALICE.user} "${ALICE.password}"`)).tagged, /^OK /);
});

t.test('IMAP: master user logs in as a user with AUTHENTICATE PLAIN authzid', async (t) => {
  const c = await imap();
  await c.readLine();
  const ok = await c.imap(`AUTHENTICATE PLAIN ${saslPlain(BOB.user, be.masterUser, be.masterPassword)}`);
  t.match(ok.tagged, /^OK /);
  await be.waitForLog(/auth: Info: Master user logging in as bob@example\.com/);
  const sel = await c.imap('SELECT INBOX');
  t.ok(sel.untagged.includes('* 3 EXISTS'), "bob's INBOX");

  const bad = await imap();
  await bad.readLine();
  t.match((await bad.imap(`AUTHENTICATE PLAIN ${saslPlain(BOB.user, be.masterUser, 'nope')}`)).tagged, /^NO \[AUTHENTICATIONFAILED\]/);
  t.match((await bad.imap(`AUTHENTICATE PLAIN ${saslPlain('nobody', be.masterUser, be.masterPassword)}`)).tagged, /^NO /);
});

t.test('IMAP: ID x-originating-ip from 127.0.0.1 becomes the logged client address', async (t) => {
  const c = await imap();
  await c.readLine();
  t.match((await c.imap('ID ("name" "gatehouse-test" "x-originating-ip" "203.0.113.9" "x-originating-port" "40123")')).tagged, /^OK /);
  t.match((await c.imap(`LOGIN ${ALICE.user} "${ALICE.password}"`)).tagged, /^OK /);
  t.match(await be.waitForLog(/imap-login: Info: Login: user=<alice>.*rip=203\.0\.113\.9/), /lip=127\.0\.0\.1/);
  const who = await be.doveadm(['who', '-1']);
  t.match(who, /alice\s+imap\s+\(\d+\)\s+\(\S*\)\s+\(203\.0\.113\.9\)|alice.*203\.0\.113\.9/);
});

t.test('IMAP: COMPRESS=DEFLATE offered after login and works', async (t) => {
  const c = await imap();
  await c.readLine();
  const login = await c.imap(`LOGIN ${ALICE.user} "${ALICE.password}"`);
  t.match(login.tagged, /^OK \[CAPABILITY [^\]]*\bCOMPRESS=DEFLATE\b/);
  const cap = await c.imap('CAPABILITY');
  t.match(cap.untagged[0], /\bCOMPRESS=DEFLATE\b/);
  t.match((await c.imap('COMPRESS DEFLATE')).tagged, /^OK /);
  c.startDeflate();
  const sel = await c.imap('SELECT INBOX');
  t.match(sel.tagged, /^OK \[READ-WRITE\]/);
  t.ok(sel.untagged.includes('* 3 EXISTS'));
});

t.test('IMAP: LIST shows private and public folders', async (t) => {
  const c = await imap();
  await c.readLine();
  await c.imap(`LOGIN ${ALICE.user} "${ALICE.password}"`);
  const list = await c.imap('LIST "" "*"');
  const names = list.untagged.map((l) => /^\* LIST \([^)]*\) "\/" "?([^"]*)"?$/.exec(l)?.[1]);
  for (const name of ['INBOX', 'Archive', 'Sent', 'Public/Announcements']) t.ok(names.includes(name), `LIST has ${name}`);
  const lsub = await c.imap('LSUB "" "*"');
  t.equal(lsub.untagged.length, 4, 'INBOX, Archive, Sent and Public/Announcements subscribed');
});

t.test('IMAP (imapflow): fetched bytes equal the sample messages, partial fetch of the attachment', async (t) => {
  const client = new ImapFlow({
    host: be.host,
    port: be.imapsPort,
    secure: true,
    tls: { ca: [be.caPem], servername: be.tlsServername },
    auth: { user: ALICE.user, pass: ALICE.password },
    logger: false,
  });
  await client.connect();
  t.teardown(() => client.close());

  const byBox = new Map<string, Buffer[]>();
  for (const m of [...sampleMessages(), ...publicSampleMessages()]) byBox.set(m.mailbox, [...(byBox.get(m.mailbox) ?? []), m.raw]);
  for (const [mailbox, raws] of byBox) {
    const lock = await client.getMailboxLock(mailbox);
    try {
      const fetched: Buffer[] = [];
      for await (const msg of client.fetch('1:*', { uid: true, source: true })) fetched.push(msg.source ?? Buffer.alloc(0));
      t.equal(fetched.length, raws.length, `${mailbox} count`);
      raws.forEach((raw, i) => t.ok(fetched[i]?.equals(raw), `${mailbox} #${i + 1} byte-identical`));
    } finally {
      lock.release();
    }
  }

  const lock = await client.getMailboxLock('INBOX');
  try {
    const part = await client.download('2', '2', { uid: true });
    const chunks: Buffer[] = [];
    for await (const chunk of part.content ?? []) chunks.push(chunk as Buffer);
    t.ok(Buffer.concat(chunks).equals(sampleAttachment()), 'part 2 decodes to sampleAttachment()');
  } finally {
    lock.release();
  }
});

t.test('IMAP: BODY[2]<offset.length> returns that slice of the base64 part', async (t) => {
  const c = await imap();
  await c.readLine();
  await c.imap(`LOGIN ${ALICE.user} "${ALICE.password}"`);
  await c.imap('EXAMINE INBOX');
  const full = await c.imap('UID FETCH 2 (BODY.PEEK[2])');
  const slice = await c.imap('UID FETCH 2 (BODY.PEEK[2]<1000.500>)');
  t.match(slice.untagged[0], /BODY\[2\]<1000> \{500\}/);
  t.ok(slice.literals[0]?.equals(full.literals[0]?.subarray(1000, 1500) ?? Buffer.alloc(0)), 'slice matches');
  const decoded = Buffer.from(full.literals[0]?.toString('latin1') ?? '', 'base64');
  t.ok(decoded.equals(sampleAttachment()));
});

t.test('POP3: USER/PASS, STAT and RETR', async (t) => {
  const c = await LineClient.connect(be.pop3Port);
  t.teardown(() => c.close());
  t.match(await c.readLine(), /^\+OK/);
  c.write(`USER ${ALICE.user}\r\n`);
  t.match(await c.readLine(), /^\+OK/);
  c.write(`PASS ${ALICE.password}\r\n`);
  t.match(await c.readLine(), /^\+OK Logged in/);
  const inbox = sampleMessages().filter((m) => m.mailbox === 'INBOX');
  c.write('STAT\r\n');
  t.equal(await c.readLine(), `+OK ${inbox.length} ${inbox.reduce((n, m) => n + m.raw.length, 0)}`);
  c.write('RETR 1\r\n');
  t.match(await c.readLine(), /^\+OK/);
  const lines: string[] = [];
  for (let line = await c.readLine(); line !== '.'; line = await c.readLine()) lines.push(line.startsWith('..') ? line.slice(1) : line);
  t.equal(lines.map((l) => `${l}\r\n`).join(''), inbox[0]?.raw.toString('latin1'));
  c.write('QUIT\r\n');
  t.match(await c.readLine(), /^\+OK/);
});

t.test('POP3S: implicit TLS login', async (t) => {
  const c = await LineClient.connect(be.pop3sPort, tlsOpts());
  t.teardown(() => c.close());
  t.match(await c.readLine(), /^\+OK/);
  c.write(`USER ${BOB.user}\r\nPASS ${BOB.password}\r\n`);
  t.match(await c.readLine(), /^\+OK/);
  t.match(await c.readLine(), /^\+OK Logged in/);
});

t.test('LMTP: a delivered message lands in the INBOX', async (t) => {
  const c = await LineClient.connect(be.lmtpPort);
  t.teardown(() => c.close());
  t.match(await c.readLine(), /^220 /);
  c.write('LHLO gatehouse.test\r\n');
  for (let line = await c.readLine(); !line.startsWith('250 '); line = await c.readLine()) t.match(line, /^250-/);
  c.write('MAIL FROM:<sender@gatehouse.test>\r\n');
  t.match(await c.readLine(), /^250 /);
  c.write(`RCPT TO:<${BOB.user}>\r\n`);
  t.match(await c.readLine(), /^250 /);
  c.write('DATA\r\n');
  t.match(await c.readLine(), /^354 /);
  c.write('Subject: via lmtp\r\n\r\nhello\r\n.\r\n');
  t.match(await c.readLine(), /^250 /);
  t.match(await be.doveadm(['search', '-u', BOB.user, 'mailbox', 'INBOX', 'subject', 'via lmtp']), /\S+ 4\n/);
});
