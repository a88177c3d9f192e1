/**
 * Tier events: what the admin live feed shows, carried between nodes over Redis pub/sub
 * on `<prefix>events` (docs/directory.md#tier-events). Each node's session registrar
 * publishes the logins, logouts and kicks of its own sessions and its load every few
 * seconds; every admin listener subscribes, so a dashboard on any node sees the whole
 * tier. Pub/sub keeps no backlog: a subscriber that was cut off re-reads the registry
 * (the feed sends a new snapshot) instead of replaying what it missed.
 *
 * Messages are compact JSON, validated on receipt (a malformed or oversized message is
 * dropped, never thrown at a subscriber). Order: the events of one node are published on
 * one connection, so a subscriber receives them in the order the node published them
 * (a login before its logout); events of different nodes interleave freely.
 */
import type { Cluster, Redis } from 'ioredis';
import { DirectoryError } from './directory-error.ts';
import type { DirectoryKeys } from './keys.ts';
import { SESSION_STATES, type SessionRecord, type SessionState } from './session-registry.ts';

export const TIER_EVENT_TYPES = ['connect', 'login', 'logout', 'kick', 'load'] as const;
export type TierEventType = (typeof TIER_EVENT_TYPES)[number];

/**
 * A client connected (before any login). Each node publishes at most a bounded number per
 * second (the rest only count in its load events), so a connection flood cannot flood Redis.
 */
export interface ConnectTierEvent {
  readonly type: 'connect';
  readonly at: string;
  readonly id: string;
  readonly node: string;
  readonly remoteAddress: string;
  readonly vserver: string;
  readonly protocol: 'imap' | 'pop3';
}

/** A session logged in (its registry record as at login). */
export interface LoginTierEvent {
  readonly type: 'login';
  /** ISO 8601, the publishing node's clock. */
  readonly at: string;
  readonly session: SessionRecord;
}

/** A logged-in session ended. */
export interface LogoutTierEvent {
  readonly type: 'logout';
  readonly at: string;
  readonly id: string;
  readonly node: string;
  readonly user: string;
  readonly backend: string;
  readonly protocol: 'imap' | 'pop3';
  /** The pipe's end reason: client-closed, backend-closed, backend-error, client-error, idle-timeout, kicked. */
  readonly reason: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Since the connection was accepted. */
  readonly durationMs: number;
}

/** A node carried out a kick (the logout follows). */
export interface KickTierEvent {
  readonly type: 'kick';
  readonly at: string;
  readonly id: string;
  readonly node: string;
  readonly user: string;
}

/** One node's load over its last load interval. */
export interface LoadTierEvent {
  readonly type: 'load';
  readonly at: string;
  readonly node: string;
  /** Logged-in sessions now. */
  readonly sessions: number;
  /** Open client connections now, logged in or not. */
  readonly connections: number;
  readonly connectionsPerSec: number;
  readonly loginsPerSec: number;
  readonly bytesInPerSec: number;
  readonly bytesOutPerSec: number;
  /** Logged-in sessions per back-end on this node (back-ends with none are left out). */
  readonly backends: readonly { readonly backend: string; readonly sessions: number }[];
}

export type TierEvent = ConnectTierEvent | LoginTierEvent | LogoutTierEvent | KickTierEvent | LoadTierEvent;

export interface TierEventSubscription {
  close(): Promise<void>;
}

export interface TierEventHandlers {
  /** A validated event, and its JSON as it will be relayed (re-serialized: nothing unknown passes). */
  onEvent(event: TierEvent, json: string): void;
  /** The subscription is (again) in place: after the first connect and after each reconnect. */
  onReady?(): void;
  /** The subscription's connection failed or closed; it reconnects by itself. */
  onDown?(err: Error | null): void;
}

/** Larger messages are dropped unread (a load event of a node with many back-ends stays far below). */
export const MAX_TIER_EVENT_BYTES = 64 * 1024;
const MAX_BACKENDS_PER_LOAD = 1000;

const str = (v: unknown, max = 320): v is string => typeof v === 'string' && v.length <= max;
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const NODE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function parseSessionRecord(v: unknown): SessionRecord | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!str(o['id']) || !ID.test(o['id']) || !str(o['node']) || !NODE.test(o['node']) || !str(o['user'])) return null;
  if (!str(o['remoteAddress'], 64) || !num(o['remotePort']) || !str(o['vserver']) || !str(o['tls'], 32) || !str(o['backend'])) return null;
  if (!str(o['since'], 40) || !str(o['lastActivity'], 40) || !num(o['bytesIn']) || !num(o['bytesOut'])) return null;
  if (o['protocol'] !== 'imap' && o['protocol'] !== 'pop3') return null;
  if (!(SESSION_STATES as readonly unknown[]).includes(o['state'])) return null;
  return {
    id: o['id'],
    user: o['user'],
    remoteAddress: o['remoteAddress'],
    remotePort: o['remotePort'],
    vserver: o['vserver'],
    protocol: o['protocol'],
    tls: o['tls'],
    node: o['node'],
    backend: o['backend'],
    since: o['since'],
    lastActivity: o['lastActivity'],
    bytesIn: o['bytesIn'],
    bytesOut: o['bytesOut'],
    state: o['state'] as SessionState,
  };
}

/** Parses one message of the events channel; null for anything malformed. */
export function parseTierEvent(message: string): TierEvent | null {
  if (message.length > MAX_TIER_EVENT_BYTES) return null;
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const at = o['at'];
  if (!str(at, 40)) return null;
  switch (o['type']) {
    case 'connect': {
      const { id, node, remoteAddress, vserver, protocol } = o;
      if (!str(id) || !ID.test(id) || !str(node) || !NODE.test(node) || !str(remoteAddress, 64) || !str(vserver, 64)) return null;
      if (protocol !== 'imap' && protocol !== 'pop3') return null;
      return { type: 'connect', at, id, node, remoteAddress, vserver, protocol };
    }
    case 'login': {
      const session = parseSessionRecord(o['session']);
      return session === null ? null : { type: 'login', at, session };
    }
    case 'logout': {
      const { id, node, user, backend, protocol, reason, bytesIn, bytesOut, durationMs } = o;
      if (!str(id) || !ID.test(id) || !str(node) || !NODE.test(node) || !str(user) || !str(backend) || !str(reason, 64)) return null;
      if ((protocol !== 'imap' && protocol !== 'pop3') || !num(bytesIn) || !num(bytesOut) || !num(durationMs)) return null;
      return { type: 'logout', at, id, node, user, backend, protocol, reason, bytesIn, bytesOut, durationMs };
    }
    case 'kick': {
      const { id, node, user } = o;
      if (!str(id) || !ID.test(id) || !str(node) || !NODE.test(node) || !str(user)) return null;
      return { type: 'kick', at, id, node, user };
    }
    case 'load': {
      const { node, sessions, connections, connectionsPerSec, loginsPerSec, bytesInPerSec, bytesOutPerSec, backends } = o;
      if (!str(node) || !NODE.test(node) || !num(sessions) || !num(connections) || !num(connectionsPerSec) || !num(loginsPerSec)) return null;
      if (!num(bytesInPerSec) || !num(bytesOutPerSec) || !Array.isArray(backends) || backends.length > MAX_BACKENDS_PER_LOAD) return null;
      const list: { backend: string; sessions: number }[] = [];
      for (const b of backends as unknown[]) {
        if (typeof b !== 'object' || b === null) return null;
        const { backend, sessions: n } = b as Record<string, unknown>;
        if (!str(backend, 64) || !num(n)) return null;
        list.push({ backend, sessions: n });
      }
      return { type: 'load', at, node, sessions, connections, connectionsPerSec, loginsPerSec, bytesInPerSec, bytesOutPerSec, backends: list };
    }
    default:
      return null;
  }
}

/** Publishes one event of this node (fire and forget on the caller's side; rejects with ERR_DIRECTORY_UNAVAILABLE). */
export async function publishTierEvent(redis: Redis | Cluster, keys: DirectoryKeys, event: TierEvent): Promise<number> {
  try {
    return await (redis as unknown as { publish(channel: string, message: string): Promise<number> }).publish(keys.eventsChannel, JSON.stringify(event));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new DirectoryError('ERR_DIRECTORY_UNAVAILABLE', `tier event: directory unavailable (${message})`, { cause: err });
  }
}

/**
 * Listens to the events channel on a connection of its own (a subscribed connection can
 * issue no other command). Never throws after it returns: the connection reconnects by
 * itself (ioredis's retry strategy) and subscribes again each time it is ready, calling
 * `onReady`; `onDown` tells that events may be missed until then.
 */
export function subscribeTierEvents(redis: Redis | Cluster, keys: DirectoryKeys, handlers: TierEventHandlers): TierEventSubscription {
  const sub: Redis | Cluster = 'isCluster' in redis && redis.isCluster ? (redis as Cluster).duplicate() : (redis as Redis).duplicate();
  const channel = keys.eventsChannel;
  let closed = false;
  let up = false;
  const down = (err: Error | null): void => {
    if (closed || !up) return;
    up = false;
    handlers.onDown?.(err);
  };
  sub.on('error', (err: Error) => down(err));
  sub.on('close', () => down(null));
  sub.on('ready', () => {
    if (closed) return;
    sub.subscribe(channel).then(
      () => {
        if (closed) return;
        up = true;
        handlers.onReady?.();
      },
      (err: unknown) => down(err as Error),
    );
  });
  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel || closed) return;
    const ev = parseTierEvent(message);
    if (ev !== null) handlers.onEvent(ev, JSON.stringify(ev));
  });
  sub.connect().catch(() => {
    // Reported by the 'error' listener; the connection keeps retrying.
  });
  return {
    async close(): Promise<void> {
      closed = true;
      sub.disconnect();
      await Promise.resolve();
    },
  };
}
