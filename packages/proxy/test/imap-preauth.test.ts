// What a client sees before login: capabilities, STARTTLS, the plaintext policy, limits,
// and the security cases (STARTTLS injection, over-long input, user-name injection).
import t from 'tap';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, { limits: { maxPreAuthCommands: 20, maxAuthFailures: 3 } });
});

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

async function tlsClient(): Promise<RawClient> {
  const c = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => c.close());
  return c;
}
async function plainClient(): Promise<RawClient> {
  const c = await RawClient.connect(tier.imapPort);
  t.teardown(() => c.close());
  return c;
}

t.test('greeting: implicit TLS offers AUTH=PLAIN, AUTH=LOGIN and SASL-IR, not STARTTLS', async (t) => {
  const c = await tlsClient();
  const greeting = await c.line();
  t.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] Gatehouse ready\.$/);
  t.match(greeting, / AUTH=PLAIN/);
  t.match(greeting, / AUTH=LOGIN/);
  t.match(greeting, / SASL-IR/);
  t.notMatch(greeting, /STARTTLS|LOGINDISABLED/);
  const lines = await c.cmd('a', 'CAPABILITY');
  t.same(lines[1], 'a OK Capability completed.');
  t.match(lines[0], /^\* CAPABILITY IMAP4rev1 .*AUTH=PLAIN/);
});

t.test('cleartext: STARTTLS and LOGINDISABLED advertised, LOGIN refused with PRIVACYREQUIRED, connection still usable', async (t) => {
  const c = await plainClient();
  const greeting = await c.line();
  t.match(greeting, /STARTTLS/);
  t.match(greeting, /LOGINDISABLED/);
  t.notMatch(greeting, /AUTH=/);
  t.same(await c.cmd('a', 'LOGIN alice@example.com alice-secret'), ['a NO [PRIVACYREQUIRED] Use STARTTLS before logging in.']);
  t.same(await c.cmd('b', `AUTHENTICATE PLAIN ${b64('\0alice@example.com\0alice-secret')}`), ['b NO [PRIVACYREQUIRED] Use STARTTLS before logging in.']);
  t.same(await c.cmd('c', 'NOOP'), ['c OK NOOP completed.']);
});

t.test('STARTTLS: after the handshake, capabilities change and login works', async (t) => {
  const c = await plainClient();
  await c.line();
  t.same(await c.cmd('a', 'STARTTLS'), ['a OK Begin TLS negotiation now.']);
  await c.startTls(tier.caPem);
  const caps = await c.cmd('b', 'CAPABILITY');
  t.notMatch(caps[0], /STARTTLS|LOGINDISABLED/);
  t.match(caps[0], /AUTH=PLAIN/);
  t.same(await c.cmd('c', 'STARTTLS'), ['c BAD TLS is already active.']);
  const login = await c.cmd('d', 'LOGIN alice@example.com alice-secret');
  t.match(login.at(-1), /^d OK \[CAPABILITY IMAP4rev1 [^\]]*\] Logged in\.$/);
  t.notMatch(login.at(-1), /AUTH=|STARTTLS|LOGINDISABLED|SASL-IR/);
  const sel = await c.cmd('e', 'SELECT INBOX');
  t.match(sel.at(-1), /^e OK \[READ-WRITE\]/);
});

t.test('STARTTLS: rejects same-segment plaintext injection (the pipelined command is never executed)', async (t) => {
  const c = await plainClient();
  await c.line();
  // One write: the LOGIN rides in the same segment as STARTTLS, in cleartext.
  c.send('a STARTTLS\r\nb LOGIN alice@example.com alice-secret\r\nx NOOP\r\n');
  t.same(await c.line(), 'a OK Begin TLS negotiation now.');
  await c.startTls(tier.caPem);
  const lines = await c.cmd('c', 'NOOP');
  t.same(lines, ['c OK NOOP completed.'], 'no answer to b or x ever arrives');
  // Still not logged in: SELECT is refused by Gatehouse, not answered by a store.
  t.same(await c.cmd('d', 'SELECT INBOX'), ['d BAD Unknown command, or not valid before login.']);
});

t.test('STARTTLS is refused on the implicit-TLS listener', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.same(await c.cmd('a', 'STARTTLS'), ['a BAD TLS is already active.']);
});

t.test('ID: answered by Gatehouse before login', async (t) => {
  const c = await tlsClient();
  await c.line();
  const lines = await c.cmd('a', 'ID ("name" "test-client" "version" "1.0")');
  t.match(lines[0], /^\* ID \("name" "Gatehouse"/);
  t.same(lines[1], 'a OK ID completed.');
  t.same(await c.cmd('b', 'ID NIL'), [lines[0], 'b OK ID completed.']);
  t.same(await c.cmd('c', 'ID ("name")'), ['c BAD Invalid ID parameters.']);
});

t.test('LOGIN with synchronising literals: one "+" per literal, then logged in', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('a LOGIN {17}\r\n');
  t.match(await c.line(), /^\+ /);
  c.send('alice@example.com {12}\r\n');
  t.match(await c.line(), /^\+ /);
  c.send('alice-secret\r\n');
  t.match((await c.until('a')).at(-1), /^a OK \[CAPABILITY /);
});

t.test('LOGIN with LITERAL+ and a quoted password with escapes', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('a LOGIN {17+}\r\ncarol@example.com "carol \\"quoted\\" \\\\ secret"\r\n');
  t.match((await c.until('a')).at(-1), /^a OK \[CAPABILITY /);
});

t.test('AUTHENTICATE PLAIN: with and without an initial response, cancel, bad base64', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('a AUTHENTICATE PLAIN\r\n');
  t.same(await c.line(), '+ ');
  c.send('*\r\n');
  t.same(await c.line(), 'a BAD Authentication cancelled.');
  c.send('b AUTHENTICATE PLAIN\r\n');
  t.same(await c.line(), '+ ');
  c.send('not base64!\r\n');
  t.same(await c.line(), 'b BAD Invalid SASL response.');
  t.same(await c.cmd('c', `AUTHENTICATE PLAIN ${b64('bob@example.com\0alice@example.com\0alice-secret')}`), [
    'c NO [AUTHORIZATIONFAILED] Authorization identity not permitted.',
  ]);
  c.send('d AUTHENTICATE PLAIN\r\n');
  t.same(await c.line(), '+ ');
  c.send(`${b64('\0alice@example.com\0alice-secret')}\r\n`);
  t.match((await c.until('d')).at(-1), /^d OK \[CAPABILITY /);

  const c2 = await tlsClient();
  await c2.line();
  t.match((await c2.cmd('e', `AUTHENTICATE PLAIN ${b64('alice@example.com\0alice@example.com\0alice-secret')}`)).at(-1), /^e OK \[CAPABILITY /);
});

t.test('AUTHENTICATE LOGIN: username and password challenges; unknown mechanisms refused', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.same(await c.cmd('a', 'AUTHENTICATE CRAM-MD5'), ['a NO Unsupported authentication mechanism.']);
  c.send('b AUTHENTICATE LOGIN\r\n');
  t.same(await c.line(), `+ ${b64('Username:')}`);
  c.send(`${b64('bob')}\r\n`);
  t.same(await c.line(), `+ ${b64('Password:')}`);
  c.send(`${b64('bob-secret')}\r\n`);
  t.match((await c.until('b')).at(-1), /^b OK \[CAPABILITY /, 'unqualified name gets the default domain');
});

t.test('a failed login answers AUTHENTICATIONFAILED and the connection stays usable for a retry', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.same(await c.cmd('a', `AUTHENTICATE PLAIN ${b64('\0alice@example.com\0wrong')}`), ['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.same(await c.cmd('b', 'LOGIN nobody@example.com whatever'), ['b NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.match((await c.cmd('c', 'LOGIN alice@example.com alice-secret')).at(-1), /^c OK \[CAPABILITY /);
});

t.test('brute force on one connection: closed after the failure limit', async (t) => {
  const c = await tlsClient();
  await c.line();
  t.same(await c.cmd('a', 'LOGIN alice@example.com x1'), ['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  t.same(await c.cmd('b', 'LOGIN alice@example.com x2'), ['b NO [AUTHENTICATIONFAILED] Authentication failed.']);
  c.send('c LOGIN alice@example.com x3\r\n');
  t.same(await c.rest(), ['c NO [AUTHENTICATIONFAILED] Authentication failed.', '* BYE Too many failed logins.']);
});

t.test('user-name injection: CR/LF, quotes and NUL never log in, never reach a store or a directory key', async (t) => {
  const c = await tlsClient();
  await c.line();
  // A literal may carry CR LF: the name is refused as a whole, nothing after CRLF runs.
  const evil = 'alice@example.com\r\nx LOGOUT';
  c.send(`a LOGIN {${evil.length}+}\r\n${evil} alice-secret\r\n`);
  t.same(await c.line(), 'a NO [AUTHENTICATIONFAILED] Authentication failed.');
  t.same(await c.cmd('b', 'LOGIN "alice\\"@example.com" alice-secret'), ['b NO [AUTHENTICATIONFAILED] Authentication failed.']);
  const nul = 'alice@example.com\0';
  c.send(`c LOGIN {${nul.length}+}\r\n${nul} alice-secret\r\n`);
  t.same(await c.line(), 'c BAD Syntax error.', 'NUL is not a valid literal byte (RFC 9051 CHAR8)');
  t.same(await c.cmd('d', 'NOOP'), ['d OK NOOP completed.']);
  const keys = await tier.directory.redis.keys(`${tier.prefix}*`);
  t.same(
    keys.filter((k) => /[\r\n\0"]/.test(k)),
    [],
    'no directory key holds a control character or a quote',
  );
});

t.test('line limit before login: a line of exactly 8192 bytes is parsed, one byte more closes', async (t) => {
  const head = 'a LOGIN alice@example.com "';
  const atLimit = `${head}${'x'.repeat(8192 - head.length - 1)}"`;
  t.equal(atLimit.length, 8192);
  const c = await tlsClient();
  await c.line();
  t.same(await c.cmd('a', atLimit.slice(2)), ['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  const c2 = await tlsClient();
  await c2.line();
  c2.send(`${head}${'x'.repeat(8192 - head.length)}"\r\n`);
  t.same(await c2.rest(), ['* BYE Line too long.']);
});

t.test('over-sized literal before login: a synchronising one is refused without its bytes, a non-synchronising one closes', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send(`a LOGIN {${64 * 1024 + 1}}\r\n`);
  t.same(await c.line(), 'a BAD [TOOBIG] Literal too large before login.');
  t.same(await c.cmd('b', 'NOOP'), ['b OK NOOP completed.']);
  c.send(`c LOGIN {${64 * 1024 + 1}+}\r\n`);
  t.same(await c.rest(), ['* BYE [TOOBIG] Literal too large before login.']);
});

t.test('commands that need a login are refused before it', async (t) => {
  const c = await tlsClient();
  await c.line();
  for (const cmd of ['SELECT INBOX', 'LIST "" "*"', 'FETCH 1 BODY[]', 'ENABLE IMAP4rev2']) {
    t.same(await c.cmd('a', cmd), ['a BAD Unknown command, or not valid before login.'], cmd);
  }
});

t.test('invalid tags and syntax errors get BAD, the connection stays usable', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('+abc NOOP\r\n');
  t.match(await c.line(), /^\* BAD /);
  c.send('a LOGIN "unterminated\r\n');
  t.match(await c.line(), /^a BAD /);
  t.same(await c.cmd('b', 'NOOP'), ['b OK NOOP completed.']);
});

t.test('too many commands before login: BYE', async (t) => {
  const c = await tlsClient();
  await c.line();
  let lines: string[] = [];
  for (let i = 0; i < 20; i++) lines = await c.cmd(`n${i}`, 'NOOP');
  t.same(lines, ['n19 OK NOOP completed.']);
  c.send('n20 NOOP\r\n');
  t.same(await c.rest(), ['* BYE Too many commands before login.']);
});

t.test('LOGOUT before login: BYE, tagged OK, close', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('a LOGOUT\r\n');
  t.same(await c.rest(), ['* BYE Logging out.', 'a OK Logout completed.']);
});

t.test('commands pipelined behind LOGIN reach the store once logged in', async (t) => {
  const c = await tlsClient();
  await c.line();
  c.send('a LOGIN alice@example.com alice-secret\r\nb SELECT INBOX\r\nc LOGOUT\r\n');
  const lines = await c.rest();
  t.match(lines.find((l) => l.startsWith('a ')), /^a OK \[CAPABILITY /);
  t.match(lines.find((l) => l.startsWith('b ')), /^b OK \[READ-WRITE\]/);
  t.match(lines.find((l) => l.startsWith('c ')), /^c OK /);
  t.ok(lines.includes('* BYE Logging out') || lines.some((l) => l.startsWith('* BYE')), 'the store said BYE');
  t.equal(lines.filter((l) => l.startsWith('* BYE')).length, 1, 'Gatehouse adds no BYE of its own after a clean logout');
});
