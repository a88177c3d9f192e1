// Every wait has an end: a client that never logs in, never finishes its TLS handshake,
// or goes silent after login is closed with a BYE it can read (where the protocol allows).
import t from 'tap';
import net from 'node:net';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  // authTimeoutMs leaves room for a login (scrypt, the store) on a loaded machine: the idle test logs in first.
  tier = await startTier(t, { limits: { authTimeoutMs: 1500, tlsHandshakeTimeoutMs: 300, sessionIdleTimeoutMs: 600 } });
});

t.test('a client that never logs in is closed with a BYE after the auth timeout', async (t) => {
  const c = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => c.close());
  await c.line();
  t.same(await c.cmd('a', 'NOOP'), ['a OK NOOP completed.']);
  t.same(await c.rest(), ['* BYE Autologout; authentication timed out.']);
});

async function closedWithoutData(port: number, first?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      if (first) s.write(first);
    });
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

t.test('implicit TLS: a client that never sends a ClientHello is dropped after the handshake timeout', async (t) => {
  t.equal(await closedWithoutData(tier.imapsPort), '');
});

t.test('STARTTLS: a client that never starts the handshake is dropped after the handshake timeout', async (t) => {
  const got = await new Promise<string>((resolve, reject) => {
    let text = '';
    const s = net.connect({ host: '127.0.0.1', port: tier.imapPort });
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n') && !text.includes('a OK')) s.write('a STARTTLS\r\n');
    });
    s.on('close', () => resolve(text));
    s.on('error', reject);
  });
  t.match(got, /a OK Begin TLS negotiation now\.\r\n$/);
});

t.test('after login, a session idle in both directions past the idle timeout gets a BYE and is closed', async (t) => {
  const c = await RawClient.connect(tier.imapsPort, { tls: true, caPem: tier.caPem });
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.cmd('a', 'LOGIN alice@example.com alice-secret')).at(-1), /^a OK /);
  t.same(await c.rest(), ['* BYE Autologout; idle for too long.']);
});
