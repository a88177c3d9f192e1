// Gatehouse reaches a store's POP3 in each of the three ways a site may run it: cleartext
// on a trusted network, STLS, or implicit TLS; with a master user (SASL PLAIN with an
// authorization identity) or with the user's own password. The client's view is the same.
// A store that locks the maildrop for one POP3 session says [IN-USE] to a second one, and
// Gatehouse relays that code: it is not a wrong password.
import t from 'tap';
import { b64, pop3 } from './helpers/pop3.ts';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  // maxAuthFailures 1: one [IN-USE] that counted as a failed login would close the connection.
  tier = await startTier(t, { limits: { maxAuthFailures: 1 }, dovecotExtraConfig: 'protocol pop3 {\n  pop3_lock_session = yes\n}' });
});

const modes = [
  { name: 'be1-plain', tls: 'none', port: 'pop3Port', login: 'master' },
  { name: 'be1-implicit', tls: 'implicit', port: 'pop3sPort', login: 'master' },
  { name: 'be1-stls', tls: 'starttls', port: 'pop3Port', login: 'master' },
  { name: 'be1-stls-user', tls: 'starttls', port: 'pop3Port', login: 'user' },
  { name: 'be1-implicit-user', tls: 'implicit', port: 'pop3sPort', login: 'user' },
] as const;

for (const mode of modes) {
  t.test(`back-end over ${mode.tls} with ${mode.login} login: the client logs in and reads its maildrop`, async (t) => {
    const be = tier.backends.be1;
    await tier.directory.addBackend({
      name: mode.name,
      host: be.host,
      imapPort: be.imapPort,
      pop3Port: be[mode.port],
      tls: mode.tls,
      login: mode.login,
      ...(mode.login === 'master' ? { masterUser: be.masterUser, masterPassword: be.masterPassword } : {}),
    });
    await tier.directory.setUser('alice@example.com', { backend: mode.name });
    t.teardown(() => tier.directory.setUser('alice@example.com', { backend: 'be1' }));
    const c = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
    await c.line();
    t.equal(await pop3(c, 'USER alice@example.com'), '+OK Send the password.');
    t.equal(await pop3(c, 'PASS alice-secret'), '+OK Logged in.');
    t.match(await pop3(c, 'STAT'), /^\+OK 3 \d+$/);
    c.send('QUIT\r\n');
    t.same(await c.rest(), ['+OK Logging out.'], "the store's goodbye, then the close");
  });
}

t.test('a maildrop locked by another POP3 session: the store\'s [IN-USE] is relayed, not counted as a failed login', async (t) => {
  const first = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => first.close());
  await first.line();
  t.equal(await pop3(first, `AUTH PLAIN ${b64('\0bob@example.com\0bob-secret')}`), '+OK Logged in.');
  const second = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => second.close());
  await second.line();
  // Dovecot waits 10 s for the lock before it answers.
  second.send(`AUTH PLAIN ${b64('\0bob@example.com\0bob-secret')}\r\n`);
  t.equal(await second.line(20_000), '-ERR [IN-USE] Mailbox is locked by another POP3 session.');
  t.equal(await pop3(second, 'NOOP'), '-ERR NOOP is valid only after login.', 'not a failed login: the connection is still open');
  first.send('QUIT\r\n');
  t.same(await first.rest(), ['+OK Logging out.']);
  await tier.backends.be2.waitForLog(/pop3\(bob@example\.com\).*Disconnected: Logged out/);
  t.equal(await pop3(second, `AUTH PLAIN ${b64('\0bob@example.com\0bob-secret')}`), '+OK Logged in.', 'free again after the QUIT');
});
