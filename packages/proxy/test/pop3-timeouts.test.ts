// Every POP3 wait has an end, and none of them writes a line the client did not ask for
// (POP3 has no unsolicited responses; RFC 1939 §3 says an autologout closes the
// connection without a response): a client that never logs in, never finishes its TLS
// handshake, or goes silent after login is simply closed. A node that shuts down closes
// its POP3 sessions the same way, before and after login.
import t from 'tap';
import net from 'node:net';
import { b64, pop3 } from './helpers/pop3.ts';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, { limits: { authTimeoutMs: 1500, tlsHandshakeTimeoutMs: 300, sessionIdleTimeoutMs: 600 } });
});

t.test('a client that never logs in is closed without a word after the auth timeout', async (t) => {
  const c = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => c.close());
  t.equal(await c.line(), '+OK Gatehouse ready.');
  t.equal(await pop3(c, 'NOOP'), '-ERR NOOP is valid only after login.');
  t.same(await c.rest(), []);
});

t.test('implicit TLS: a client that never sends a ClientHello is dropped after the handshake timeout', async (t) => {
  const got = await new Promise<string>((resolve, reject) => {
    let text = '';
    const s = net.connect({ host: '127.0.0.1', port: tier.pop3sPort });
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('close', () => resolve(text));
    s.on('error', reject);
  });
  t.equal(got, '');
});

t.test('STLS: a client that never starts the handshake is dropped after the handshake timeout', async (t) => {
  const got = await new Promise<string>((resolve, reject) => {
    let text = '';
    const s = net.connect({ host: '127.0.0.1', port: tier.pop3Port });
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text === '+OK Gatehouse ready.\r\n') s.write('STLS\r\n');
    });
    s.on('close', () => resolve(text));
    s.on('error', reject);
  });
  t.equal(got, '+OK Gatehouse ready.\r\n+OK Begin TLS negotiation now.\r\n');
});

t.test('after login, a session idle in both directions past the idle timeout is closed without a word', async (t) => {
  const c = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => c.close());
  await c.line();
  t.equal(await pop3(c, `AUTH PLAIN ${b64('\0alice@example.com\0alice-secret')}`), '+OK Logged in.');
  t.match(await pop3(c, 'STAT'), /^\+OK 3 /);
  t.same(await c.rest(), []);
});

t.test('node shutdown closes POP3 sessions before and after login, without a word', async (t) => {
  const before = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => before.close());
  await before.line();
  const after = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => after.close());
  await after.line();
  t.equal(await pop3(after, `AUTH PLAIN ${b64('\0bob@example.com\0bob-secret')}`), '+OK Logged in.');
  await tier.node.close();
  t.same(await before.rest(), []);
  t.same(await after.rest(), []);
});
