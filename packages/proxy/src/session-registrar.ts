// Keeps this node's logged-in sessions in the tier-wide registry (SessionRegistry in
// @gatehouse/directory) and carries out kicks sent through Redis. It listens on the
// `gatehouse:session` diagnostics channel, so the sessions know nothing about it, and it
// never makes a client wait for Redis: writes are fired and forgotten (a failure is
// logged once per outage and repaired by the next heartbeat, which rewrites every
// session of the node).
//
// Heartbeat: every heartbeatMs the node rewrites its status (sessions, logins/s,
// bytes/s) and refreshes the TTL (ttlMs) of all its sessions, rewriting the byte counts
// and state of those that changed and, whole, those Redis lost. A node killed without a
// chance to clean up thus disappears from `gatehouse who` within ttlMs (keep ttlMs at
// least two or three heartbeats). Only what changed is sent because the Redis client
// allocates kilobytes per command: rewriting every record at every heartbeat made 33 MB
// of garbage per heartbeat with 2,000 idle sessions, which kept V8's young generation at
// its largest and an idle node's RSS growing (docs/configuration.md#memory).
//
// Live feed: the registrar also publishes this node's tier events (login, logout, kick,
// and its load every loadEventMs) on the events channel (tier-events.ts in
// @gatehouse/directory), fired and forgotten like the writes: every admin listener of
// the tier relays them to its WebSocket consumers.
import diagnostics from 'node:diagnostics_channel';
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_SESSION_TTL_MS,
  SessionRegistry,
  publishTierEvent,
  validateNodeId,
  type Directory,
  type KickRequest,
  type KickSubscription,
  type NodeStatus,
  type SessionRecord,
  type SessionState,
  type TierEvent,
} from '@gatehouse/directory';
import type { Logger } from 'pino';
import { sessionChannel, type SessionEvent, type SessionStats, type SessionView } from './session-events.ts';

export interface SessionRegistrarOptions {
  directory: Directory;
  nodeId: string;
  logger: Logger;
  /** Default 10 s. */
  heartbeatMs?: number;
  /** Default 30 s; at least twice heartbeatMs. */
  ttlMs?: number;
  /** How often the node's load is published for the live feed; default 5 s, 0 turns tier events off. */
  loadEventMs?: number;
  /** Connect events published per second at most (the rest only count in load events); default 50. */
  maxConnectEventsPerSec?: number;
}

export interface SessionRegistrar {
  readonly registry: SessionRegistry;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  /** Writes the heartbeat now (tests, and after a burst of logins). */
  heartbeat(): Promise<void>;
  /** Stops listening and removes this node from the registry (after its sessions ended). */
  close(): Promise<void>;
}

interface Entry {
  readonly view: SessionView;
  /** bytesIn + bytesOut when last looked at, and since when (the record's lastActivity). */
  lastBytes: number;
  lastActivity: number;
  /** Whether Redis holds its record: being written (put in flight), yes, or not (a put failed). */
  stored: 'pending' | 'yes' | 'no';
  /** The figures Redis holds (sentState null: unknown, rewrite them). */
  sentIn: number;
  sentOut: number;
  sentState: SessionState | null;
}

type Figures = Pick<SessionRecord, 'lastActivity' | 'bytesIn' | 'bytesOut' | 'state'>;

/** The login event comes just before the pipe exists, when the session still reads as pre-auth. */
function registeredState(st: SessionStats): SessionState {
  return st.state === 'pre-auth' ? 'authenticated' : st.state;
}

/** The diagnostics channel on which kicks carried out by a registrar are published (for the live feed and metrics). */
export const kickChannelName = 'gatehouse:kick';
const kickChannel = diagnostics.channel(kickChannelName);

export interface KickEvent {
  readonly nodeId: string;
  readonly sessionId: string;
  readonly user: string | null;
}

export async function startSessionRegistrar(opts: SessionRegistrarOptions): Promise<SessionRegistrar> {
  const nodeId = validateNodeId(opts.nodeId);
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const ttlMs = opts.ttlMs ?? Math.max(DEFAULT_SESSION_TTL_MS, 3 * heartbeatMs);
  const loadEventMs = opts.loadEventMs ?? DEFAULT_LOAD_EVENT_MS;
  if (!(heartbeatMs > 0) || ttlMs < 2 * heartbeatMs) throw new RangeError('session registry: ttlMs must be at least twice heartbeatMs');
  const registry = new SessionRegistry({ redis: opts.directory.redis, keys: opts.directory.keys });
  const log = opts.logger.child({ node: nodeId, component: 'session-registry' });
  const live = new Map<string, Entry>();
  /** Sessions that ended while their removal failed: retried at each heartbeat. */
  const pendingRemovals = new Set<string>();
  const inFlight = new Set<Promise<unknown>>();
  const startedAt = new Date().toISOString();
  let logins = 0;
  let loginsAtLastBeat = 0;
  let closedBytesIn = 0;
  let closedBytesOut = 0;
  let lastTotals = { at: Date.now(), bytesIn: 0, bytesOut: 0 };
  let failing = false;
  let closed = false;
  // Live feed figures: open connections (logged in or not), accepts and logins since the last load event.
  let connections = 0;
  let connects = 0;
  // Connect events on the feed: at most maxConnectEventsPerSec per node, the rest only counted.
  const maxConnectEvents = opts.maxConnectEventsPerSec ?? DEFAULT_MAX_CONNECT_EVENTS_PER_SEC;
  let connectBudget = maxConnectEvents;
  const budgetTimer = setInterval(() => {
    connectBudget = maxConnectEvents;
  }, 1000);
  budgetTimer.unref();
  let load = { at: Date.now(), connects: 0, logins: 0, bytesIn: 0, bytesOut: 0 };
  const emit = (ev: TierEvent): void => {
    if (loadEventMs > 0) track(publishTierEvent(opts.directory.redis, opts.directory.keys, ev).then(ok, failed('publish')));
  };

  const failed = (what: string) => (err: unknown) => {
    if (failing) return;
    failing = true;
    log.warn({ error: { code: (err as { code?: string }).code, message: (err as Error).message }, what }, 'registry.write_failed');
  };
  const ok = (): void => {
    if (!failing) return;
    failing = false;
    log.info('registry.write_ok');
  };
  const track = (p: Promise<unknown>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  /** Moves lastActivity to now if bytes moved since the last look. */
  const touch = (e: Entry, st: SessionStats, now: number): void => {
    const bytes = st.bytesIn + st.bytesOut;
    if (bytes !== e.lastBytes) {
      e.lastBytes = bytes;
      e.lastActivity = now;
    }
  };

  const record = (e: Entry, st: SessionStats): SessionRecord => {
    const s = e.view;
    return {
      id: s.id,
      user: s.user ?? '',
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
      vserver: s.vserverName,
      protocol: s.protocol ?? 'imap',
      tls: st.tlsProtocol ?? 'none',
      node: nodeId,
      backend: s.backendName ?? '',
      since: new Date(s.startedAt).toISOString(),
      lastActivity: new Date(e.lastActivity).toISOString(),
      bytesIn: st.bytesIn,
      bytesOut: st.bytesOut,
      state: registeredState(st),
    };
  };

  /**
   * Writes a live session's whole record `r`; resolves true once Redis holds it, false if
   * the write failed (the next heartbeat tries again). Its figures are remembered as sent.
   */
  const write = (e: Entry, r: SessionRecord): Promise<boolean> => {
    e.stored = 'pending';
    return registry.put(r, ttlMs).then(
      () => {
        if (e.stored === 'pending') {
          e.stored = 'yes';
          e.sentIn = r.bytesIn;
          e.sentOut = r.bytesOut;
          e.sentState = r.state;
        }
        ok();
        return true;
      },
      (err: unknown) => {
        e.stored = 'no';
        failed('put')(err);
        return false;
      },
    );
  };

  const store = (e: Entry, now: number): Promise<boolean> => {
    const st = e.view.stats();
    touch(e, st, now);
    return write(e, record(e, st));
  };

  const onSession = (message: unknown): void => {
    const { event, session } = message as SessionEvent;
    if (session.nodeId !== nodeId || closed) return;
    if (event === 'open') {
      connections++;
      connects++;
      if (connectBudget > 0) {
        connectBudget--;
        emit({
          type: 'connect',
          at: new Date().toISOString(),
          id: session.id,
          node: nodeId,
          remoteAddress: session.remoteAddress,
          vserver: session.vserverName,
          protocol: session.protocol ?? 'imap',
        });
      }
    } else if (event === 'close') {
      connections--;
    }
    if (event === 'login') {
      logins++;
      const now = Date.now();
      const e: Entry = { view: session, lastBytes: -1, lastActivity: now, stored: 'pending', sentIn: 0, sentOut: 0, sentState: null };
      live.set(session.id, e);
      const st = session.stats();
      touch(e, st, now);
      const r = record(e, st);
      track(write(e, r));
      emit({ type: 'login', at: new Date(now).toISOString(), session: r });
    } else if (event === 'close') {
      const e = live.get(session.id);
      if (e === undefined) return;
      live.delete(session.id);
      const st = session.stats();
      closedBytesIn += st.bytesIn;
      closedBytesOut += st.bytesOut;
      emit({
        type: 'logout',
        at: new Date().toISOString(),
        id: session.id,
        node: nodeId,
        user: session.user ?? '',
        backend: session.backendName ?? '',
        protocol: session.protocol ?? 'imap',
        reason: session.endReason ?? 'closed',
        bytesIn: st.bytesIn,
        bytesOut: st.bytesOut,
        durationMs: Date.now() - session.startedAt,
      });
      track(
        registry.remove(nodeId, session.id).then(ok, (err: unknown) => {
          pendingRemovals.add(session.id);
          failed('remove')(err);
        }),
      );
    }
  };

  const onKick = (req: KickRequest): void => {
    const text = req.text ?? 'Administrator closed the session.';
    for (const e of live.values()) {
      const s = e.view;
      if ('session' in req ? s.id !== req.session : s.user !== req.user) continue;
      log.info({ cid: s.id, user: s.user }, 'session.kick');
      if (kickChannel.hasSubscribers) kickChannel.publish({ nodeId, sessionId: s.id, user: s.user } satisfies KickEvent);
      emit({ type: 'kick', at: new Date().toISOString(), id: s.id, node: nodeId, user: s.user ?? '' });
      s.kick(text);
    }
  };

  const heartbeat = async (): Promise<void> => {
    const now = Date.now();
    // Sessions whose record Redis holds (refreshed), those of them whose figures changed, and those to write whole.
    const ids: string[] = [];
    const changed = new Map<string, Figures>();
    const rewrite: Entry[] = [];
    let bytesIn = closedBytesIn;
    let bytesOut = closedBytesOut;
    for (const e of live.values()) {
      const st = e.view.stats();
      bytesIn += st.bytesIn;
      bytesOut += st.bytesOut;
      touch(e, st, now);
      if (e.stored === 'pending') continue; // its put is in flight and sets the TTL
      if (e.stored === 'no') {
        rewrite.push(e);
        continue;
      }
      ids.push(e.view.id);
      const state = registeredState(st);
      if (st.bytesIn === e.sentIn && st.bytesOut === e.sentOut && state === e.sentState) continue;
      changed.set(e.view.id, { lastActivity: new Date(e.lastActivity).toISOString(), bytesIn: st.bytesIn, bytesOut: st.bytesOut, state });
      e.sentIn = st.bytesIn;
      e.sentOut = st.bytesOut;
      e.sentState = state;
    }
    const seconds = Math.max(0.001, (now - lastTotals.at) / 1000);
    const status: NodeStatus = {
      node: nodeId,
      startedAt,
      heartbeatAt: new Date(now).toISOString(),
      heartbeatMs,
      ttlMs,
      sessions: live.size,
      logins,
      loginsPerSec: round((logins - loginsAtLastBeat) / seconds),
      bytesInPerSec: Math.round(Math.max(0, bytesIn - lastTotals.bytesIn) / seconds),
      bytesOutPerSec: Math.round(Math.max(0, bytesOut - lastTotals.bytesOut) / seconds),
    };
    loginsAtLastBeat = logins;
    lastTotals = { at: now, bytesIn, bytesOut };
    try {
      for (const id of pendingRemovals) {
        await registry.remove(nodeId, id);
        pendingRemovals.delete(id);
      }
      const gone = await registry.refresh(status, ids, changed);
      for (const id of gone) {
        const e = live.get(id);
        if (e !== undefined && e.stored === 'yes') rewrite.push(e);
      }
      let stored = true;
      for (let i = 0; i < rewrite.length; i += REWRITE_BATCH) {
        // Only sessions still live: one that ended meanwhile was removed, and must stay so.
        const done = await Promise.all(rewrite.slice(i, i + REWRITE_BATCH).flatMap((e) => (live.get(e.view.id) === e && e.stored !== 'pending' ? [store(e, now)] : [])));
        stored &&= done.every(Boolean);
      }
      if (stored) ok();
    } catch (err) {
      // Which figures reached Redis is unknown: the next heartbeat sends them all again.
      for (const e of live.values()) e.sentState = null;
      failed('heartbeat')(err);
    }
  };

  /** The node's load since the last call, for the live feed. */
  const publishLoad = (): void => {
    const now = Date.now();
    let bytesIn = closedBytesIn;
    let bytesOut = closedBytesOut;
    const byBackend = new Map<string, number>();
    for (const e of live.values()) {
      const st = e.view.stats();
      bytesIn += st.bytesIn;
      bytesOut += st.bytesOut;
      const b = e.view.backendName ?? '';
      byBackend.set(b, (byBackend.get(b) ?? 0) + 1);
    }
    const seconds = Math.max(0.001, (now - load.at) / 1000);
    emit({
      type: 'load',
      at: new Date(now).toISOString(),
      node: nodeId,
      sessions: live.size,
      connections: Math.max(0, connections),
      connectionsPerSec: round((connects - load.connects) / seconds),
      loginsPerSec: round((logins - load.logins) / seconds),
      bytesInPerSec: Math.round(Math.max(0, bytesIn - load.bytesIn) / seconds),
      bytesOutPerSec: Math.round(Math.max(0, bytesOut - load.bytesOut) / seconds),
      backends: [...byBackend].sort((a, b) => a[0].localeCompare(b[0])).map(([backend, n]) => ({ backend, sessions: n })),
    });
    load = { at: now, connects, logins, bytesIn, bytesOut };
  };

  // A node restarted under the same id: its previous sessions died with the process.
  await registry.clearNode(nodeId).catch(failed('clear'));
  diagnostics.subscribe(sessionChannel.name, onSession);
  const kicks: KickSubscription = registry.subscribeKicks(onKick, (err) => failed('kick subscription')(err));
  await heartbeat();
  let beating: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (beating !== null) return; // a slow Redis: never two heartbeats at once
    beating = heartbeat().finally(() => (beating = null));
  }, heartbeatMs);
  timer.unref();
  const loadTimer = loadEventMs > 0 ? setInterval(publishLoad, loadEventMs) : null;
  loadTimer?.unref();

  return {
    registry,
    heartbeatMs,
    ttlMs,
    heartbeat,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (loadTimer !== null) clearInterval(loadTimer);
      clearInterval(budgetTimer);
      diagnostics.unsubscribe(sessionChannel.name, onSession);
      await kicks.close();
      await Promise.allSettled([...inFlight, beating]);
      await registry.removeNode(nodeId).catch(failed('remove node'));
    },
  };
}

/** Default interval of the load events of the live feed. */
export const DEFAULT_LOAD_EVENT_MS = 5_000;
export const DEFAULT_MAX_CONNECT_EVENTS_PER_SEC = 50;
/** Whole records written at once by a heartbeat that repairs (after an outage). */
const REWRITE_BATCH = 500;

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
