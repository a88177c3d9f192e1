// Tier events (the live feed's pub/sub messages): valid ones round-trip, anything
// malformed, oversized or with unknown fields is dropped or stripped, never thrown.
import t from 'tap';
import { MAX_TIER_EVENT_BYTES, parseTierEvent } from '../src/index.ts';

const session = {
  id: 'AbC123_-xyz0',
  user: 'alice@example.com',
  remoteAddress: '192.0.2.7',
  remotePort: 51544,
  vserver: 'default',
  protocol: 'imap',
  tls: 'TLSv1.3',
  node: 'fe1',
  backend: 'be1',
  since: '2026-11-26T02:39:19.120Z',
  lastActivity: '2026-11-26T02:39:19.120Z',
  bytesIn: 30,
  bytesOut: 486,
  state: 'authenticated',
} as const;
const at = '2026-11-26T02:39:20.000Z';

t.test('parseTierEvent: each type round-trips; unknown fields are stripped', async (t) => {
  const events = [
    { type: 'login', at, session },
    { type: 'logout', at, id: session.id, node: 'fe1', user: session.user, backend: 'be1', protocol: 'pop3', reason: 'kicked', bytesIn: 1, bytesOut: 2, durationMs: 3 },
    { type: 'kick', at, id: session.id, node: 'fe1', user: session.user },
    { type: 'load', at, node: 'fe1', sessions: 2, connections: 3, connectionsPerSec: 0.5, loginsPerSec: 0.2, bytesInPerSec: 10, bytesOutPerSec: 20, backends: [{ backend: 'be1', sessions: 2 }] },
  ];
  for (const ev of events) t.same(parseTierEvent(JSON.stringify(ev)), ev, ev.type);
  t.same(parseTierEvent(JSON.stringify({ ...events[2], extra: '<script>' })), events[2]);
});

t.test('parseTierEvent: malformed, oversized or unknown messages are null', async (t) => {
  const bad = [
    'not json',
    'null',
    '[]',
    JSON.stringify({ type: 'open', at }),
    JSON.stringify({ type: 'kick', id: 'x', node: 'fe1', user: 'u' }),
    JSON.stringify({ type: 'kick', at, id: 'bad id', node: 'fe1', user: 'u' }),
    JSON.stringify({ type: 'kick', at, id: 'x', node: 'fe1:evil', user: 'u' }),
    JSON.stringify({ type: 'login', at, session: { ...session, state: 'weird' } }),
    JSON.stringify({ type: 'login', at, session: { ...session, remotePort: -1 } }),
    JSON.stringify({ type: 'logout', at, id: 'x', node: 'fe1', user: 'u', backend: 'b', protocol: 'smtp', reason: 'r', bytesIn: 0, bytesOut: 0, durationMs: 0 }),
    JSON.stringify({ type: 'load', at, node: 'fe1', sessions: 0, connections: 0, connectionsPerSec: 0, loginsPerSec: 0, bytesInPerSec: 0, bytesOutPerSec: 0, backends: [{ backend: 1 }] }),
    JSON.stringify({ type: 'kick', at, id: 'x', node: 'fe1', user: 'u'.repeat(MAX_TIER_EVENT_BYTES) }),
  ];
  for (const m of bad) t.equal(parseTierEvent(m), null, m.slice(0, 60));
});
