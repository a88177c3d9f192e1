// The live feed against two real nodes sharing one Redis: the snapshot, then the login,
// kick and logout of sessions made on the other node, in order; the token rule on the
// upgrade; a consumer that stops reading is closed with 4008 "slow consumer" while the
// node and the other consumers carry on; a Redis restart is followed by a new snapshot.
import t from 'tap';
import { FEED_CLOSE } from '../src/index.ts';
import { startAdminTier, startExtraNode } from './helpers/admin-tier.ts';
import { FeedClient, type FeedMessage } from './helpers/feed-client.ts';
import { imapLogin, startRedis } from '@gatehouse/testkit';

const sessionsOf = (m: FeedMessage): Array<{ id: string; user: string; node: string }> => m['sessions'] as Array<{ id: string; user: string; node: string }>;

t.test('feed: a consumer on node A gets the snapshot, then the connect, login, kick and logout of sessions on node B, in order', async (t) => {
  const token = 'feed-token';
  const tier = await startAdminTier(t, { token });
  const nodeB = await startExtraNode(t, tier);
  const alice = await imapLogin(tier.imaps, tier.ca, 'alice', 'alice-secret');
  t.teardown(() => alice.socket.destroy());

  await t.rejects(FeedClient.connect(tier.base), { message: 'HTTP 401' }, 'no token: the upgrade is refused');
  await t.rejects(FeedClient.connect(tier.base, { token: 'wrong' }), { message: 'HTTP 401' });
  await t.rejects(FeedClient.connect(tier.base, { token, origin: 'http://evil.example' }), { message: 'HTTP 403' }, 'a page of another origin is refused');

  const feed = await FeedClient.connect(tier.base, { token });
  t.teardown(() => feed.close());
  t.equal(feed.ws.protocol, 'gatehouse-feed.v1');
  const { message: snapshot } = await feed.waitFor((m) => m.type === 'snapshot');
  t.match(snapshot, { type: 'snapshot', node: tier.node.nodeId, total: 1, truncated: false });
  t.match(sessionsOf(snapshot), [{ user: 'alice@example.com', node: tier.node.nodeId, protocol: 'imap', tls: 'TLSv1.3', backend: 'be1', state: 'authenticated' }]);
  t.same(
    (snapshot['nodes'] as Array<{ node: string }>).map((n) => n.node).sort(),
    [tier.node.nodeId, nodeB.node.nodeId].sort(),
    'both nodes',
  );

  // The browser's way: the token as a subprotocol.
  const viaProtocol = await FeedClient.connect(tier.base, { token, viaProtocol: true });
  t.teardown(() => viaProtocol.close());
  t.equal(viaProtocol.ws.protocol, 'gatehouse-feed.v1', 'the token subprotocol is never selected');
  await viaProtocol.waitFor((m) => m.type === 'snapshot');

  // A session on node B: its login, then its logout, reach the consumer on node A.
  const bob = await imapLogin(nodeB.imaps, tier.ca, 'bob', 'bob-secret');
  t.teardown(() => bob.socket.destroy());
  t.equal(bob.lines.at(-1)?.startsWith('a OK'), true);
  const login = await feed.waitFor((m) => m.type === 'login' && (m['session'] as { user: string }).user === 'bob@example.com');
  const session = login.message['session'] as { id: string; node: string; remotePort: number };
  t.match(session, { node: nodeB.node.nodeId, protocol: 'imap', backend: 'be2', remoteAddress: '127.0.0.1', remotePort: bob.socket.localPort, vserver: 'default' });
  const connect = await feed.waitFor((m) => m.type === 'connect' && m['id'] === session.id);
  t.ok(connect.index < login.index, 'the connect before the login');
  t.match(connect.message, { node: nodeB.node.nodeId, remoteAddress: '127.0.0.1', vserver: 'default', protocol: 'imap' });
  bob.send('z LOGOUT');
  await bob.waitClosed();
  const logout = await feed.waitFor((m) => m.type === 'logout' && m['id'] === session.id);
  t.ok(logout.index > login.index, 'the logout after the login');
  t.match(logout.message, { node: nodeB.node.nodeId, user: 'bob@example.com', backend: 'be2', protocol: 'imap' });
  t.match(logout.message['reason'], /^(client-closed|backend-closed)$/);

  // A kick made through node A of a session on node B: kick, then logout with reason kicked.
  const bob2 = await imapLogin(nodeB.imaps, tier.ca, 'bob', 'bob-secret');
  t.teardown(() => bob2.socket.destroy());
  const login2 = await feed.waitFor((m) => m.type === 'login' && (m['session'] as { node: string; user: string }).user === 'bob@example.com', logout.index + 1);
  const id2 = (login2.message['session'] as { id: string }).id;
  const res = await fetch(`${tier.base}/api/v1/sessions/${id2}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
  t.equal(res.status, 202);
  t.equal(await bob2.waitLine(/^\* BYE/), '* BYE Administrator closed the session.');
  const kick = await feed.waitFor((m) => m.type === 'kick' && m['id'] === id2, login2.index);
  const logout2 = await feed.waitFor((m) => m.type === 'logout' && m['id'] === id2, login2.index);
  t.ok(kick.index < logout2.index, 'kick before its logout');
  t.match(logout2.message, { reason: 'kicked', node: nodeB.node.nodeId });

  // Load: each node's figures every loadEventMs (200 ms here), sessions per back-end.
  const load = await feed.waitFor((m) => m.type === 'load' && m['node'] === tier.node.nodeId && m['sessions'] === 1);
  t.match(load.message, { connections: 1, backends: [{ backend: 'be1', sessions: 1 }] });
  await feed.waitFor((m) => m.type === 'load' && m['node'] === nodeB.node.nodeId && m['sessions'] === 0);
  t.equal(tier.admin.feed?.consumers, 2);
});

t.test('feed: a consumer that stops reading is closed with 4008 "slow consumer"; the node and the other consumers carry on', async (t) => {
  const maxBufferedBytes = 256 * 1024;
  const tier = await startAdminTier(t, { feed: { maxBufferedBytes, closeGraceMs: 20_000 }, loadEventMs: 60_000 });
  const slow = await FeedClient.connect(tier.base);
  const healthy = await FeedClient.connect(tier.base);
  t.teardown(() => slow.close());
  t.teardown(() => healthy.close());
  await slow.waitFor((m) => m.type === 'snapshot');
  await healthy.waitFor((m) => m.type === 'snapshot');
  slow.ws.pause(); // stops reading its socket: the server's buffers fill

  // Valid load events of about 10 KiB each, published as a node would, until the slow
  // consumer is dropped (the kernel's socket buffers take a few MiB first).
  const backends = Array.from({ length: 300 }, (_, i) => ({ backend: `backend-${String(i).padStart(4, '0')}`, sessions: i }));
  const redis = tier.directory.redis as unknown as { publish(ch: string, msg: string): Promise<number> };
  let sent = 0;
  for (let batch = 0; batch < 400 && tier.admin.feed?.droppedSlow === 0; batch++) {
    const pubs: Promise<number>[] = [];
    for (let i = 0; i < 50; i++) {
      const ev = { type: 'load', at: new Date().toISOString(), node: 'flood', sessions: sent++, connections: 0, connectionsPerSec: 0, loginsPerSec: 0, bytesInPerSec: 0, bytesOutPerSec: 0, backends };
      pubs.push(redis.publish(tier.directory.keys.eventsChannel, JSON.stringify(ev)));
    }
    await Promise.all(pubs);
    // The healthy consumer keeps up.
    await healthy.waitFor((m) => m.type === 'load' && m['sessions'] === sent - 1);
  }
  t.equal(tier.admin.feed?.droppedSlow, 1, 'the slow consumer was dropped');
  t.ok(sent * 10_000 < 200 * 1024 * 1024, `after ${sent} events`);
  t.equal(tier.admin.feed?.consumers, 1, 'no longer served');
  t.equal(healthy.closed, null, 'the reading consumer stays');

  // Reading again, the slow consumer finds the close frame behind what was queued.
  slow.ws.resume();
  const closed = await slow.waitClosed();
  t.same(closed, FEED_CLOSE.slowConsumer);
  t.same(closed, { code: 4008, reason: 'slow consumer' });
  t.ok(slow.messages.length < sent, 'it missed what did not fit');

  // The node is fine: health, a login, and the remaining consumer sees it.
  t.equal((await fetch(`${tier.base}/health`)).status, 200);
  const alice = await imapLogin(tier.imaps, tier.ca, 'alice', 'alice-secret');
  t.teardown(() => alice.socket.destroy());
  t.match(alice.lines.at(-1), /^a OK/);
  await healthy.waitFor((m) => m.type === 'login' && (m['session'] as { user: string }).user === 'alice@example.com');
});

t.test('feed: a Redis outage is announced, never crashes the node, and is followed by a new snapshot and live events', async (t) => {
  const tier = await startAdminTier(t);
  const feed = await FeedClient.connect(tier.base);
  t.teardown(() => feed.close());
  await feed.waitFor((m) => m.type === 'snapshot');
  const port = tier.redis.port;
  await tier.redis.stop();
  // Generous waits: a loaded 2-core CI box stretches Redis restarts and reconnect back-offs.
  const down = await feed.waitFor((m) => m.type === 'unavailable', 0, 20_000);
  t.match(down.message, { error: { code: 'ERR_DIRECTORY_UNAVAILABLE' } });
  // A consumer that connects meanwhile is told too.
  const late = await FeedClient.connect(tier.base);
  t.teardown(() => late.close());
  await late.waitFor((m) => m.type === 'unavailable', 0, 20_000);

  const again = await startRedis({ port });
  t.teardown(() => again.stop());
  const snap = await feed.waitFor((m) => m.type === 'snapshot', down.index + 1, 20_000);
  t.match(snap.message, { type: 'snapshot' });
  await late.waitFor((m) => m.type === 'snapshot', 0, 20_000);
  t.equal(feed.closed, null);
  // Live events flow again (load events of this node, published after the restart).
  await feed.waitFor((m) => m.type === 'load', snap.index + 1, 20_000);
});
