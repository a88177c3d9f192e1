// The admin HTTP listener of a node: the tier's sessions (from the Redis session
// registry, so any node answers for the whole tier), kick, nodes, health and readiness,
// /metrics for Prometheus, the live feed (live-feed.ts, a WebSocket) and the web page
// (admin-page.ts). Holds no session state of its own. docs/admin-api.yaml is the OpenAPI
// description of every route, docs/admin-feed.md that of the feed.
//
// Access: loopback by default. A bearer token, when configured, is required on every
// route; a bind to a non-loopback address without a token is refused at start
// (ERR_ADMIN_TOKEN_REQUIRED): the API can end any user's session. The page's static files
// are the only thing served without the token (they hold no data; the page asks for it).
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { SessionRegistry, isDirectoryError, type Directory, type SessionFilter } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { AdminError } from './admin-error.ts';
import { servePage } from './admin-page.ts';
import { LiveFeed, type LiveFeedOptions } from './live-feed.ts';
import type { GatehouseMetrics } from './metrics.ts';

export interface AdminServerOptions {
  host: string;
  port: number;
  /** Bearer token; required when host is not a loopback address. */
  token?: string;
  directory: Directory;
  nodeId: string;
  metrics: GatehouseMetrics;
  logger: Logger;
  /** Extra readiness condition (e.g. the node's listeners are open); default always ready. */
  ready?: () => boolean;
  /** Extra routes tried before the API's (the live feed, the web page). */
  extraRoutes?: AdminRoute[];
  /** The live feed's limits, or false to turn the feed off (docs/admin-feed.md). */
  feed?: LiveFeedOptions | false;
  /** Serve the web page at `/`; default true. */
  page?: boolean;
}

export interface AdminRoute {
  /** Answers the request and returns true, or returns false to let the next route try. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean | Promise<boolean>;
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  readonly server: http.Server;
  /** Checks a request's bearer token (for routes added on the upgrade path). */
  authorized(req: http.IncomingMessage): boolean;
  /** The live feed, null when turned off. */
  readonly feed: LiveFeed | null;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const READY_TIMEOUT_MS = 1000;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host) || /^::ffff:127(?:\.\d{1,3}){3}$/i.test(host);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const token = opts.token === undefined || opts.token === '' ? null : digest(opts.token);
  if (token === null && !isLoopback(opts.host)) {
    throw new AdminError('ERR_ADMIN_TOKEN_REQUIRED', `the admin listener on ${opts.host} is not loopback: set admin.token`);
  }
  const registry = new SessionRegistry({ redis: opts.directory.redis, keys: opts.directory.keys });
  const log = opts.logger.child({ component: 'admin' });

  /** The Authorization header's bearer token, or `offered` (the feed's subprotocol token). */
  const authorized = (req: http.IncomingMessage, offered?: string): boolean => {
    // Without a token only loopback callers reach the listener, but a web page could still
    // make a browser send requests to it under a rebound DNS name: answer only requests
    // addressed to a loopback host (DNS rebinding).
    if (token === null) return loopbackHostHeader(req.headers.host);
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(req.headers.authorization ?? '');
    const given = m?.[1] ?? offered;
    // Compared as digests: constant time whatever the lengths.
    return given !== undefined && timingSafeEqual(digest(given), token);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (opts.page !== false && servePage(req, res, url.pathname)) return;
    if (!authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="gatehouse"');
      throw new AdminError('ERR_UNAUTHORIZED', 'a valid bearer token is required');
    }
    for (const r of opts.extraRoutes ?? []) if (await r.handle(req, res, url)) return;
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const only = (...methods: string[]): void => {
      if (!methods.includes(method)) {
        res.setHeader('Allow', methods.join(', '));
        throw new AdminError('ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
      }
    };
    if (path === '/health') {
      only('GET', 'HEAD');
      return sendJson(res, 200, { status: 'ok', node: opts.nodeId });
    }
    if (path === '/ready') {
      only('GET', 'HEAD');
      const checks = { directory: await directoryReady(opts.directory), node: opts.ready?.() ?? true };
      return sendJson(res, checks.directory && checks.node ? 200 : 503, { ready: checks.directory && checks.node, checks });
    }
    if (path === '/metrics') {
      only('GET');
      res.writeHead(200, { 'Content-Type': opts.metrics.contentType });
      res.end(await opts.metrics.metrics());
      return;
    }
    if (path === '/api/v1/nodes') {
      only('GET');
      return sendJson(res, 200, { nodes: await registry.nodes() });
    }
    if (path === '/api/v1/sessions') {
      only('GET');
      const q = url.searchParams;
      const filter: Record<string, string> = {};
      for (const k of ['user', 'vserver', 'node', 'backend', 'protocol'] as const) {
        const v = q.get(k);
        if (v !== null && v !== '') filter[k] = k === 'user' ? v.toLowerCase() : v;
      }
      const limit = intParam(q.get('limit'), DEFAULT_PAGE, 1, MAX_PAGE, 'limit');
      const offset = intParam(q.get('offset'), 0, 0, Number.MAX_SAFE_INTEGER, 'offset');
      const all = await registry.list(filter as SessionFilter);
      return sendJson(res, 200, { total: all.length, offset, limit, sessions: all.slice(offset, offset + limit) });
    }
    const one = /^\/api\/v1\/sessions\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (one?.[1] !== undefined) {
      only('GET', 'DELETE');
      const session = await registry.get(one[1]);
      if (session === null) throw new AdminError('ERR_NOT_FOUND', `no session ${one[1]}`);
      if (method === 'GET') return sendJson(res, 200, session);
      await registry.kick({ session: session.id });
      log.info({ cid: session.id, user: session.user, node: session.node, remoteAddress: req.socket.remoteAddress }, 'admin.kick');
      return sendJson(res, 202, { kicked: [session.id] });
    }
    if (path === '/api/v1/kick') {
      only('POST');
      const body = await readJson(req);
      const text = typeof body['text'] === 'string' ? { text: body['text'] } : {};
      if (typeof body['session'] === 'string') {
        const session = await registry.get(body['session']);
        if (session === null) throw new AdminError('ERR_NOT_FOUND', `no session ${body['session']}`);
        await registry.kick({ session: session.id, ...text });
        log.info({ cid: session.id, user: session.user, remoteAddress: req.socket.remoteAddress }, 'admin.kick');
        return sendJson(res, 202, { kicked: [session.id] });
      }
      if (typeof body['user'] === 'string' && body['user'] !== '') {
        const user = body['user'].toLowerCase();
        const sessions = await registry.list({ user });
        await registry.kick({ user, ...text });
        log.info({ user, sessions: sessions.length, remoteAddress: req.socket.remoteAddress }, 'admin.kick');
        return sendJson(res, 202, { kicked: sessions.map((s) => s.id) });
      }
      throw new AdminError('ERR_BAD_REQUEST', 'the body must be {"session": ID} or {"user": NAME}, with an optional "text"');
    }
    throw new AdminError('ERR_NOT_FOUND', `no route ${path}`);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = toAdminError(err);
      if (e.status >= 500) log.warn({ error: { code: e.code, message: e.message }, path: req.url }, 'admin.error');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, e.status, { error: { code: e.code, message: e.message } });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'admin.listener_error'));
  const feed = opts.feed === false ? null : new LiveFeed({ server, directory: opts.directory, nodeId: opts.nodeId, logger: opts.logger, authorized }, opts.feed);
  const addr = server.address() as net.AddressInfo;
  log.info({ host: addr.address, port: addr.port, token: token !== null }, 'admin.listen');
  return {
    host: addr.address,
    port: addr.port,
    server,
    authorized: (req) => authorized(req),
    feed,
    close: async () => {
      await feed?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function toAdminError(err: unknown): AdminError {
  if (err instanceof AdminError) return err;
  if (isDirectoryError(err, 'ERR_DIRECTORY_UNAVAILABLE')) return new AdminError('ERR_DIRECTORY_UNAVAILABLE', err.message, { cause: err });
  if (isDirectoryError(err, 'ERR_BAD_NAME')) return new AdminError('ERR_BAD_REQUEST', err.message, { cause: err });
  return new AdminError('ERR_DIRECTORY_UNAVAILABLE', err instanceof Error ? err.message : String(err), { cause: err });
}

function intParam(v: string | null, dflt: number, min: number, max: number, name: string): number {
  if (v === null || v === '') return dflt;
  if (!/^[0-9]{1,16}$/.test(v) || Number(v) < min || Number(v) > max) throw new AdminError('ERR_BAD_REQUEST', `${name} must be an integer ${min}..${max}`);
  return Number(v);
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  // Only application/json: a page elsewhere can POST text/plain across origins without a
  // CORS preflight (a kick by cross-site request on a token-less loopback listener).
  if (!/^application\/json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new AdminError('ERR_BAD_REQUEST', 'the body must be sent as Content-Type: application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdminError('ERR_BAD_REQUEST', `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new AdminError('ERR_BAD_REQUEST', 'the body must be a JSON object');
}

/** Redis answers PING within a second. */
async function directoryReady(directory: Directory): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const ping = (directory.redis as unknown as { ping(): Promise<string> }).ping();
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS);
    });
    return (await Promise.race([ping, timeout])) === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** A Host header naming a loopback address (`localhost`, 127.0.0.0/8, ::1), with or without a port. */
function loopbackHostHeader(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}
