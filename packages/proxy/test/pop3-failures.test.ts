// POP3 failures answer clearly with RFC 2449/3206 response codes and lose nothing:
// wrong or unknown credentials, account rules and the per-user POP3 switch (IMAP still
// works for that user), a store that is down, broken, without POP3 or that checks
// passwords itself, a store that vanishes mid-session, and a directory outage.
import t from 'tap';
import { hashPassword } from '@gatehouse/directory';
import { freePort } from '@gatehouse/testkit';
import { b64, pop3 } from './helpers/pop3.ts';
import { RawClient } from './helpers/raw-client.ts';
import { startScriptedPop3Backend } from './helpers/scripted-pop3-backend.ts';
import { startTier, type Tier } from './helpers/tier.ts';

const AUTH_FAILED = '-ERR [AUTH] Authentication failed.';
const STORE_UNAVAILABLE = '-ERR [SYS/TEMP] Your mail store is unavailable; try again later.';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, {
    limits: { backendConnectTimeoutMs: 1000, backendResponseTimeoutMs: 2500 },
    // dora exists only in be1's own password file: Gatehouse keeps no hash for her.
    extraUsers: [
      { name: 'dora@example.com', password: 'dora-secret', backend: 'be1' },
      { name: 'olga@example.com', password: 'olga-secret', backend: 'be1' },
      { name: 'ivy@example.com', password: 'ivy-secret', backend: 'be1' },
    ],
  });
  const be1 = tier.backends.be1;
  await tier.directory.addBackend({ name: 'be1-own-passwords', host: be1.host, imapPort: be1.imapPort, pop3Port: be1.pop3Port, tls: 'starttls', login: 'user' });
  await tier.directory.setUser('dora@example.com', { backend: 'be1-own-passwords', password: null });
});

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => c.close());
  await c.line();
  return c;
}

/** USER then PASS; the answer to PASS. */
async function login(c: RawClient, user: string, password: string): Promise<string | null> {
  const ok = await pop3(c, `USER ${user}`);
  if (ok !== '+OK Send the password.') return ok;
  return pop3(c, `PASS ${password}`);
}

async function addUserOn(name: string, backend: string, extra: { state?: 'disabled'; imap?: boolean; pop3?: boolean } = {}): Promise<void> {
  await tier.directory.addUser({ name, backend, password: await hashPassword('pw-of-' + name), ...extra });
}

async function addScripted(name: string, port: number): Promise<void> {
  await tier.directory.addBackend({ name, host: '127.0.0.1', imapPort: 1, pop3Port: port, tls: 'none', login: 'master', masterUser: 'm', masterPassword: 'p' });
}

t.test('unknown user, bad user name and wrong password look the same: -ERR [AUTH]', async (t) => {
  const c = await client();
  t.equal(await login(c, 'nobody@example.com', 'whatever'), AUTH_FAILED);
  t.equal(await login(c, 'alice@example.com', 'wrong'), AUTH_FAILED);
  t.equal(await pop3(c, `AUTH PLAIN ${b64('\0bad name@example.com\0x')}`), AUTH_FAILED);
});

t.test('an empty password is a wrong one, and never reaches a store that checks passwords', async (t) => {
  const c = await client();
  t.equal(await login(c, 'alice@example.com', ''), AUTH_FAILED);
  t.equal(await pop3(c, 'USER dora@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'PASS'), AUTH_FAILED, 'PASS without an argument');
});

t.test('disabled account: refused with [AUTH] Account disabled only after a correct password', async (t) => {
  await addUserOn('erin@example.com', 'be1', { state: 'disabled' });
  const c = await client();
  t.equal(await login(c, 'erin@example.com', 'wrong'), AUTH_FAILED);
  t.equal(await login(c, 'erin@example.com', 'pw-of-erin@example.com'), '-ERR [AUTH] Account disabled.');
});

t.test('POP3 switched off for one user: [SYS/PERM] after a correct password, while IMAP still works for that user', async (t) => {
  await tier.directory.setUser('olga@example.com', { pop3: false });
  const c = await client();
  t.equal(await login(c, 'olga@example.com', 'wrong'), AUTH_FAILED, 'a wrong password says nothing about the switch');
  t.equal(await login(c, 'olga@example.com', 'olga-secret'), '-ERR [SYS/PERM] POP3 access disabled for this account.');
  const imap = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => imap.close());
  await imap.line();
  t.match((await imap.cmd('a', 'LOGIN olga@example.com olga-secret')).at(-1), /^a OK \[CAPABILITY /, 'IMAP logs in');
});

t.test('IMAP switched off for one user: POP3 still works for that user (and the other way round above)', async (t) => {
  await tier.directory.setUser('ivy@example.com', { imap: false });
  const c = await client();
  t.equal(await login(c, 'ivy@example.com', 'ivy-secret'), '+OK Logged in.');
  const imap = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => imap.close());
  await imap.line();
  t.same(await imap.cmd('a', 'LOGIN ivy@example.com ivy-secret'), ['a NO [CONTACTADMIN] IMAP access is disabled for this account.']);
});

t.test('the store refuses the master login for a user it does not know: -ERR [SYS/TEMP], logged for the operator', async (t) => {
  await addUserOn('nils@example.com', 'be1');
  const c = await client();
  t.equal(await login(c, 'nils@example.com', 'pw-of-nils@example.com'), '-ERR [SYS/TEMP] Your mail store refused the login; try again later.');
});

t.test('store down: -ERR [SYS/TEMP], the connection stays usable', async (t) => {
  const port = await freePort();
  await addScripted('be-down', port);
  await addUserOn('gina@example.com', 'be-down');
  const c = await client();
  t.equal(await login(c, 'gina@example.com', 'pw-of-gina@example.com'), STORE_UNAVAILABLE);
  t.equal(await login(c, 'alice@example.com', 'alice-secret'), '+OK Logged in.', 'then another login works');
});

t.test('store that never greets, greets like IMAP or with -ERR: -ERR [SYS/TEMP] within the timeout', async (t) => {
  for (const behaviour of ['silent', 'garbage-greeting', 'err-greeting'] as const) {
    const { port } = await startScriptedPop3Backend(t, behaviour);
    await addScripted(`be-${behaviour}`, port);
    const user = `u-${behaviour}@example.com`;
    await addUserOn(user, `be-${behaviour}`);
    const c = await client();
    t.equal(await login(c, user, `pw-of-${user}`), STORE_UNAVAILABLE, behaviour);
  }
});

t.test('store refuses the master login with its own code: -ERR [SYS/TEMP], not a wrong password', async (t) => {
  const { port } = await startScriptedPop3Backend(t, 'refuse-sys-temp');
  await addScripted('be-refuses', port);
  await addUserOn('hugo@example.com', 'be-refuses');
  const c = await client();
  t.equal(await login(c, 'hugo@example.com', 'pw-of-hugo@example.com'), '-ERR [SYS/TEMP] Your mail store refused the login; try again later.');
});

t.test('back-end without a POP3 port: -ERR [SYS/PERM] after a correct password', async (t) => {
  const be1 = tier.backends.be1;
  await tier.directory.addBackend({ name: 'be1-imap-only', host: be1.host, imapPort: be1.imapPort, tls: 'starttls', login: 'master', masterUser: be1.masterUser, masterPassword: be1.masterPassword });
  await addUserOn('jack@example.com', 'be1-imap-only');
  const c = await client();
  t.equal(await login(c, 'jack@example.com', 'wrong'), AUTH_FAILED);
  t.equal(await login(c, 'jack@example.com', 'pw-of-jack@example.com'), '-ERR [SYS/PERM] Your mail store does not offer POP3.');
});

t.test('store being drained: -ERR [SYS/TEMP] for new logins', async (t) => {
  const be1 = tier.backends.be1;
  await tier.directory.addBackend({ name: 'be1-drained', host: be1.host, imapPort: be1.imapPort, pop3Port: be1.pop3Port, tls: 'starttls', login: 'master', masterUser: be1.masterUser, masterPassword: be1.masterPassword, state: 'drain' });
  await addUserOn('kim@example.com', 'be1-drained');
  const c = await client();
  t.equal(await login(c, 'kim@example.com', 'pw-of-kim@example.com'), '-ERR [SYS/TEMP] Your mail store is under maintenance; try again later.');
});

t.test('store that checks passwords itself: its refusal is [AUTH], its acceptance logs in; account rules apply after it', async (t) => {
  const c = await client();
  t.equal(await login(c, 'dora@example.com', 'wrong'), AUTH_FAILED);
  t.equal(await login(c, 'dora@example.com', 'dora-secret'), '+OK Logged in.');
  t.match(await pop3(c, 'STAT'), /^\+OK 3 \d+$/);
  await tier.directory.setUser('dora@example.com', { pop3: false });
  t.teardown(() => tier.directory.setUser('dora@example.com', { pop3: true }));
  const c2 = await client();
  t.equal(await login(c2, 'dora@example.com', 'dora-secret'), '-ERR [SYS/PERM] POP3 access disabled for this account.');
});

t.test('a store with USER/PASS only and its own passwords: the login goes as USER/PASS, never with a line break inside', async (t) => {
  const { port, received } = await startScriptedPop3Backend(t, 'user-pass-only');
  await tier.directory.addBackend({ name: 'be-userpass', host: '127.0.0.1', imapPort: 1, pop3Port: port, tls: 'none', login: 'user' });
  await tier.directory.addUser({ name: 'mona@example.com', backend: 'be-userpass' });
  const c = await client();
  t.equal(await login(c, 'mona@example.com', 'wrong'), AUTH_FAILED, "the store's refusal");
  // SASL PLAIN may carry CR LF in a password: it must never become a second command.
  t.equal(await pop3(c, `AUTH PLAIN ${b64('\0mona@example.com\0x\r\nDELE 1')}`), AUTH_FAILED);
  t.equal(await login(c, 'Mona@Example.com', 'right pass'), '+OK Logged in.');
  t.equal(await pop3(c, 'STAT'), '+OK 0 0');
  t.same(
    received,
    ['CAPA', 'USER mona@example.com', 'PASS wrong', 'CAPA', 'CAPA', 'USER mona@example.com', 'PASS right pass', 'STAT'],
    'normalized name; the CR LF password never reached the store',
  );
});

t.test('store vanishes mid-session: the connection closes, Gatehouse writes nothing of its own', async (t) => {
  const { port } = await startScriptedPop3Backend(t, 'drop-after-login');
  await addScripted('be-drop', port);
  await addUserOn('lars@example.com', 'be-drop');
  const c = await client();
  t.equal(await login(c, 'lars@example.com', 'pw-of-lars@example.com'), '+OK Logged in.');
  c.send('STAT\r\n');
  t.same(await c.rest(), [], 'POP3 has no unsolicited response: just the close');
});

t.test('directory down: -ERR [SYS/TEMP] quickly, the connection stays usable, logged-in sessions go on', async (t) => {
  const before = await client();
  t.equal(await login(before, 'alice@example.com', 'alice-secret'), '+OK Logged in.');
  await tier.stopRedis();
  const c = await client();
  const started = Date.now();
  t.equal(await login(c, 'alice@example.com', 'alice-secret'), '-ERR [SYS/TEMP] The user directory is unavailable; try again later.');
  t.ok(Date.now() - started < 5000, 'within the directory timeout');
  t.equal(await pop3(c, 'NOOP'), '-ERR NOOP is valid only after login.');
  t.match(await pop3(before, 'STAT'), /^\+OK 3 \d+$/, 'the pipe needs no directory');
});
