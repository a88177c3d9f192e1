/**
 * The tier-wide registry of logged-in sessions, in the directory's Redis, so that any
 * node or `gatehouse who` sees every session of the tier, and the kick channel that tells
 * the owning node to end one.
 *
 * Schema (prefix `gh:` by default; docs/directory.md#sessions):
 *
 *   gh:session:<id>          hash   one logged-in session (SESSION_FIELDS), PEXPIRE ttlMs
 *   gh:node-sessions:<node>  set    the ids of one node's sessions, PEXPIRE ttlMs
 *   gh:node:<node>           hash   the node's last heartbeat and load (NodeStatus), PEXPIRE ttlMs
 *   gh:nodes                 zset   node id → time of its last heartbeat (ms since epoch)
 *   gh:kick                  pub/sub channel of kick requests (JSON)
 *
 * The owning node writes a session when it logs in, refreshes every TTL at each
 * heartbeat (rewriting a session's byte counts and state when they changed, the whole
 * hash when Redis lost it), and deletes it when it ends. A node that
 * dies stops refreshing: its hashes, its index set and its node hash expire within
 * ttlMs, measured by Redis's own clock (no clock skew between nodes matters), and
 * listings skip a node whose hash is gone. The sorted set is only the list of names to
 * look at; entries older than an hour are pruned by any live node's heartbeat.
 *
 * Redis Cluster: every command touches one key (ids and node names carry no hash tag,
 * so records spread over all slots); no MULTI, no script. As for users, the invariant
 * is "the index set ⊇ the live hashes": an id is added to its node's set before its hash
 * is written, and removed after the hash is deleted; listings skip members whose hash is
 * gone. PUBLISH reaches subscribers on every cluster node.
 *
 * Nothing here is awaited on a client's path: the proxy's registrar fires these writes
 * and forgets them (a failure is logged and repaired by the next heartbeat).
 */
import type { Cluster, Redis } from 'ioredis';
import { DirectoryError } from './directory-error.ts';
import type { DirectoryKeys } from './keys.ts';

export const SESSION_STATES = ['pre-auth', 'authenticated', 'idle'] as const;
/** `idle`: an IMAP session inside IDLE (RFC 2177); `pre-auth` is never registered, only counted. */
export type SessionState = (typeof SESSION_STATES)[number];

export interface SessionRecord {
  /** The session id, the `cid` of the logs. */
  readonly id: string;
  /** Normalized user name. */
  readonly user: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly vserver: string;
  readonly protocol: 'imap' | 'pop3';
  /** Negotiated TLS version (`TLSv1.3`), or `none` for a cleartext session. */
  readonly tls: string;
  readonly node: string;
  readonly backend: string;
  /** When the connection was accepted (ISO 8601). */
  readonly since: string;
  /** Last time bytes moved, to the heartbeat's precision (ISO 8601). */
  readonly lastActivity: string;
  /** Bytes received from the client. */
  readonly bytesIn: number;
  /** Bytes sent to the client. */
  readonly bytesOut: number;
  readonly state: SessionState;
}

/** The fields of a session hash that change while it lives: what refresh() rewrites. */
export type SessionFigures = Pick<SessionRecord, 'lastActivity' | 'bytesIn' | 'bytesOut' | 'state'>;

export interface NodeStatus {
  readonly node: string;
  readonly startedAt: string;
  readonly heartbeatAt: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  /** Logged-in sessions now. */
  readonly sessions: number;
  /** Logins since the node started. */
  readonly logins: number;
  /** Over the last heartbeat interval. */
  readonly loginsPerSec: number;
  readonly bytesInPerSec: number;
  readonly bytesOutPerSec: number;
}

export interface SessionFilter {
  readonly user?: string;
  readonly vserver?: string;
  readonly node?: string;
  readonly backend?: string;
  readonly protocol?: 'imap' | 'pop3';
}

/** What a kick request names: one session, or every session of a user. */
export type KickTarget = { readonly session: string } | { readonly user: string };
export type KickRequest = KickTarget & { readonly text?: string };

export interface KickSubscription {
  close(): Promise<void>;
}

export interface SessionRegistryOptions {
  readonly redis: Redis | Cluster;
  readonly keys: DirectoryKeys;
}

export const DEFAULT_HEARTBEAT_MS = 10_000;
export const DEFAULT_SESSION_TTL_MS = 30_000;

/** The order of a session hash's fields (also the columns of `gatehouse who`). */
export const SESSION_FIELDS = [
  'id',
  'user',
  'remoteAddress',
  'remotePort',
  'vserver',
  'protocol',
  'tls',
  'node',
  'backend',
  'since',
  'lastActivity',
  'bytesIn',
  'bytesOut',
  'state',
] as const satisfies readonly (keyof SessionRecord)[];

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PRUNE_NODES_AFTER_MS = 3_600_000;
const BATCH = 500;
const KICK_TEXT = /^[\x20-\x7e]{1,200}$/;

/** The commands the registry uses; ioredis Redis and Cluster both provide them. */
interface Commands {
  hset(key: string, ...fieldValues: (string | number)[]): Promise<number>;
  hgetall(key: string): Promise<Record<string, string>>;
  pexpire(key: string, ms: number): Promise<number>;
  del(key: string): Promise<number>;
  sadd(key: string, ...members: string[]): Promise<number>;
  srem(key: string, ...members: string[]): Promise<number>;
  smembers(key: string): Promise<string[]>;
  zadd(key: string, score: number, member: string): Promise<number>;
  zrem(key: string, member: string): Promise<number>;
  zrange(key: string, start: number, stop: number): Promise<string[]>;
  zremrangebyscore(key: string, min: string | number, max: string | number): Promise<number>;
  publish(channel: string, message: string): Promise<number>;
}

/** Node ids are key parts: printable, no `:`, `*`, `{` or space. Throws ERR_BAD_NAME. */
export function validateNodeId(node: string): string {
  if (typeof node !== 'string' || !NODE_ID.test(node)) {
    throw new DirectoryError('ERR_BAD_NAME', 'node id must be 1..64 characters of [A-Za-z0-9._-], starting with a letter or digit');
  }
  return node;
}

export function validateSessionId(id: string): string {
  if (typeof id !== 'string' || !SESSION_ID.test(id)) throw new DirectoryError('ERR_BAD_NAME', 'session id must be 1..64 characters of [A-Za-z0-9_-]');
  return id;
}

function unavailable(err: unknown, what: string): DirectoryError {
  if (err instanceof DirectoryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DirectoryError('ERR_DIRECTORY_UNAVAILABLE', `${what}: directory unavailable (${message})`, { cause: err });
}

function int(v: string | undefined): number {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

function parseSession(h: Record<string, string>): SessionRecord | null {
  if (h['id'] === undefined || h['user'] === undefined) return null;
  const state = (SESSION_STATES as readonly string[]).includes(h['state'] ?? '') ? (h['state'] as SessionState) : 'authenticated';
  return {
    id: h['id'],
    user: h['user'],
    remoteAddress: h['remoteAddress'] ?? '',
    remotePort: int(h['remotePort']),
    vserver: h['vserver'] ?? '',
    protocol: h['protocol'] === 'pop3' ? 'pop3' : 'imap',
    tls: h['tls'] ?? 'none',
    node: h['node'] ?? '',
    backend: h['backend'] ?? '',
    since: h['since'] ?? '',
    lastActivity: h['lastActivity'] ?? h['since'] ?? '',
    bytesIn: int(h['bytesIn']),
    bytesOut: int(h['bytesOut']),
    state,
  };
}

function parseNode(h: Record<string, string>): NodeStatus | null {
  if (h['node'] === undefined) return null;
  return {
    node: h['node'],
    startedAt: h['startedAt'] ?? '',
    heartbeatAt: h['heartbeatAt'] ?? '',
    heartbeatMs: int(h['heartbeatMs']),
    ttlMs: int(h['ttlMs']),
    sessions: int(h['sessions']),
    logins: int(h['logins']),
    loginsPerSec: int(h['loginsPerSec']),
    bytesInPerSec: int(h['bytesInPerSec']),
    bytesOutPerSec: int(h['bytesOutPerSec']),
  };
}

function fieldsOf(record: object, names: readonly string[]): string[] {
  const out: string[] = [];
  const r = record as Record<string, unknown>;
  for (const f of names) out.push(f, String(r[f]));
  return out;
}

const NODE_FIELDS = ['node', 'startedAt', 'heartbeatAt', 'heartbeatMs', 'ttlMs', 'sessions', 'logins', 'loginsPerSec', 'bytesInPerSec', 'bytesOutPerSec'] as const;

function matches(s: SessionRecord, f: SessionFilter): boolean {
  return (
    (f.user === undefined || s.user === f.user) &&
    (f.vserver === undefined || s.vserver === f.vserver) &&
    (f.node === undefined || s.node === f.node) &&
    (f.backend === undefined || s.backend === f.backend) &&
    (f.protocol === undefined || s.protocol === f.protocol)
  );
}

/** Parses a message of the kick channel; null for anything malformed (never thrown at a subscriber). */
export function parseKickRequest(message: string): KickRequest | null {
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const text = typeof o['text'] === 'string' && KICK_TEXT.test(o['text']) ? { text: o['text'] } : {};
  if (typeof o['session'] === 'string' && SESSION_ID.test(o['session'])) return { session: o['session'], ...text };
  if (typeof o['user'] === 'string' && o['user'].length > 0 && o['user'].length <= 320) return { user: o['user'], ...text };
  return null;
}

export class SessionRegistry {
  readonly keys: DirectoryKeys;
  readonly redis: Redis | Cluster;
  readonly #r: Commands;

  constructor(opts: SessionRegistryOptions) {
    this.redis = opts.redis;
    this.keys = opts.keys;
    this.#r = opts.redis as unknown as Commands;
  }

  /** Writes (or rewrites) one session and refreshes its TTL; its id joins the node's index first. */
  async put(record: SessionRecord, ttlMs: number): Promise<void> {
    validateSessionId(record.id);
    const k = this.keys;
    try {
      const index = k.nodeSessions(validateNodeId(record.node));
      const key = k.session(record.id);
      await Promise.all([
        this.#r.sadd(index, record.id),
        this.#r.pexpire(index, ttlMs),
        this.#r.hset(key, ...fieldsOf(record, SESSION_FIELDS)),
        this.#r.pexpire(key, ttlMs),
      ]);
    } catch (err) {
      throw unavailable(err, `session ${record.id}`);
    }
  }

  /** Removes one session: its hash first, then its id from the node's index. */
  async remove(node: string, id: string): Promise<void> {
    try {
      await this.#r.del(this.keys.session(validateSessionId(id)));
      await this.#r.srem(this.keys.nodeSessions(validateNodeId(node)), id);
    } catch (err) {
      throw unavailable(err, `session ${id}`);
    }
  }

  /**
   * One heartbeat of a node: its status hash, its place in the nodes set, every session
   * it holds rewritten with a fresh TTL. Pass all of the node's sessions: this also
   * repairs writes that failed during a Redis outage. A node that remembers what it
   * wrote sends much less with refresh().
   */
  async heartbeat(status: NodeStatus, sessions: readonly SessionRecord[]): Promise<void> {
    const k = this.keys;
    const node = validateNodeId(status.node);
    const ttlMs = status.ttlMs;
    try {
      await this.#writeNode(status, sessions.map((s) => s.id));
      for (let i = 0; i < sessions.length; i += BATCH) {
        await Promise.all(
          sessions.slice(i, i + BATCH).flatMap((s) => [this.#r.hset(k.session(s.id), ...fieldsOf(s, SESSION_FIELDS)), this.#r.pexpire(k.session(s.id), ttlMs)]),
        );
      }
    } catch (err) {
      throw unavailable(err, `heartbeat of node ${node}`);
    }
  }

  /**
   * The heartbeat of a node that remembers which of its sessions it has written (with
   * put()): the node's status, its place in the nodes set and its index of `ids` as
   * heartbeat() writes them; then, per session, a fresh TTL, preceded by its new figures
   * for the ids in `changed`. An idle session thus costs one short PEXPIRE per heartbeat
   * instead of a whole hash, which matters for a node's memory: the Redis client
   * allocates kilobytes per command (about 5 KB for a PEXPIRE, 10 KB for a whole HSET),
   * and the garbage of whole-record heartbeats kept V8's young generation at its largest.
   *
   * Resolves with the ids whose hash is gone (it expired while Redis was unreachable, or
   * Redis lost its data): the caller writes those again, whole, with put(). A figure
   * write goes before the TTL, so a hash found gone that way keeps its TTL until then.
   */
  async refresh(status: NodeStatus, ids: readonly string[], changed: ReadonlyMap<string, SessionFigures>): Promise<string[]> {
    const k = this.keys;
    const node = validateNodeId(status.node);
    const ttlMs = status.ttlMs;
    const gone: string[] = [];
    try {
      await this.#writeNode(status, ids);
      for (let i = 0; i < ids.length; i += BATCH) {
        const batch = ids.slice(i, i + BATCH);
        // Per id, a reply that tells whether its hash existed: PEXPIRE answers 0 for a
        // missing key, HSET the number of fields it had to create.
        const probes: Promise<number>[] = [];
        const expiries: Promise<number>[] = [];
        for (const id of batch) {
          const key = k.session(id);
          const f = changed.get(id);
          if (f === undefined) {
            probes.push(this.#r.pexpire(key, ttlMs));
          } else {
            probes.push(this.#r.hset(key, 'lastActivity', f.lastActivity, 'bytesIn', f.bytesIn, 'bytesOut', f.bytesOut, 'state', f.state));
            expiries.push(this.#r.pexpire(key, ttlMs));
          }
        }
        const [answers] = await Promise.all([Promise.all(probes), Promise.all(expiries)]);
        for (let j = 0; j < batch.length; j++) {
          const id = batch[j] as string;
          if (changed.has(id) ? answers[j] !== 0 : answers[j] === 0) gone.push(id);
        }
      }
    } catch (err) {
      throw unavailable(err, `heartbeat of node ${node}`);
    }
    return gone;
  }

  /** The node's status hash, its place in the nodes set, its index set holding `ids`; each with a fresh TTL. */
  async #writeNode(status: NodeStatus, ids: readonly string[]): Promise<void> {
    const k = this.keys;
    const node = status.node;
    const ttlMs = status.ttlMs;
    const now = Date.now();
    const ops: Promise<unknown>[] = [
      this.#r.hset(k.node(node), ...fieldsOf(status, NODE_FIELDS)),
      this.#r.pexpire(k.node(node), ttlMs),
      this.#r.zadd(k.nodes, now, node),
      this.#r.zremrangebyscore(k.nodes, '-inf', now - PRUNE_NODES_AFTER_MS),
    ];
    const index = k.nodeSessions(node);
    for (let i = 0; i < ids.length; i += BATCH) ops.push(this.#r.sadd(index, ...ids.slice(i, i + BATCH)));
    ops.push(this.#r.pexpire(index, ttlMs));
    await Promise.all(ops);
  }

  /**
   * Forgets everything a node of this id registered before (a restart: its previous
   * sessions died with the process). Call once before the first heartbeat.
   */
  async clearNode(node: string): Promise<void> {
    const index = this.keys.nodeSessions(validateNodeId(node));
    try {
      const ids = await this.#r.smembers(index);
      for (let i = 0; i < ids.length; i += BATCH) await Promise.all(ids.slice(i, i + BATCH).map((id) => this.#r.del(this.keys.session(id))));
      await this.#r.del(index);
    } catch (err) {
      throw unavailable(err, `node ${node}`);
    }
  }

  /** Removes a node that stops cleanly (its sessions must be removed first). */
  async removeNode(node: string): Promise<void> {
    try {
      await Promise.all([this.#r.del(this.keys.node(validateNodeId(node))), this.#r.del(this.keys.nodeSessions(node)), this.#r.zrem(this.keys.nodes, node)]);
    } catch (err) {
      throw unavailable(err, `node ${node}`);
    }
  }

  /** The live nodes (their heartbeat has not expired), by name. */
  async nodes(): Promise<NodeStatus[]> {
    try {
      const names = await this.#r.zrange(this.keys.nodes, 0, -1);
      const hashes = await Promise.all(names.map((n) => this.#r.hgetall(this.keys.node(n))));
      return hashes
        .map(parseNode)
        .filter((n): n is NodeStatus => n !== null)
        .sort((a, b) => a.node.localeCompare(b.node));
    } catch (err) {
      throw unavailable(err, 'nodes');
    }
  }

  /** The sessions of the tier (of the live nodes), filtered, oldest first. */
  async list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    const nodes = (await this.nodes()).filter((n) => filter.node === undefined || n.node === filter.node);
    const out: SessionRecord[] = [];
    try {
      for (const n of nodes) {
        const ids = await this.#r.smembers(this.keys.nodeSessions(n.node));
        for (let i = 0; i < ids.length; i += BATCH) {
          const hashes = await Promise.all(ids.slice(i, i + BATCH).map((id) => this.#r.hgetall(this.keys.session(id))));
          for (const h of hashes) {
            const s = parseSession(h);
            if (s !== null && matches(s, filter)) out.push(s);
          }
        }
      }
    } catch (err) {
      throw unavailable(err, 'sessions');
    }
    return out.sort((a, b) => a.since.localeCompare(b.since) || a.id.localeCompare(b.id));
  }

  /** One session, or null. */
  async get(id: string): Promise<SessionRecord | null> {
    try {
      return parseSession(await this.#r.hgetall(this.keys.session(validateSessionId(id))));
    } catch (err) {
      throw unavailable(err, `session ${id}`);
    }
  }

  /** Asks every node to end the named sessions. Resolves to the number of nodes that heard it (on a cluster, of the node the publish went to). */
  async kick(request: KickRequest): Promise<number> {
    if ('session' in request) validateSessionId(request.session);
    if (request.text !== undefined && !KICK_TEXT.test(request.text)) throw new DirectoryError('ERR_BAD_NAME', 'kick text must be 1..200 printable ASCII characters');
    try {
      return await this.#r.publish(this.keys.kickChannel, JSON.stringify(request));
    } catch (err) {
      throw unavailable(err, 'kick');
    }
  }

  /**
   * Listens for kick requests on a connection of its own (a subscribed connection can
   * issue no other command). Never throws after it returns: the connection reconnects
   * by itself and subscribes again each time it is ready, so a Redis outage only delays
   * kicks. `onError` receives connection errors.
   */
  subscribeKicks(onKick: (req: KickRequest) => void, onError: (err: Error) => void = () => {}): KickSubscription {
    // A connection of its own, with the same address, credentials and fail-fast options.
    const sub: Redis | Cluster = 'isCluster' in this.redis && this.redis.isCluster ? (this.redis as Cluster).duplicate() : (this.redis as Redis).duplicate();
    const channel = this.keys.kickChannel;
    let closed = false;
    sub.on('error', onError);
    sub.on('ready', () => {
      if (!closed) sub.subscribe(channel).catch((err: unknown) => onError(err as Error));
    });
    sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      const req = parseKickRequest(message);
      if (req !== null) onKick(req);
    });
    sub.connect().catch((err: unknown) => onError(err as Error));
    return {
      async close(): Promise<void> {
        closed = true;
        sub.disconnect();
        await Promise.resolve();
      },
    };
  }
}
