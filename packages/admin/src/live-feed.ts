// The live feed of the admin listener: a WebSocket (`GET /api/v1/feed`, ws) on which a
// dashboard receives a snapshot of the tier (sessions and nodes from the registry, the
// recent load) and then, as they happen anywhere in the tier, logins, logouts, kicks
// and each node's load. docs/admin-feed.md describes the protocol.
//
// Tier-wide: the events come from Redis pub/sub (each node's registrar publishes its
// own; tier-events.ts in @gatehouse/directory), not from this process's diagnostics
// channels, so every admin listener shows every node. One subscription per listener,
// whatever the number of consumers; each event is parsed and serialized once.
//
// Bounded memory per consumer (the threat: a dashboard on a stalled network, or a
// deliberately unread socket, would otherwise make the node buffer events forever).
// Before each send the consumer's `ws.bufferedAmount` (bytes queued in the socket and in
// ws's sender) is checked against maxBufferedBytes; a consumer over the cap is closed with
// code 4008 "slow consumer" and forcibly dropped closeGraceMs later if it does not read
// the close frame either. Events that arrive while a consumer's snapshot is being read are
// queued under the same cap.
//
// Redis outages: the subscription reconnects by itself; consumers are told
// (`unavailable`) when it drops and receive a fresh snapshot once it is back, since
// pub/sub keeps no backlog of what they missed. Nothing here throws into the node.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { SessionRegistry, subscribeTierEvents, type Directory, type LoadTierEvent, type TierEvent, type TierEventSubscription } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';

export interface LiveFeedOptions {
  /** Bytes a consumer may have queued before it is dropped; default 4 MiB. */
  maxBufferedBytes?: number;
  /** Concurrent consumers per admin listener; more are refused with HTTP 503; default 100. */
  maxConsumers?: number;
  /** Sessions in a snapshot at most (the oldest first; `truncated` tells); default 10 000. */
  maxSnapshotSessions?: number;
  /** Load events kept for the snapshot's `load` history; default 15 minutes. */
  loadHistoryMs?: number;
  /** WebSocket ping interval; a consumer that has not answered the previous ping is dropped; default 30 s. */
  pingMs?: number;
  /** How long a consumer closed by the server may take to read the close frame; default 5 s. */
  closeGraceMs?: number;
}

export const FEED_PATH = '/api/v1/feed';
/** The subprotocol the server selects. */
export const FEED_PROTOCOL = 'gatehouse-feed.v1';
/**
 * Browsers cannot set an Authorization header on a WebSocket: they offer the token as a
 * second subprotocol, `base64url.bearer.gatehouse.<token in base64url>` (the scheme
 * Kubernetes uses), which the server never selects, so it is not echoed back.
 */
export const FEED_TOKEN_PROTOCOL_PREFIX = 'base64url.bearer.gatehouse.';

/** Close codes and reasons the server sends (docs/admin-feed.md). */
export const FEED_CLOSE = {
  slowConsumer: { code: 4008, reason: 'slow consumer' },
  shutdown: { code: 1001, reason: 'server shutting down' },
  pingTimeout: { code: 4000, reason: 'ping timeout' },
} as const;

const DEFAULTS = {
  maxBufferedBytes: 4 * 1024 * 1024,
  maxConsumers: 100,
  maxSnapshotSessions: 10_000,
  loadHistoryMs: 15 * 60_000,
  pingMs: 30_000,
  closeGraceMs: 5_000,
} as const;
/** Load events kept at most, whatever the number of nodes (15 min of 5 s events from 80 nodes). */
const MAX_LOAD_HISTORY = 15_000;

interface Consumer {
  readonly ws: WebSocket;
  readonly remoteAddress: string;
  /** False while a snapshot is being read: events queue in `pending` meanwhile. */
  ready: boolean;
  pending: string[];
  pendingBytes: number;
  /** Snapshot generation: only the latest snapshot read is sent. */
  generation: number;
  alive: boolean;
  closing: boolean;
}

export interface LiveFeedDeps {
  server: http.Server;
  directory: Directory;
  nodeId: string;
  logger: Logger;
  /** The admin listener's token check: the Authorization header, or a token taken from the subprotocols. */
  authorized(req: http.IncomingMessage, token?: string): boolean;
}

export class LiveFeed {
  readonly #deps: LiveFeedDeps;
  readonly #opts: Required<LiveFeedOptions>;
  readonly #registry: SessionRegistry;
  readonly #log: Logger;
  readonly #wss: WebSocketServer;
  readonly #consumers = new Set<Consumer>();
  readonly #loadHistory: LoadTierEvent[] = [];
  readonly #subscription: TierEventSubscription;
  readonly #pingTimer: NodeJS.Timeout;
  #closed = false;
  /** Consumers dropped for being too slow, since start. */
  droppedSlow = 0;

  constructor(deps: LiveFeedDeps, opts: LiveFeedOptions = {}) {
    this.#deps = deps;
    this.#opts = { ...DEFAULTS, ...opts };
    this.#registry = new SessionRegistry({ redis: deps.directory.redis, keys: deps.directory.keys });
    this.#log = deps.logger.child({ component: 'feed' });
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      // Consumers only read; anything they send is ignored, and kept small.
      maxPayload: 1024,
      handleProtocols: (protocols) => (protocols.has(FEED_PROTOCOL) ? FEED_PROTOCOL : false),
    });
    deps.server.on('upgrade', this.#onUpgrade);
    this.#subscription = subscribeTierEvents(deps.directory.redis, deps.directory.keys, {
      onEvent: (ev, json) => this.#onEvent(ev, json),
      onReady: () => {
        this.#log.info('feed.subscribed');
        // Whatever happened while unsubscribed is unknown: everyone starts again from the registry.
        for (const c of this.#consumers) this.#snapshot(c);
      },
      onDown: (err) => {
        this.#log.warn({ error: err === null ? null : { code: (err as { code?: string }).code, message: err.message } }, 'feed.unsubscribed');
        this.#broadcast(JSON.stringify({ type: 'unavailable', at: new Date().toISOString(), error: { code: 'ERR_DIRECTORY_UNAVAILABLE', message: 'the directory is unreachable; a new snapshot follows when it is back' } }));
      },
    });
    this.#pingTimer = setInterval(() => this.#ping(), this.#opts.pingMs);
    this.#pingTimer.unref();
  }

  get consumers(): number {
    return this.#consumers.size;
  }

  /** Closes every consumer (1001) and stops listening. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pingTimer);
    this.#deps.server.off('upgrade', this.#onUpgrade);
    for (const c of this.#consumers) this.#drop(c, FEED_CLOSE.shutdown, 200);
    await this.#subscription.close();
  }

  readonly #onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    if (path !== FEED_PATH) return reject(socket, 404, 'Not Found');
    if (this.#closed) return reject(socket, 503, 'Service Unavailable');
    // A web page elsewhere must not read the feed through the administrator's browser
    // (WebSockets are not subject to CORS; this matters most on a token-less loopback
    // listener). Non-browser clients send no Origin.
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host)) return reject(socket, 403, 'Forbidden');
    if (!this.#deps.authorized(req, tokenFromProtocols(req))) return reject(socket, 401, 'Unauthorized', 'WWW-Authenticate: Bearer realm="gatehouse"\r\n');
    if (this.#consumers.size >= this.#opts.maxConsumers) return reject(socket, 503, 'Service Unavailable');
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#attach(ws, req));
  };

  #attach(ws: WebSocket, req: http.IncomingMessage): void {
    const c: Consumer = { ws, remoteAddress: req.socket.remoteAddress ?? '', ready: false, pending: [], pendingBytes: 0, generation: 0, alive: true, closing: false };
    this.#consumers.add(c);
    ws.on('error', () => {});
    ws.on('pong', () => (c.alive = true));
    ws.on('close', () => {
      this.#consumers.delete(c);
      c.pending = [];
    });
    this.#log.info({ remoteAddress: c.remoteAddress, consumers: this.#consumers.size }, 'feed.connect');
    this.#snapshot(c);
  }

  /** Reads the registry and sends the snapshot, then what queued meanwhile. */
  #snapshot(c: Consumer): void {
    const generation = ++c.generation;
    c.ready = false;
    const read = async (): Promise<string> => {
      const [sessions, nodes] = await Promise.all([this.#registry.list(), this.#registry.nodes()]);
      const max = this.#opts.maxSnapshotSessions;
      this.#trimLoad(Date.now());
      return JSON.stringify({
        type: 'snapshot',
        at: new Date().toISOString(),
        node: this.#deps.nodeId,
        total: sessions.length,
        truncated: sessions.length > max,
        sessions: sessions.length > max ? sessions.slice(0, max) : sessions,
        nodes,
        load: this.#loadHistory,
      });
    };
    read()
      .catch((err: unknown) => {
        const e = err as { code?: string; message?: string };
        return JSON.stringify({ type: 'unavailable', at: new Date().toISOString(), error: { code: e.code ?? 'ERR_DIRECTORY_UNAVAILABLE', message: e.message ?? String(err) } });
      })
      .then((json) => {
        if (generation !== c.generation || c.closing || c.ws.readyState !== WebSocket.OPEN) return;
        c.ready = true;
        const pending = c.pending;
        c.pending = [];
        c.pendingBytes = 0;
        this.#send(c, json);
        for (const p of pending) this.#send(c, p);
      })
      .catch((err: unknown) => this.#log.error({ err }, 'feed.error'));
  }

  #onEvent(ev: TierEvent, json: string): void {
    if (ev.type === 'load') {
      this.#loadHistory.push(ev);
      this.#trimLoad(Date.now());
    }
    this.#broadcast(json);
  }

  #trimLoad(now: number): void {
    const h = this.#loadHistory;
    const oldest = new Date(now - this.#opts.loadHistoryMs).toISOString();
    let drop = Math.max(0, h.length - MAX_LOAD_HISTORY);
    while (drop < h.length && (h[drop] as LoadTierEvent).at < oldest) drop++;
    if (drop > 0) h.splice(0, drop);
  }

  #broadcast(json: string): void {
    for (const c of this.#consumers) {
      if (c.closing) continue;
      if (c.ready) {
        this.#send(c, json);
      } else if (c.pendingBytes + json.length > this.#opts.maxBufferedBytes) {
        this.#slow(c, c.pendingBytes);
      } else {
        c.pending.push(json);
        c.pendingBytes += json.length;
      }
    }
  }

  #send(c: Consumer, json: string): void {
    if (c.closing || c.ws.readyState !== WebSocket.OPEN) return;
    const buffered = c.ws.bufferedAmount;
    // A snapshot may exceed the cap by itself: only what is already queued is held against it.
    if (buffered > 0 && buffered + json.length > this.#opts.maxBufferedBytes) return this.#slow(c, buffered);
    c.ws.send(json);
  }

  #slow(c: Consumer, bufferedBytes: number): void {
    this.droppedSlow++;
    this.#log.warn({ remoteAddress: c.remoteAddress, bufferedBytes, maxBufferedBytes: this.#opts.maxBufferedBytes }, 'feed.slow_consumer');
    this.#drop(c, FEED_CLOSE.slowConsumer, this.#opts.closeGraceMs);
  }

  #drop(c: Consumer, how: { code: number; reason: string }, graceMs: number): void {
    if (c.closing) return;
    c.closing = true;
    c.pending = [];
    c.pendingBytes = 0;
    this.#consumers.delete(c);
    try {
      c.ws.close(how.code, how.reason);
    } catch {
      // already closing
    }
    setTimeout(() => c.ws.terminate(), graceMs).unref();
  }

  #ping(): void {
    for (const c of this.#consumers) {
      if (!c.alive) {
        this.#drop(c, FEED_CLOSE.pingTimeout, 0);
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}

function reject(socket: Duplex, status: number, text: string, extraHeaders = ''): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extraHeaders}\r\n`);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** The bearer token a browser offered as a subprotocol, if any. */
export function tokenFromProtocols(req: http.IncomingMessage): string | undefined {
  const header = req.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return undefined;
  for (const p of header.split(',')) {
    const v = p.trim();
    if (v.startsWith(FEED_TOKEN_PROTOCOL_PREFIX)) return Buffer.from(v.slice(FEED_TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
  }
  return undefined;
}
