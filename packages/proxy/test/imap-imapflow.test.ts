// A real IMAP client (imapflow) through Gatehouse, checked against a second imapflow
// connection straight to the user's Dovecot store: after login the client must see
// exactly what the store says (message data byte for byte), and what it changes
// through Gatehouse must be what the store holds afterwards.
import { createCipheriv } from 'node:crypto';
import type net from 'node:net';
import { ImapFlow, type FetchMessageObject, type ImapFlowOptions } from 'imapflow';
import t, { type Test } from 'tap';
import { PUBLIC_FOLDERS, PUBLIC_PREFIX, SAMPLE_FOLDERS, publicSampleMessages, sampleAttachment, sampleMessages } from '@gatehouse/testkit';
import { startTier, users, type Tier, type TierUser } from './helpers/tier.ts';

// Users whose mailboxes the mutating tests change, so every test starts from the samples.
const extraUsers: TierUser[] = [
  { name: 'flags@example.com', password: 'flags-secret', backend: 'be1' },
  { name: 'idle@example.com', password: 'idle-secret', backend: 'be1' },
  { name: 'move@example.com', password: 'move-secret', backend: 'be2' },
  { name: 'expunge@example.com', password: 'expunge-secret', backend: 'be2' },
  { name: 'big@example.com', password: 'big-secret', backend: 'be2' },
];
const user = (name: string): TierUser => {
  const u = [...users, ...extraUsers].find((x) => x.name.startsWith(`${name}@`));
  if (!u) throw new Error(`no test user ${name}`);
  return u;
};
const alice = user('alice');
const bob = user('bob');

const ALL_FOLDERS = ['INBOX', ...SAMPLE_FOLDERS, ...PUBLIC_FOLDERS.map((f) => PUBLIC_PREFIX + f)];
const samplesIn = (mailbox: string): Buffer[] =>
  [...sampleMessages(), ...publicSampleMessages()].filter((m) => m.mailbox === mailbox).map((m) => m.raw);

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, { extraUsers });
  // \Recent goes to the first session that selects a mailbox; a read-write SELECT of
  // every folder now keeps it out of the comparisons below.
  const warm = new ImapFlow(directOptions(alice));
  const warm2 = new ImapFlow(directOptions(bob));
  for (const c of [warm, warm2]) {
    await c.connect();
    for (const box of ALL_FOLDERS) await c.mailboxOpen(box);
    await c.logout();
  }
});

function directOptions(u: TierUser, be: 'be1' | 'be2' = u.backend): ImapFlowOptions {
  const store = tier.backends[be];
  return {
    host: store.host,
    port: store.imapsPort,
    secure: true,
    tls: { ca: [store.caPem], servername: store.tlsServername },
    auth: { user: u.name, pass: u.password },
    logger: false,
  };
}

async function open(t: Test, options: ImapFlowOptions): Promise<ImapFlow> {
  const client = new ImapFlow({ ...options, logger: false });
  // Failures surface as rejected commands; an unhandled 'error' event would crash the run.
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.close());
  return client;
}

/** imapflow through Gatehouse's implicit-TLS listener (or STARTTLS on the cleartext one). */
function viaGatehouse(t: Test, u: TierUser, extra: Partial<ImapFlowOptions> = {}): Promise<ImapFlow> {
  return open(t, {
    host: tier.host,
    port: tier.imapsPort,
    secure: true,
    tls: { ca: [tier.caPem], servername: 'localhost' },
    auth: { user: u.name, pass: u.password },
    ...extra,
  });
}

/** imapflow straight to the user's Dovecot store, with the user's own password. */
function direct(t: Test, u: TierUser, extra: Partial<ImapFlowOptions> = {}): Promise<ImapFlow> {
  return open(t, { ...directOptions(u), ...extra });
}

/** Sets, Maps, Buffers and Dates as plain JSON-able values, so t.same compares contents. */
function plain(v: unknown): unknown {
  if (v instanceof Set) return [...v].map((x) => plain(x)).map(String).sort();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Buffer.isBuffer(v)) return { base64: v.toString('base64') };
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map((x) => plain(x));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

async function sources(client: ImapFlow, mailbox: string): Promise<Buffer[]> {
  await client.mailboxOpen(mailbox, { readOnly: true });
  const msgs = await client.fetchAll('1:*', { uid: true, source: true }, { uid: true });
  return msgs.map((m) => m.source ?? Buffer.alloc(0));
}

/** The base64 text of part 2 of the multipart sample, as the store holds it. */
function attachmentPartText(): Buffer {
  const flat = sampleAttachment().toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += 76) lines.push(flat.slice(i, i + 76));
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}

/** A deterministic message of at least 20 MiB: AES-CTR keystream with a fixed key, base64. */
function bigMessage(): Buffer {
  // 57 bytes make one 76-character base64 line, 78 bytes with its CRLF.
  const lineCount = Math.ceil((20 * 1024 * 1024) / 78);
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x47), Buffer.alloc(16, 0));
  const body = Buffer.concat([cipher.update(Buffer.alloc(lineCount * 57)), cipher.final()]).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < body.length; i += 76) lines.push(body.slice(i, i + 76));
  const head = [
    'From: Big Sender <big@gatehouse.test>',
    'To: big@example.com',
    'Subject: twenty megabytes',
    'Date: Mon, 01 Jul 2024 12:00:00 +0000',
    'Message-ID: <big-20mb@gatehouse.test>',
    'MIME-Version: 1.0',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    '',
  ].join('\r\n');
  return Buffer.from(`${head}${lines.join('\r\n')}\r\n`, 'latin1');
}

function marker(id: string, subject: string): Buffer {
  return Buffer.from(
    [
      'From: Marker <marker@gatehouse.test>',
      'To: someone@example.com',
      `Subject: ${subject}`,
      'Date: Tue, 02 Jul 2024 08:00:00 +0000',
      `Message-ID: <${id}@gatehouse.test>`,
      '',
      `Marker ${id}.`,
      '',
    ].join('\r\n'),
    'latin1',
  );
}

t.test('imapflow: LIST through Gatehouse equals the store\'s, private folders and Public/Announcements included', async (t) => {
  const [gh, be] = await Promise.all([viaGatehouse(t, alice), direct(t, alice)]);
  const [viaGh, viaBe] = await Promise.all([gh.list(), be.list()]);
  t.same(plain(viaGh), plain(viaBe), 'LIST is the store\'s');
  // The public namespace's prefix itself is listed too, as the parent of its folders.
  t.same(viaGh.map((m) => m.path).sort(), [...ALL_FOLDERS, PUBLIC_PREFIX.slice(0, -1)].sort(), 'private and public folders');
  const pub = viaGh.find((m) => m.path === `${PUBLIC_PREFIX}Announcements`);
  t.equal(pub?.delimiter, '/');
  t.ok(viaGh.find((m) => `${m.path}/` === PUBLIC_PREFIX)?.flags.has('\\HasChildren'), 'Public is the namespace root');
  t.same(plain(gh.namespaces), plain(be.namespaces), 'NAMESPACE is the store\'s (public namespace included)');
  t.match(JSON.stringify(plain(gh.namespaces)), /Public\//);
});

t.test('imapflow: SELECT and STATUS of every mailbox report what the store reports', async (t) => {
  const [gh, be] = await Promise.all([viaGatehouse(t, alice), direct(t, alice)]);
  for (const box of ALL_FOLDERS) {
    const viaGh = await gh.mailboxOpen(box);
    const viaBe = await be.mailboxOpen(box);
    t.same(plain(viaGh), plain(viaBe), `SELECT ${box}`);
    t.equal(viaGh.exists, samplesIn(box).length, `${box} holds its samples`);
    await Promise.all([gh.mailboxClose(), be.mailboxClose()]);
    const query = { messages: true, recent: true, uidNext: true, uidValidity: true, unseen: true, highestModseq: true };
    t.same(plain(await gh.status(box, query)), plain(await be.status(box, query)), `STATUS ${box}`);
  }
});

t.test('imapflow: SEARCH answers through Gatehouse match the store\'s', async (t) => {
  const [gh, be] = await Promise.all([viaGatehouse(t, alice), direct(t, alice)]);
  await Promise.all([gh.mailboxOpen('INBOX', { readOnly: true }), be.mailboxOpen('INBOX', { readOnly: true })]);
  const cases = [
    { query: { all: true }, expect: [1, 2, 3] },
    { query: { seen: false }, expect: [1, 2, 3] },
    { query: { subject: 'Quarterly' }, expect: [2] },
    { query: { body: 'Café' }, expect: [3] }, // non-ASCII: CHARSET UTF-8
    { query: { since: new Date('2024-01-03T00:00:00Z') }, expect: [2, 3] },
    { query: { larger: 100_000 }, expect: [2] },
    { query: { header: { 'message-id': '<sample-1@gatehouse.test>' } }, expect: [1] },
  ];
  for (const { query, expect } of cases) {
    const viaGh = await gh.search(query, { uid: true });
    t.same(viaGh, await be.search(query, { uid: true }), `SEARCH ${JSON.stringify(query)} is the store's`);
    t.same(viaGh, expect);
  }
});

t.test('imapflow: FETCH of BODYSTRUCTURE, ENVELOPE, FLAGS, INTERNALDATE and SIZE matches the store\'s', async (t) => {
  const [gh, be] = await Promise.all([viaGatehouse(t, alice), direct(t, alice)]);
  const query = { uid: true, flags: true, bodyStructure: true, envelope: true, internalDate: true, size: true };
  for (const box of ALL_FOLDERS) {
    await Promise.all([gh.mailboxOpen(box, { readOnly: true }), be.mailboxOpen(box, { readOnly: true })]);
    const viaGh = await gh.fetchAll('1:*', query);
    t.same(plain(viaGh), plain(await be.fetchAll('1:*', query)), `FETCH in ${box}`);
    t.same(viaGh.map((m) => m.size), samplesIn(box).map((raw) => raw.length), `${box} sizes`);
  }
  await gh.mailboxOpen('INBOX', { readOnly: true });
  const multipart = await gh.fetchOne('2', { bodyStructure: true });
  const part2 = multipart ? multipart.bodyStructure?.childNodes?.[1] : undefined;
  t.match(part2, { part: '2', type: 'application/octet-stream', disposition: 'attachment' }, 'part 2 is the attachment');
});

t.test('imapflow: BODY[] of every sample message is byte-identical to the store\'s and to the sample', async (t) => {
  const [gh, be] = await Promise.all([viaGatehouse(t, alice), direct(t, alice)]);
  for (const box of ALL_FOLDERS) {
    const viaGh = await sources(gh, box);
    const viaBe = await sources(be, box);
    const expected = samplesIn(box);
    t.equal(viaGh.length, expected.length, `${box}: every message`);
    expected.forEach((raw, i) => {
      t.ok(viaGh[i]?.equals(raw), `${box} #${i + 1} equals the sample bytes`);
      t.ok(viaGh[i]?.equals(viaBe[i] ?? Buffer.alloc(0)), `${box} #${i + 1} equals the store's bytes`);
    });
  }
});

t.test('imapflow: partial fetch of the attachment part is byte-identical to the store\'s', async (t) => {
  const [gh, be] = await Promise.all([viaGatehouse(t, alice), direct(t, alice)]);
  await Promise.all([gh.mailboxOpen('INBOX', { readOnly: true }), be.mailboxOpen('INBOX', { readOnly: true })]);
  const text = attachmentPartText();
  // The start, the middle, and a range running past the end of the part.
  for (const [start, maxLength] of [[0, 1000], [123_457, 65_536], [text.length - 500, 10_000]] as const) {
    const q = { uid: true, bodyParts: [{ key: '2', start, maxLength }] };
    const part = (m: FetchMessageObject | false): Buffer | undefined => (m ? m.bodyParts?.get('2') : undefined);
    const viaGh = part(await gh.fetchOne('2', q, { uid: true }));
    const viaBe = part(await be.fetchOne('2', q, { uid: true }));
    const want = text.subarray(start, start + maxLength);
    t.ok(viaGh?.equals(want), `BODY[2]<${start}.${maxLength}> is that slice of the part (${want.length} bytes)`);
    t.ok(viaGh?.equals(viaBe ?? Buffer.alloc(0)), `BODY[2]<${start}.${maxLength}> equals the store's`);
  }
  const whole = await gh.download('2', '2', { uid: true });
  const chunks: Buffer[] = [];
  for await (const chunk of whole.content ?? []) chunks.push(chunk as Buffer);
  t.ok(Buffer.concat(chunks).equals(sampleAttachment()), 'the whole part decodes to the attachment');
});

t.test('imapflow over STARTTLS: login on the cleartext listener, LIST and BODY[] byte-identical to the store\'s', async (t) => {
  const gh = await open(t, {
    host: tier.host,
    port: tier.imapPort,
    secure: false,
    doSTARTTLS: true,
    tls: { ca: [tier.caPem], servername: 'localhost' },
    auth: { user: bob.name, pass: bob.password },
  });
  const be = await direct(t, bob);
  t.ok(gh.secureConnection, 'the session was upgraded to TLS');
  t.ok(gh.authenticated, 'logged in');
  t.same(plain(await gh.list()), plain(await be.list()));
  for (const box of ALL_FOLDERS) {
    const viaGh = await sources(gh, box);
    const viaBe = await sources(be, box);
    const expected = samplesIn(box);
    t.equal(viaGh.length, expected.length, `${box}: every message`);
    expected.forEach((raw, i) => {
      t.ok(viaGh[i]?.equals(raw) && viaGh[i]?.equals(viaBe[i] ?? Buffer.alloc(0)), `${box} #${i + 1} equals the sample and the store's bytes`);
    });
  }
});

t.test('imapflow: COMPRESS=DEFLATE is offered after login, the session is compressed end to end, FETCH stays byte-identical', async (t) => {
  const [gh, be, ghPlain] = await Promise.all([viaGatehouse(t, alice), direct(t, alice), viaGatehouse(t, alice, { disableCompression: true })]);
  t.ok(gh.capabilities.has('COMPRESS=DEFLATE'), 'post-login capabilities offer COMPRESS=DEFLATE');
  const storeCaps = [...be.capabilities.keys()].filter((c) => !['SASL-IR', 'LOGIN-REFERRALS', 'STARTTLS', 'LOGINDISABLED'].includes(c));
  t.same([...gh.capabilities.keys()].sort(), storeCaps.sort(), 'post-login capabilities are the store\'s, less the login-only ones');

  // The raw socket under imapflow counts what crossed the wire: DEFLATE makes the base64
  // of the random attachment ~25% smaller, so fewer bytes arrive than without COMPRESS.
  const wire = (c: ImapFlow): net.Socket => (c as unknown as { socket: net.Socket }).socket;
  const fetchCounted = async (c: ImapFlow): Promise<{ bytes: number; source: Buffer }> => {
    await c.mailboxOpen('INBOX', { readOnly: true });
    const before = wire(c).bytesRead;
    const m = await c.fetchOne('2', { source: true }, { uid: true });
    return { bytes: wire(c).bytesRead - before, source: (m && m.source) || Buffer.alloc(0) };
  };
  const compressed = await fetchCounted(gh);
  const uncompressed = await fetchCounted(ghPlain);
  const fromStore = await fetchCounted(be);
  const raw = samplesIn('INBOX')[1] ?? Buffer.alloc(0);
  t.ok(compressed.source.equals(raw) && compressed.source.equals(fromStore.source), 'compressed FETCH is byte-identical to the sample and the store\'s');
  t.ok(uncompressed.source.equals(raw), 'uncompressed FETCH too');
  t.ok(uncompressed.bytes > raw.length, `uncompressed: ${uncompressed.bytes} bytes on the wire for ${raw.length}`);
  t.ok(compressed.bytes < uncompressed.bytes * 0.9, `compressed: ${compressed.bytes} bytes on the wire`);
});

t.test('imapflow: STORE of flags through Gatehouse is seen by a direct connection', async (t) => {
  const u = user('flags');
  const gh = await viaGatehouse(t, u);
  await gh.mailboxOpen('INBOX');
  t.ok(await gh.messageFlagsAdd('2', ['\\Seen', '\\Flagged', '$Gatehouse'], { uid: true }));
  t.ok(await gh.messageFlagsRemove('2', ['\\Flagged'], { uid: true }));
  t.ok(await gh.messageFlagsSet('3', ['\\Answered'], { uid: true }));
  const be = await direct(t, u);
  await be.mailboxOpen('INBOX', { readOnly: true });
  const flags = (await be.fetchAll('1:*', { uid: true, flags: true }, { uid: true })).map((m) => plain(m.flags));
  t.same(flags, [[], ['$Gatehouse', '\\Seen'], ['\\Answered']]);
  t.same(await be.search({ seen: false }, { uid: true }), [1, 3]);
});

t.test('imapflow: a 20 MB APPEND through Gatehouse is stored byte for byte', async (t) => {
  const u = user('big');
  const big = bigMessage();
  t.ok(big.length >= 20 * 1024 * 1024, `${big.length} bytes`);
  const gh = await viaGatehouse(t, u);
  const res = await gh.append('INBOX', big, ['\\Seen'], new Date('2024-07-01T12:00:00Z'));
  t.ok(res && res.uid, 'APPENDUID returned');
  const uid = res ? res.uid : undefined;
  const be = await direct(t, u);
  await be.mailboxOpen('INBOX', { readOnly: true });
  const got = await be.fetchOne(String(uid), { source: true, size: true, flags: true, internalDate: true }, { uid: true });
  t.equal(got && got.size, big.length, 'RFC822.SIZE');
  t.ok(got && got.source?.equals(big), 'the stored bytes are the appended bytes');
  // \Recent is this direct session's own (RFC 3501 §2.3.2), not part of what was stored.
  t.same(got && [...(got.flags ?? [])].filter((f) => f !== '\\Recent'), ['\\Seen']);
  t.same(got && plain(got.internalDate), '2024-07-01T12:00:00.000Z');
});

// A bounded wait: without the EXISTS push the test fails here, not at the file's timeout.
t.test('imapflow: IDLE through Gatehouse sees a message appended directly to the store', { timeout: 20_000 }, async (t) => {
  const u = user('idle');
  const gh = await viaGatehouse(t, u);
  await gh.mailboxOpen('INBOX');
  const be = await direct(t, u);
  const exists = new Promise<{ count: number; idling: boolean }>((resolve) => {
    gh.on('exists', (ev) => resolve({ count: ev.count, idling: gh.idling }));
  });
  const idleDone = gh.idle();
  const mail = marker('idle-1', 'arrives while idling');
  const appended = await be.append('INBOX', mail);
  const ev = await exists;
  t.equal(ev.count, 4, 'EXISTS announces the fourth message');
  t.ok(ev.idling, 'it arrived while the client was in IDLE');
  // The next command ends IDLE (DONE) and runs.
  const m = await gh.fetchOne(String(appended ? appended.uid : '*'), { source: true }, { uid: true });
  t.ok(m && m.source?.equals(mail), 'the new message is byte-identical');
  await idleDone;
  t.notOk(gh.idling, 'IDLE ended for the FETCH');
});

t.test('imapflow: MOVE through Gatehouse moves the message on the store', async (t) => {
  const u = user('move');
  const gh = await viaGatehouse(t, u);
  t.ok(gh.capabilities.has('MOVE'), 'the store offers MOVE');
  await gh.mailboxOpen('INBOX');
  const res = await gh.messageMove('1', 'Archive', { uid: true });
  t.ok(res && res.uidMap?.get(1), 'COPYUID maps the moved message');
  const newUid = res ? res.uidMap?.get(1) : undefined;
  const be = await direct(t, u);
  t.same(await sources(be, 'INBOX'), samplesIn('INBOX').slice(1), 'gone from INBOX');
  await be.mailboxOpen('Archive', { readOnly: true });
  const moved = await be.fetchOne(String(newUid), { source: true }, { uid: true });
  t.ok(moved && moved.source?.equals(samplesIn('INBOX')[0] ?? Buffer.alloc(0)), 'in Archive, byte-identical');
  t.match(await be.status('Archive', { messages: true }), { messages: 2 }, 'Archive holds two messages');
});

t.test('imapflow: EXPUNGE through Gatehouse removes the message on the store', async (t) => {
  const u = user('expunge');
  const gh = await viaGatehouse(t, u);
  await gh.mailboxOpen('INBOX');
  const expunged: number[] = [];
  gh.on('expunge', (ev) => expunged.push(ev.seq ?? 0));
  t.ok(await gh.messageDelete('2', { uid: true }), 'STORE \\Deleted + EXPUNGE');
  t.same(expunged, [2], 'the client saw the EXPUNGE of message 2');
  const be = await direct(t, u);
  await be.mailboxOpen('INBOX', { readOnly: true });
  t.same(await be.search({ all: true }, { uid: true }), [1, 3]);
  t.same(await sources(be, 'INBOX'), [samplesIn('INBOX')[0], samplesIn('INBOX')[2]]);
});

t.test('imapflow: each user reaches its own store and only it', async (t) => {
  const [ghAlice, ghBob] = await Promise.all([viaGatehouse(t, alice), viaGatehouse(t, bob)]);
  const [resA, resB] = await Promise.all([
    ghAlice.append('INBOX', marker('marker-alice', 'alice was here')),
    ghBob.append('INBOX', marker('marker-bob', 'bob was here')),
  ]);
  t.ok(resA && resB, 'both APPENDs succeeded');

  // be1 as the master user for alice (as Gatehouse logs in), be2 as bob himself.
  const be1 = tier.backends.be1;
  const aliceOnBe1 = await open(t, { ...directOptions(alice), auth: { user: be1.masterUser, pass: be1.masterPassword, authzid: alice.name } });
  const bobOnBe2 = await direct(t, bob);
  const has = async (c: ImapFlow, id: string): Promise<number[]> => {
    await c.mailboxOpen('INBOX', { readOnly: true });
    return (await c.search({ header: { 'message-id': `<${id}@gatehouse.test>` } }, { uid: true })) || [];
  };
  t.same(await has(aliceOnBe1, 'marker-alice'), [resA ? resA.uid : -1], 'alice\'s marker is on be1');
  t.same(await has(aliceOnBe1, 'marker-bob'), [], 'bob\'s is not in alice\'s mailbox');
  t.same(await has(bobOnBe2, 'marker-bob'), [resB ? resB.uid : -1], 'bob\'s marker is on be2');
  t.same(await has(bobOnBe2, 'marker-alice'), [], 'alice\'s is not in bob\'s mailbox');
  t.same(await has(ghAlice, 'marker-alice'), [resA ? resA.uid : -1], 'alice through Gatehouse sees her marker');
  t.same(await has(ghBob, 'marker-bob'), [resB ? resB.uid : -1], 'bob through Gatehouse sees his own be2 mailbox');
  t.same(await has(ghBob, 'marker-alice'), [], 'and not alice\'s');
  const m = await bobOnBe2.fetchOne(String(resB ? resB.uid : '*'), { source: true }, { uid: true });
  t.ok(m && m.source?.equals(marker('marker-bob', 'bob was here')), 'byte-identical on be2');

  const loginError = async (options: ImapFlowOptions): Promise<unknown> => {
    const client = new ImapFlow(options);
    client.on('error', () => {});
    t.teardown(() => client.close());
    return client.connect().then(() => null, (err: unknown) => err);
  };
  t.match(await loginError(directOptions(alice, 'be2')), { authenticationFailed: true }, 'alice does not exist on be2');
  t.match(await loginError(directOptions(bob, 'be1')), { authenticationFailed: true }, 'bob does not exist on be1');
});
