// Failures answer clearly and lose nothing (DESIGN.md): wrong or unknown credentials,
// account rules, a store that is down, slow, broken or vanishes mid-session, a store
// that checks passwords itself, and a directory outage.
import t from 'tap';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { hashPassword } from '@gatehouse/directory';
import { freePort } from '@gatehouse/testkit';
import { RawClient } from './helpers/raw-client.ts';
import { startScriptedBackend } from './helpers/scripted-backend.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, {
    limits: { backendConnectTimeoutMs: 1000, backendResponseTimeoutMs: 2500 },
    // dora exists only in be1's own password file: Gatehouse keeps no hash for her.
    extraUsers: [
      { name: 'dora@example.com', password: 'dora-secret', backend: 'be1' },
      { name: 'lena@example.com', password: 'legacy-pw', backend: 'be1' },
    ],
  });
  const be1 = tier.backends.be1;
  await tier.directory.addBackend({ name: 'be1-own-passwords', host: be1.host, imapPort: be1.imapPort, tls: 'starttls', login: 'user' });
  await tier.directory.setUser('dora@example.com', { backend: 'be1-own-passwords', password: null });
});

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => c.close());
  await c.line();
  return c;
}

async function addUserOn(name: string, backend: string, extra: { state?: 'disabled'; imap?: boolean } = {}): Promise<void> {
  await tier.directory.addUser({ name, backend, password: await hashPassword('pw-of-' + name), ...extra });
}

t.test('unknown user and wrong password look the same: AUTHENTICATIONFAILED', async (t) => {
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN nobody@example.com whatever'), ['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.same(await c.cmd('b', 'LOGIN alice@example.com wrong'), ['b NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.same(await c.cmd('c', 'LOGIN nobody@unknown-domain.example whatever'), ['c NO [AUTHENTICATIONFAILED] Authentication failed.']);
});

t.test('disabled account: refused with AUTHORIZATIONFAILED only after a correct password', async (t) => {
  await addUserOn('erin@example.com', 'be1', { state: 'disabled' });
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN erin@example.com wrong'), ['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.same(await c.cmd('b', 'LOGIN erin@example.com pw-of-erin@example.com'), ['b NO [AUTHORIZATIONFAILED] Account disabled.']);
});

t.test('IMAP turned off for one user: refused with AUTHORIZATIONFAILED', async (t) => {
  await addUserOn('frank@example.com', 'be1', { imap: false });
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN frank@example.com pw-of-frank@example.com'), ['a NO [CONTACTADMIN] IMAP access is disabled for this account.']);
});

t.test('store down: NO [UNAVAILABLE], the connection stays usable', async (t) => {
  const port = await freePort();
  await tier.directory.addBackend({ name: 'be-down', host: '127.0.0.1', imapPort: port, tls: 'none', login: 'master', masterUser: 'm', masterPassword: 'p' });
  await addUserOn('gina@example.com', 'be-down');
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN gina@example.com pw-of-gina@example.com'), ['a NO [UNAVAILABLE] Your mail store is unavailable; try again later.']);
  t.same(await c.cmd('b', 'NOOP'), ['b OK NOOP completed.']);
});

t.test('store that never greets, greets with garbage or with BYE: NO [UNAVAILABLE] within the timeout', async (t) => {
  for (const behaviour of ['silent', 'garbage-greeting', 'bye-greeting'] as const) {
    const { port } = await startScriptedBackend(t, behaviour);
    const name = `be-${behaviour}`;
    await tier.directory.addBackend({ name, host: '127.0.0.1', imapPort: port, tls: 'none', login: 'master', masterUser: 'm', masterPassword: 'p' });
    const user = `u-${behaviour}@example.com`;
    await addUserOn(user, name);
    const c = await client();
    t.same(await c.cmd('a', `LOGIN ${user} pw-of-${user}`), ['a NO [UNAVAILABLE] Your mail store is unavailable; try again later.'], behaviour);
  }
});

t.test('store being drained: NO [UNAVAILABLE] for new logins', async (t) => {
  await tier.directory.addBackend({
    name: 'be1-drained',
    host: tier.backends.be1.host,
    imapPort: tier.backends.be1.imapPort,
    tls: 'starttls',
    login: 'master',
    masterUser: tier.backends.be1.masterUser,
    masterPassword: tier.backends.be1.masterPassword,
    state: 'drain',
  });
  await addUserOn('hank@example.com', 'be1-drained');
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN hank@example.com pw-of-hank@example.com'), ['a NO [UNAVAILABLE] Your mail store is under maintenance; try again later.']);
});

t.test('store that checks passwords itself: its answer is relayed', async (t) => {
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN dora@example.com wrong'), ['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.match((await c.cmd('b', 'LOGIN dora@example.com dora-secret')).at(-1), /^b OK \[CAPABILITY IMAP4rev1 /);
  t.match((await c.cmd('c', 'SELECT INBOX')).at(-1), /^c OK \[READ-WRITE\]/);
});

t.test('store that checks passwords itself: a disabled account is refused after the store accepted the password', async (t) => {
  await tier.directory.setUser('dora@example.com', { state: 'disabled' });
  t.teardown(() => tier.directory.setUser('dora@example.com', { state: 'active' }));
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN dora@example.com dora-secret'), ['a NO [AUTHORIZATIONFAILED] Account disabled.']);
});

t.test('an empty password is refused as a wrong one, and never reaches a store that checks passwords', async (t) => {
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN dora@example.com ""'), ['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.same(await c.cmd('b', 'LOGIN alice@example.com ""'), ['b NO [AUTHENTICATIONFAILED] Authentication failed.']);
});

t.test('a legacy hash imported from Dovecot is upgraded to {SCRYPT} by the first good login', async (t) => {
  const salt = Buffer.from('0123456789abcdef');
  const ssha512 = `{SSHA512}${Buffer.concat([createHash('sha512').update('legacy-pw').update(salt).digest(), salt]).toString('base64')}`;
  await tier.directory.setUser('lena@example.com', { password: ssha512 });
  const c = await client();
  t.match((await c.cmd('a', 'LOGIN lena@example.com legacy-pw')).at(-1), /^a OK /);
  t.match((await tier.directory.getUser('lena@example.com'))?.password, /^\{SCRYPT\}/);
  const again = await client();
  t.match((await again.cmd('a', 'LOGIN lena@example.com legacy-pw')).at(-1), /^a OK /, 'the same password still works');
});

t.test('store vanishes mid-session without a word: the client gets * BYE and the connection closes', async (t) => {
  const { port } = await startScriptedBackend(t, 'drop-after-login');
  await tier.directory.addBackend({ name: 'be-drop', host: '127.0.0.1', imapPort: port, tls: 'none', login: 'master', masterUser: 'm', masterPassword: 'p' });
  await addUserOn('ivan@example.com', 'be-drop');
  const c = await client();
  t.match((await c.cmd('a', 'LOGIN ivan@example.com pw-of-ivan@example.com')).at(-1), /^a OK \[CAPABILITY IMAP4rev1 IDLE\] Logged in\.$/);
  c.send('b NOOP\r\n');
  t.same(await c.rest(), ['* BYE [UNAVAILABLE] The mail store closed the connection.']);
});

t.test('store shuts down mid-session: its own BYE reaches the client, Gatehouse adds none', async (t) => {
  const c = await client();
  t.match((await c.cmd('a', 'LOGIN bob@example.com bob-secret')).at(-1), /^a OK /);
  t.match((await c.cmd('b', 'SELECT INBOX')).at(-1), /^b OK /);
  // Kick the session on the store, as an operator would.
  await tier.backends.be2.doveadm(['kick', 'bob@example.com']);
  const rest = await c.rest();
  t.equal(rest.filter((l) => l.startsWith('* BYE')).length, 1, `exactly one BYE: ${JSON.stringify(rest)}`);
});

t.test("COMPRESS=DEFLATE session: the store's own deflated BYE reaches the client intact, Gatehouse writes nothing into the stream", async (t) => {
  const c = await client();
  t.match((await c.cmd('a', 'LOGIN alice@example.com alice-secret')).at(-1), /^a OK /);
  t.match((await c.cmd('b', 'COMPRESS DEFLATE')).at(-1), /^b OK /);
  const deflate = zlib.createDeflateRaw();
  const compressed: Buffer[] = [];
  deflate.on('data', (d: Buffer) => compressed.push(d));
  deflate.write('c LOGOUT\r\n');
  await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  c.socket.removeAllListeners('data');
  const received: Buffer[] = [c.takeBuffered()];
  c.socket.on('data', (d: Buffer) => received.push(d));
  const closed = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
  c.send(Buffer.concat(compressed));
  await closed;
  const text = zlib.inflateRawSync(Buffer.concat(received), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('latin1');
  t.match(text, /^\* BYE Logging out\r\nc OK Logout completed/, "one valid deflate stream, holding the store's goodbye");
  t.equal(text.match(/\* BYE/g)?.length, 1, 'and no second BYE');
});

t.test('directory down: NO [UNAVAILABLE] quickly, the connection stays usable, logged-in sessions go on', async (t) => {
  const before = await client();
  t.match((await before.cmd('a', 'LOGIN alice@example.com alice-secret')).at(-1), /^a OK /);
  await tier.stopRedis();
  const c = await client();
  t.same(await c.cmd('a', 'LOGIN alice@example.com alice-secret'), ['a NO [UNAVAILABLE] The user directory is unavailable; try again later.']);
  t.same(await c.cmd('b', 'NOOP'), ['b OK NOOP completed.']);
  t.match((await before.cmd('b', 'SELECT INBOX')).at(-1), /^b OK \[READ-WRITE\]/, 'the pipe needs no directory');
});
