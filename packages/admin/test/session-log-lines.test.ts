// One pino line at the start (auth.ok) and one at the end (session.close) of each
// logged-in session, carrying the session registry's fields and the end reason.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { startAdminTier } from './helpers/admin-tier.ts';
import { imapLogin, pop3Login } from '@gatehouse/testkit';

t.test('logs: auth.ok and session.close carry user, client address and port, vserver, protocol, TLS version, node, backend, since, bytes and reason', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const tier = await startAdminTier(t, { logger: pino({ level: 'info' }, sink) });
  const alice = await imapLogin(tier.imaps, tier.ca, 'alice', 'alice-secret');
  const bob = await pop3Login(tier.pop3s, tier.ca, 'bob', 'bob-secret');
  const ports = new Map([
    [alice, alice.socket.localPort],
    [bob, bob.socket.localPort],
  ]);
  alice.send('z LOGOUT');
  await alice.waitClosed();
  bob.send('QUIT');
  await bob.waitClosed();
  const wait = async (pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 100; i++) {
      const hit = lines.find(pred);
      if (hit !== undefined) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no such log line');
  };
  for (const [client, user, proto, backend] of [
    [alice, 'alice@example.com', 'imap', 'be1'],
    [bob, 'bob@example.com', 'pop3', 'be2'],
  ] as const) {
    const common = { node: tier.node.nodeId, proto, vserver: 'default', user, backend, remoteAddress: '127.0.0.1', remotePort: ports.get(client), tlsProtocol: 'TLSv1.3' };
    const start = await wait((l) => l['msg'] === 'auth.ok' && l['user'] === user);
    t.match(start, common, `${proto} start line`);
    t.match(start['since'], /^\d{4}-\d\d-\d\dT/);
    const end = await wait((l) => l['msg'] === 'session.close' && l['user'] === user);
    t.match(end, { ...common, cid: start['cid'], since: start['since'] }, `${proto} end line`);
    t.match(end['reason'], /^(client-closed|backend-closed)$/);
    t.ok((end['bytesIn'] as number) > 0 && (end['bytesOut'] as number) > 0 && typeof end['durationMs'] === 'number');
    t.equal(lines.filter((l) => l['cid'] === start['cid'] && (l['msg'] === 'auth.ok' || l['msg'] === 'session.close')).length, 2, 'one line each');
  }
  t.notOk(lines.some((l) => JSON.stringify(l).includes('alice-secret') || JSON.stringify(l).includes('bob-secret')), 'no password logged');
});
