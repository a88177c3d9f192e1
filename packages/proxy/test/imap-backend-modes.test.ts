// Gatehouse reaches a store in each of the three ways a site may run it: cleartext on a
// trusted network, STARTTLS, or implicit TLS; with a master user or with the user's own
// password. The client's view is the same in every case.
import t from 'tap';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t);
});

const modes = [
  { name: 'be1-plain', tls: 'none', port: 'imapPort', login: 'master' },
  { name: 'be1-implicit', tls: 'implicit', port: 'imapsPort', login: 'master' },
  { name: 'be1-starttls-user', tls: 'starttls', port: 'imapPort', login: 'user' },
  { name: 'be1-implicit-user', tls: 'implicit', port: 'imapsPort', login: 'user' },
] as const;

for (const mode of modes) {
  t.test(`back-end over ${mode.tls} with ${mode.login} login: the client logs in and reads its INBOX`, async (t) => {
    const be = tier.backends.be1;
    await tier.directory.addBackend({
      name: mode.name,
      host: be.host,
      imapPort: be[mode.port],
      tls: mode.tls,
      login: mode.login,
      ...(mode.login === 'master' ? { masterUser: be.masterUser, masterPassword: be.masterPassword } : {}),
    });
    await tier.directory.setUser('alice@example.com', { backend: mode.name });
    t.teardown(() => tier.directory.setUser('alice@example.com', { backend: 'be1' }));
    const c = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
    t.teardown(() => c.close());
    await c.line();
    const login = await c.cmd('a', 'LOGIN alice@example.com alice-secret');
    t.match(login.at(-1), /^a OK \[CAPABILITY IMAP4rev1 [^\]]*\] Logged in\.$/);
    t.notMatch(login.at(-1), /STARTTLS|AUTH=|LOGINDISABLED/);
    const status = await c.cmd('b', 'STATUS INBOX (MESSAGES)');
    t.equal(status[0], '* STATUS INBOX (MESSAGES 3)');
    t.match(status[1], /^b OK /);
  });
}
