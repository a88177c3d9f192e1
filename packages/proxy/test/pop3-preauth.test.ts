// What a POP3 client sees before login: CAPA, STLS, the plaintext policy, USER/PASS and
// AUTH, limits, and the security cases (STLS injection, over-long lines, commands that
// need a login, XCLIENT from a client).
import t from 'tap';
import diagnostics from 'node:diagnostics_channel';
import type { SessionEvent } from '../src/index.ts';
import { b64, pop3, pop3Multi } from './helpers/pop3.ts';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, { limits: { maxPreAuthCommands: 20, maxAuthFailures: 3 } });
});

const STORE_CAPS = ['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE'];
const AUTH_FAILED = '-ERR [AUTH] Authentication failed.';

async function tlsClient(opts: { localAddress?: string } = {}): Promise<RawClient> {
  const c = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem, ...opts });
  t.teardown(() => c.close());
  return c;
}
async function plainClient(): Promise<RawClient> {
  const c = await RawClient.connect(tier.pop3Port);
  t.teardown(() => c.close());
  return c;
}

t.test('greeting and CAPA over implicit TLS: USER and SASL PLAIN LOGIN, no STLS, no APOP timestamp', async (t) => {
  const c = await tlsClient();
  t.equal(await c.line(), '+OK Gatehouse ready.');
  t.same(await pop3Multi(c, 'CAPA'), ['+OK Capability list follows', ...STORE_CAPS, 'USER', 'SASL PLAIN LOGIN', '.']);
  t.same(await pop3Multi(c, 'AUTH'), ['+OK SASL mechanisms follow', 'PLAIN', 'LOGIN', '.'], 'AUTH without a mechanism lists them');
});

t.test('cleartext: STLS offered, USER and SASL not advertised and refused, the connection stays usable', async (t) => {
  const c = await plainClient();
  t.equal(await c.line(), '+OK Gatehouse ready.');
  t.same(await pop3Multi(c, 'CAPA'), ['+OK Capability list follows', ...STORE_CAPS, 'STLS', '.']);
  for (const cmd of ['USER alice@example.com', 'PASS alice-secret', `AUTH PLAIN ${b64('\0alice@example.com\0alice-secret')}`, 'AUTH']) {
    t.equal(await pop3(c, cmd), '-ERR [AUTH] Use STLS before logging in.', cmd.slice(0, 4));
  }
  t.equal((await pop3Multi(c, 'CAPA'))[0], '+OK Capability list follows');
});

t.test('STLS: after the handshake the capabilities change and USER/PASS logs in at the store', async (t) => {
  const c = await plainClient();
  await c.line();
  t.equal(await pop3(c, 'STLS'), '+OK Begin TLS negotiation now.');
  await c.startTls(tier.caPem);
  t.same(await pop3Multi(c, 'CAPA'), ['+OK Capability list follows', ...STORE_CAPS, 'USER', 'SASL PLAIN LOGIN', '.']);
  t.equal(await pop3(c, 'STLS'), '-ERR TLS is already active.');
  t.equal(await pop3(c, 'USER alice@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'PASS alice-secret'), '+OK Logged in.', "the store's own +OK");
  t.match(await pop3(c, 'STAT'), /^\+OK 3 \d+$/, 'STAT answered by the store');
  t.match(await pop3(c, 'XCLIENT ADDR=10.9.9.9'), /^-ERR /, 'XCLIENT after login is no command at the store');
  t.same(await pop3Multi(c, 'CAPA'), ['+OK', 'CAPA', ...STORE_CAPS, '.'], "after login CAPA is the store's");
});

t.test('STLS: rejects same-segment plaintext injection (nothing pipelined behind STLS is executed)', async (t) => {
  const c = await plainClient();
  await c.line();
  // One write: USER, PASS and STAT ride in the same segment as STLS, in cleartext.
  c.send('STLS\r\nUSER alice@example.com\r\nPASS alice-secret\r\nSTAT\r\n');
  t.equal(await c.line(), '+OK Begin TLS negotiation now.');
  await c.startTls(tier.caPem);
  t.equal(await pop3(c, 'PASS alice-secret'), '-ERR No user name given; send USER first.', 'the injected USER was dropped');
  t.equal(await pop3(c, 'STAT'), '-ERR Unknown command, or not valid before login.', 'still not logged in');
});

t.test('USER without a name is refused and forgets the name given before', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'USER alice@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'USER'), '-ERR USER expects a user name.');
  t.equal(await pop3(c, 'PASS alice-secret'), '-ERR No user name given; send USER first.');
});

t.test('STLS is refused on the implicit-TLS listener', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'STLS'), '-ERR TLS is already active.');
});

t.test('USER/PASS: a password with spaces and quotes is the rest of the line', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'user carol@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'pass carol "quoted" \\ secret'), '+OK Logged in.');
});

t.test('AUTH PLAIN: initial response, empty challenge, cancel, bad base64, foreign authzid', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'AUTH PLAIN'), '+ ');
  t.equal(await pop3(c, '*'), '-ERR Authentication cancelled.');
  t.equal(await pop3(c, 'AUTH PLAIN'), '+ ');
  t.equal(await pop3(c, 'not base64!'), '-ERR Invalid SASL response.');
  t.equal(await pop3(c, 'AUTH PLAIN *'), '-ERR Authentication cancelled.', 'cancel as initial response');
  t.equal(await pop3(c, 'AUTH PLAIN a b'), '-ERR AUTH expects a mechanism and an optional initial response.');
  t.equal(await pop3(c, `AUTH PLAIN ${b64('bob@example.com\0alice@example.com\0alice-secret')}`), '-ERR [AUTH] Authorization identity not permitted.');
  t.equal(await pop3(c, 'AUTH PLAIN'), '+ ');
  t.equal(await pop3(c, b64('\0alice@example.com\0alice-secret')), '+OK Logged in.');

  const c2 = await tlsClient();
  await c2.line();
  t.equal(await pop3(c2, `AUTH PLAIN ${b64('alice@example.com\0alice@example.com\0alice-secret')}`), '+OK Logged in.', 'authzid = authcid');
});

t.test('AUTH LOGIN: user name and password challenges; other mechanisms refused', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'AUTH CRAM-MD5'), '-ERR Unsupported authentication mechanism.');
  t.equal(await pop3(c, 'AUTH LOGIN'), `+ ${b64('Username:')}`);
  t.equal(await pop3(c, b64('bob')), `+ ${b64('Password:')}`);
  t.equal(await pop3(c, b64('bob-secret')), '+OK Logged in.', 'unqualified name gets the default domain');

  const c2 = await tlsClient();
  await c2.line();
  t.equal(await pop3(c2, `AUTH LOGIN ${b64('bob@example.com')}`), `+ ${b64('Password:')}`, 'user name as initial response');
  t.equal(await pop3(c2, '*'), '-ERR Authentication cancelled.');
});

t.test('a failed login answers -ERR [AUTH] and the connection stays usable for a retry', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'USER alice@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'PASS wrong'), AUTH_FAILED);
  t.equal(await pop3(c, `AUTH PLAIN ${b64('\0nobody@example.com\0whatever')}`), AUTH_FAILED, 'unknown user looks the same');
  t.equal(await pop3(c, 'USER alice@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'PASS alice-secret'), '+OK Logged in.');
});

t.test('brute force on one connection: closed right after the failure limit', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'USER alice@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'PASS x1'), AUTH_FAILED);
  t.equal(await pop3(c, 'USER alice@example.com'), '+OK Send the password.');
  t.equal(await pop3(c, 'PASS x2'), AUTH_FAILED);
  c.send('USER alice@example.com\r\nPASS x3\r\n');
  t.same(await c.rest(), ['+OK Send the password.', AUTH_FAILED], 'the third answer, then the connection closes');
});

t.test('line limit: a command line of 255 octets with CRLF is read, one more closes; AUTH lines may be longer', async (t) => {
  const atLimit = `USER ${'x'.repeat(253 - 5)}`;
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, atLimit), '+OK Send the password.');
  const c2 = await tlsClient();
  await c2.line();
  c2.send(`${atLimit}x\r\n`);
  t.same(await c2.rest(), ['-ERR Line too long.']);
  const c3 = await tlsClient();
  await c3.line();
  t.equal(await pop3(c3, `AUTH PLAIN ${'A'.repeat(8000)}`), '-ERR Invalid SASL response.', 'an 8 KB AUTH line is read whole');
  c3.send(`AUTH PLAIN ${'A'.repeat(8192)}\r\n`);
  t.same(await c3.rest(), ['-ERR Line too long.'], 'over maxLineBytes');
});

t.test('commands that need a login are refused before it; NOOP politely; APOP and XCLIENT are not offered', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, 'NOOP'), '-ERR NOOP is valid only after login.');
  for (const cmd of ['STAT', 'LIST', 'RETR 1', 'DELE 1', 'UIDL', 'TOP 1 0', 'RSET', 'APOP alice@example.com 0123456789abcdef0123456789abcdef', 'XCLIENT ADDR=10.0.0.1']) {
    t.equal(await pop3(c, cmd), '-ERR Unknown command, or not valid before login.', cmd);
  }
});

t.test('syntax errors get -ERR and the connection stays usable', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.equal(await pop3(c, ''), '-ERR Syntax error.');
  t.equal(await pop3(c, 'US:ER x'), '-ERR Syntax error.');
  t.equal(await pop3(c, 'CAPA x'), '-ERR CAPA takes no arguments.');
  t.equal((await pop3Multi(c, 'CAPA'))[0], '+OK Capability list follows');
});

t.test('too many commands before login: the last answer says so, then the connection closes', async (t) => {
  const c = await tlsClient();
  await c.line();
  for (let i = 0; i < 20; i++) t.equal(await pop3(c, 'NOOP'), '-ERR NOOP is valid only after login.');
  c.send('NOOP\r\n');
  t.same(await c.rest(), ['-ERR Too many commands before login.']);
});

t.test('QUIT before login: +OK and close', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('QUIT\r\n');
  t.same(await c.rest(), ['+OK Logging out.']);
});

t.test('commands pipelined behind PASS reach the store once logged in (PIPELINING)', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('USER bob@example.com\r\nPASS bob-secret\r\nSTAT\r\nQUIT\r\n');
  const lines = await c.rest();
  t.same(lines.slice(0, 2), ['+OK Send the password.', '+OK Logged in.']);
  t.match(lines[2], /^\+OK 3 \d+$/);
  t.equal(lines[3], '+OK Logging out.');
});

t.test("the client's address and Gatehouse's session id reach the store by XCLIENT", async (t) => {
  const logins: string[] = [];
  const onEvent = (msg: unknown): void => {
    const { event, session } = msg as SessionEvent;
    if (event === 'login' && session.protocol === 'pop3') logins.push(session.id);
  };
  diagnostics.subscribe('gatehouse:session', onEvent);
  t.teardown(() => diagnostics.unsubscribe('gatehouse:session', onEvent));
  const c = await tlsClient({ localAddress: '127.0.0.5' });
  await c.line();
  t.equal(await pop3(c, `AUTH PLAIN ${b64('\0alice@example.com\0alice-secret')}`), '+OK Logged in.');
  t.equal(logins.length, 1, 'one login event, with protocol pop3');
  const line = await tier.backends.be1.waitForLog(new RegExp(`pop3-login: Info: Login: .*session=<${logins[0]}>`));
  t.match(line, /user=<alice@example\.com>/);
  t.match(line, /rip=127\.0\.0\.5,/, 'the store saw the client, not Gatehouse (127.0.0.1)');
});
