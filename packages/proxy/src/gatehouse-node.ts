// A running Gatehouse node: the listeners of every virtual server and the sessions they
// accepted. Holds no state that another node would need: users, back-ends and routes
// live in the directory.
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { hostname } from 'node:os';
import type { Directory } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { ImapSession, type ImapSessionDeps } from './imap-session.ts';
import { Pop3Session, type Pop3SessionDeps } from './pop3-session.ts';
import type { ImapListenerSpec, VirtualServer } from './virtual-server.ts';
import { decisionLogFields, startAccessGate, type AccessGate, type NamedDecision } from './access-gate.ts';
import type { ReverseDnsOptions } from './reverse-dns.ts';
import { AccessPolicy } from '@gatehouse/policy';
import { normalizeAddress, type ClientEndpoint } from './address.ts';
import { readProxyHeader } from './proxy-header.ts';
import { publishAccessDenied } from './proxy-events.ts';
import { startVserverPolicies, type VserverPolicies } from './vserver-policy-loader.ts';
import { ConnectionCounter, type ConnectionLimitHit } from './connection-counter.ts';
import { SniContexts, defaultContextOptions, type VirtualServerTls } from './sni-contexts.ts';
import { AuthThrottle, defaultAuthThrottle, type AuthThrottleOptions } from './auth-throttle.ts';

export interface GatehouseNodeOptions {
  vservers: VirtualServer[];
  directory: Directory;
  logger: Logger;
  nodeId?: string;
  /** How often each virtual server's access rules are re-read from the directory (default 500 ms). */
  accessRefreshMs?: number;
  /** Resolver and cache of the domain access rules (config `dns`; default: the system resolver, 2 s, docs/configuration.md). */
  dns?: ReverseDnsOptions;
  /** How often each virtual server's policy (gh:vserver:<name>) is re-read (default: accessRefreshMs, else 500 ms). */
  policyRefreshMs?: number;
  /** The tier-wide limit on failed logins per client address (config `authThrottle`; default defaultAuthThrottle). */
  authThrottle?: AuthThrottleOptions;
}

export interface BoundListener {
  vserver: string;
  listener: string;
  protocol: 'imap' | 'pop3';
  tls: ImapListenerSpec['tls'];
  /** Expects a PROXY protocol header. */
  proxyProtocol?: boolean;
  host: string;
  port: number;
}

export interface GatehouseNode {
  readonly nodeId: string;
  listeners(): BoundListener[];
  sessions(): ReadonlySet<ImapSession | Pop3Session>;
  /** Re-reads the access rules and virtual server policies now instead of at the next refresh (tests, admin tools). */
  refreshAccess(): Promise<void>;
  /**
   * Applies a new set of virtual servers (a config reload) to new connections: listeners
   * opened, closed or replaced, certificates swapped for the next handshakes, the new
   * banner, limits and default domain. Established sessions keep their sockets and the
   * settings they started with. Throws, changing nothing, when a certificate does not
   * load; a listener that cannot be bound is reported in `failed` and the rest applies.
   */
  reload(vservers: VirtualServer[]): Promise<ReloadReport>;
  /** Stops accepting, ends every session (IMAP with a BYE; POP3 by closing) and waits for them to close. */
  close(): Promise<void>;
}

/** What a reload changed. A replaced listener (same name, new settings) is in both `closed` and `opened`. */
export interface ReloadReport {
  opened: BoundListener[];
  closed: BoundListener[];
  /** Listeners that could not be bound (address in use, not local…); they stay closed until a later reload. */
  failed: Array<{ vserver: string; listener: string; protocol: 'imap' | 'pop3'; host: string; port: number; code: string; message: string }>;
  /** Virtual servers whose certificates changed. */
  certificatesReloaded: string[];
  vserversAdded: string[];
  vserversRemoved: string[];
}

export async function startGatehouseNode(opts: GatehouseNodeOptions): Promise<GatehouseNode> {
  const nodeId = opts.nodeId ?? hostname();
  const sessions = new Set<ImapSession | Pop3Session>();
  /** The open listeners by listenerKey(); a reload adds, replaces and removes entries. */
  const bound = new Map<string, ListenerEntry>();
  /** Listeners closed by a reload, until the sessions they accepted have ended. */
  const retired = new Set<Promise<void>>();
  /** The names of the running config's virtual servers. */
  let vserverNames = new Set(opts.vservers.map((v) => v.name));
  const log = opts.logger.child({ node: nodeId });
  // Built before anything starts: an exempt network that does not parse throws here.
  const throttle = new AuthThrottle(opts.directory, opts.authThrottle ?? defaultAuthThrottle, log);
  // The certificates of each virtual server by name, shared by its implicit-TLS listeners,
  // the PROXY path and STARTTLS/STLS. Looked up at each handshake, so a reload reaches
  // even a session accepted before it that starts TLS after it. Entries of a removed
  // virtual server stay: its pre-login sessions may still ask for STARTTLS.
  const certs = new Map(opts.vservers.map((v) => [v.name, { sni: new SniContexts(v.tls), digest: tlsDigest(v.tls) }]));
  const sniOf = (name: string): SniContexts => (certs.get(name) as { sni: SniContexts }).sni;
  const sniCallbackOf =
    (vserver: string, listener: string) =>
    (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
      const choice = sniOf(vserver).select(servername);
      log.debug({ vserver, listener, servername, certificate: choice.matched ?? 'default' }, 'tls.sni');
      cb(null, choice.context);
    };

  // Connections open per virtual server and client address, for the connection limits.
  const counter = new ConnectionCounter();
  const releases = new WeakMap<ImapSession | Pop3Session, () => void>();
  const onEnd = (s: ImapSession | Pop3Session): void => {
    sessions.delete(s);
    releases.get(s)?.();
  };
  const policies: VserverPolicies = await startVserverPolicies({
    directory: opts.directory,
    vservers: opts.vservers.map((v) => v.name),
    logger: log,
    refreshMs: opts.policyRefreshMs ?? opts.accessRefreshMs,
  });
  // One deps object per listener, shared by its sessions (each session keeps a reference).
  // `vserver` is read through the live policy each time, so a `gatehouse vserver set`
  // reaches the next greeting, login or limit check without a restart.
  const depsOf = (vserver: VirtualServer, listener: ImapListenerSpec): ImapSessionDeps & Pop3SessionDeps => ({
    directory: opts.directory,
    logger: log,
    get vserver(): VirtualServer {
      return policies.effective(vserver);
    },
    listener,
    nodeId,
    get secureContext(): tls.SecureContext {
      return sniOf(vserver.name).defaultContext;
    },
    sniCallback: sniCallbackOf(vserver.name, listener.name),
    throttle,
    onEnd,
  });
  const gate: AccessGate = await startAccessGate({
    directory: opts.directory,
    vservers: opts.vservers.map((v) => v.name),
    logger: log,
    ...(opts.accessRefreshMs === undefined ? {} : { refreshMs: opts.accessRefreshMs }),
    ...(opts.dns === undefined ? {} : { dns: opts.dns }),
  });
  // Sockets waiting for a reverse lookup (domain rules): not sessions yet, destroyed on close.
  const awaiting = new Set<net.Socket>();
  const accept = (
    socket: net.Socket,
    deps: ImapSessionDeps & Pop3SessionDeps,
    isTls: boolean,
    protocol: 'imap' | 'pop3',
    client?: ClientEndpoint,
    resolved?: NamedDecision,
  ): void => {
    // Access rules first, before a greeting or a session: a refused client never gets the
    // chance to send credentials (docs/access.md). Behind a balancer, `client` is the
    // address from its PROXY header.
    const remoteAddress = normalizeAddress(client?.address ?? socket.remoteAddress ?? '');
    const decision = resolved ?? gate.decide(deps.vserver.name, remoteAddress);
    if (decision.action === 'resolve') {
      // Domain rules: the client waits for the forward-confirmed reverse lookup (at most
      // dns.timeoutMs), then comes back here with the answer. It may hang up meanwhile.
      const ignore = (): void => {};
      socket.on('error', ignore);
      awaiting.add(socket);
      void gate.decideByName(deps.vserver.name, remoteAddress).then((named) => {
        awaiting.delete(socket);
        socket.off('error', ignore);
        if (!socket.destroyed) accept(socket, deps, isTls, protocol, client, named);
      });
      return;
    }
    if (decision.action !== 'grant') {
      const reason = decision.action === 'deny' ? 'denied' : 'unavailable';
      refuse(socket, protocol, reason);
      log.info(
        {
          vserver: deps.vserver.name,
          listener: deps.listener.name,
          proto: protocol,
          remoteAddress,
          remotePort: client?.port ?? socket.remotePort,
          rule: decision.rule ?? 'default',
          reason,
          ...decisionLogFields(decision),
        },
        'conn.denied',
      );
      publishAccessDenied({ nodeId, vserver: deps.vserver.name, listener: deps.listener.name, protocol, remoteAddress, reason, rule: decision.rule });
      return;
    }
    // Connection limits next, also before any greeting: counted per node (limits.ts says why).
    const { limits } = deps.vserver;
    const release = counter.acquire(deps.vserver.name, remoteAddress, limits.maxConnections, limits.maxConnectionsPerClient);
    if (typeof release !== 'function') {
      refuseOverLimit(socket, protocol, release);
      log.warn(
        { vserver: deps.vserver.name, listener: deps.listener.name, proto: protocol, remoteAddress, remotePort: client?.port ?? socket.remotePort, reason: release },
        'conn.limited',
      );
      publishAccessDenied({ nodeId, vserver: deps.vserver.name, listener: deps.listener.name, protocol, remoteAddress, reason: release, rule: null });
      return;
    }
    const session = protocol === 'pop3' ? new Pop3Session(socket, deps, isTls, client) : new ImapSession(socket, deps, isTls, client);
    releases.set(session, release);
    sessions.add(session);
    session.start();
  };
  /** A PROXY listener: the header first (from a trusted balancer only), then TLS if implicit, then the usual accept. */
  const acceptProxied = (socket: net.Socket, deps: ImapSessionDeps & Pop3SessionDeps, protocol: 'imap' | 'pop3', trusted: AccessPolicy): void => {
    const where = { vserver: deps.vserver.name, listener: deps.listener.name, proto: protocol, peer: normalizeAddress(socket.remoteAddress ?? '') };
    const drop = (reason: 'proxy-untrusted' | 'proxy-header', extra: Record<string, unknown> = {}): void => {
      socket.destroy();
      log.info({ ...where, reason, ...extra }, 'conn.proxy_refused');
      publishAccessDenied({ nodeId, vserver: deps.vserver.name, listener: deps.listener.name, protocol, remoteAddress: where.peer, reason, rule: null });
    };
    socket.on('error', () => {}); // a reset while the header is awaited; the session adds its own handler
    // A balancer's health check often resets before Node hands the socket over: no peer is
    // left to judge, and logging it as an untrusted peer would mislead an operator.
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    // anchors-proxy.md §8.9: a header is believed only from the configured balancers.
    if (trusted.evaluate(where.peer).action !== 'grant') return drop('proxy-untrusted');
    void readProxyHeader(socket, deps.vserver.limits.proxyHeaderTimeoutMs).then((r) => {
      if (!r.ok) return drop('proxy-header', { code: r.code, why: r.reason });
      const client = r.client ?? { address: where.peer, port: socket.remotePort ?? 0 };
      if (deps.listener.tls !== 'implicit') return accept(socket, deps, false, protocol, client);
      // Implicit TLS begins after the header: the handshake runs here, bounded as on
      // other implicit-TLS listeners. Bytes read past the header were put back (unshift)
      // and are fed to TLS by TLSSocket.
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: deps.secureContext, SNICallback: deps.sniCallback });
      const timer = setTimeout(() => secure.destroy(), deps.vserver.limits.tlsHandshakeTimeoutMs);
      const onError = (err: Error & { code?: string }): void => {
        clearTimeout(timer);
        log.info({ ...where, code: err.code, message: err.message }, 'tls.client_error');
        secure.destroy();
      };
      secure.once('error', onError);
      secure.once('secure', () => {
        clearTimeout(timer);
        secure.off('error', onError);
        accept(secure, deps, true, protocol, client);
      });
    });
  };

  /**
   * Opens one listener. Its connection handler reads `entry.deps` at each accept, so a
   * reload that keeps the listener gives it the new virtual server without a new socket.
   */
  const openListener = async (vserver: VirtualServer, listener: ImapListenerSpec, protocol: 'imap' | 'pop3'): Promise<ListenerEntry> => {
    const trusted = listener.proxyProtocol
      ? new AccessPolicy({ default: 'deny', rules: (listener.trustedProxies ?? []).map((network) => ({ network, action: 'grant' as const })) })
      : null;
    const holder = { deps: depsOf(vserver, listener) };
    const server = trusted
      ? net.createServer((s) => acceptProxied(s, holder.deps, protocol, trusted))
      : listener.tls === 'implicit'
        ? tls.createServer(
            { ...defaultContextOptions(vserver.tls), handshakeTimeout: vserver.limits.tlsHandshakeTimeoutMs, SNICallback: sniCallbackOf(vserver.name, listener.name) },
            (s) => accept(s, holder.deps, true, protocol),
          )
        : net.createServer((s) => accept(s, holder.deps, false, protocol));
    // With a listener attached, Node no longer destroys the socket itself: a client that
    // stalls its handshake would otherwise hold the connection for ever.
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      log.info({ vserver: vserver.name, listener: listener.name, code: err.code, message: err.message }, 'tls.client_error');
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listener.host, port: listener.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err, vserver: vserver.name, listener: listener.name }, 'listener.error'));
    const addr = server.address() as net.AddressInfo;
    const info: BoundListener = {
      vserver: vserver.name,
      listener: listener.name,
      protocol,
      tls: listener.tls,
      ...(listener.proxyProtocol ? { proxyProtocol: true } : {}),
      host: addr.address,
      port: addr.port,
    };
    log.info(info, 'listener.open');
    return { server, info, settings: listenerSettings(vserver, listener, protocol), current: holder };
  };
  /** Stops accepting on a listener; the sessions it accepted keep their sockets. */
  const retire = (key: string, entry: ListenerEntry): void => {
    bound.delete(key);
    const done = new Promise<void>((resolve) => entry.server.close(() => resolve()));
    retired.add(done);
    void done.then(() => retired.delete(done));
    log.info(entry.info, 'listener.close');
  };

  try {
    for (const vserver of opts.vservers) {
      for (const { listener, protocol } of listenerSpecs(vserver)) {
        bound.set(listenerKey(vserver, listener, protocol), await openListener(vserver, listener, protocol));
      }
    }
  } catch (err) {
    for (const b of bound.values()) b.server.close();
    gate.close();
    policies.close();
    throw err;
  }

  let reloading: Promise<unknown> = Promise.resolve();
  /** Set by close(): a reload still running opens nothing more. */
  let stopped = false;
  const reload = async (next: VirtualServer[]): Promise<ReloadReport> => {
    // Every certificate is built before anything changes: a bad one throws and the node
    // keeps running exactly as before.
    const nextCerts = new Map(next.map((v) => [v.name, { sni: new SniContexts(v.tls), digest: tlsDigest(v.tls) }]));
    const report: ReloadReport = { opened: [], closed: [], failed: [], certificatesReloaded: [], vserversAdded: [], vserversRemoved: [] };
    const names = new Set(next.map((v) => v.name));
    report.vserversAdded = [...names].filter((n) => !vserverNames.has(n));
    report.vserversRemoved = [...vserverNames].filter((n) => !names.has(n));
    vserverNames = names;
    for (const [name, c] of nextCerts) {
      const old = certs.get(name);
      if (old !== undefined && old.digest !== c.digest) report.certificatesReloaded.push(name);
      if (old?.digest !== c.digest) certs.set(name, c);
    }
    // Rules and policy of an added virtual server are read before its listeners open, so
    // its first clients are not refused as "unavailable".
    policies.follow([...names]);
    await Promise.all([gate.follow([...names]), policies.refresh()]);

    const wanted = new Map<string, { vserver: VirtualServer; listener: ImapListenerSpec; protocol: 'imap' | 'pop3' }>();
    for (const vserver of next) for (const spec of listenerSpecs(vserver)) wanted.set(listenerKey(vserver, spec.listener, spec.protocol), { vserver, ...spec });
    // Closed first, so a listener replaced on the same address can bind it again.
    for (const [key, entry] of [...bound]) {
      const w = wanted.get(key);
      if (w !== undefined && listenerSettings(w.vserver, w.listener, w.protocol) === entry.settings) continue;
      retire(key, entry);
      report.closed.push(entry.info);
    }
    for (const [key, { vserver, listener, protocol }] of wanted) {
      if (stopped) break;
      const kept = bound.get(key);
      if (kept !== undefined) {
        kept.current.deps = depsOf(vserver, listener);
        if (report.certificatesReloaded.includes(vserver.name) && kept.server instanceof tls.Server) kept.server.setSecureContext(defaultContextOptions(vserver.tls));
        continue;
      }
      try {
        const entry = await openListener(vserver, listener, protocol);
        if (stopped) {
          entry.server.close();
          break;
        }
        bound.set(key, entry);
        report.opened.push(entry.info);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        report.failed.push({ vserver: vserver.name, listener: listener.name, protocol, host: listener.host, port: listener.port, code: e.code ?? 'ERR_LISTEN', message: e.message });
        log.error({ vserver: vserver.name, listener: listener.name, host: listener.host, port: listener.port, code: e.code, message: e.message }, 'listener.error');
      }
    }
    return report;
  };

  return {
    nodeId,
    listeners: () => [...bound.values()].map((b) => b.info),
    sessions: () => sessions,
    refreshAccess: async () => {
      await Promise.all([gate.refresh(), policies.refresh()]);
    },
    reload(next) {
      const run = reloading.then(() => reload(next));
      reloading = run.catch(() => {});
      return run;
    },
    async close(): Promise<void> {
      stopped = true;
      gate.close();
      policies.close();
      const closing = [...bound.values()].map((b) => new Promise<void>((resolve) => b.server.close(() => resolve())));
      for (const s of sessions) s.kick('Server shutting down.');
      for (const s of awaiting) s.destroy();
      await Promise.all([...closing, ...retired]);
    },
  };
}

/** The one line a refused client reads, then the close (grace as after any pre-login BYE). */
const REFUSALS = {
  imap: { denied: '* BYE [CONTACTADMIN] Access denied.\r\n', unavailable: '* BYE [UNAVAILABLE] Access rules unavailable; try again later.\r\n' },
  pop3: { denied: '-ERR Access denied.\r\n', unavailable: '-ERR [SYS/TEMP] Access rules unavailable; try again later.\r\n' },
} as const;

function refuse(socket: net.Socket, protocol: 'imap' | 'pop3', reason: 'denied' | 'unavailable'): void {
  socket.on('error', () => {});
  socket.end(REFUSALS[protocol][reason]);
  setTimeout(() => socket.destroy(), 2000).unref();
}

const OVER_LIMIT = {
  imap: {
    'limit-total': '* BYE [UNAVAILABLE] Too many connections; try again later.\r\n',
    'limit-client': '* BYE [UNAVAILABLE] Too many connections from your address; try again later.\r\n',
  },
  pop3: {
    'limit-total': '-ERR [SYS/TEMP] Too many connections; try again later.\r\n',
    'limit-client': '-ERR [SYS/TEMP] Too many connections from your address; try again later.\r\n',
  },
} as const;

function refuseOverLimit(socket: net.Socket, protocol: 'imap' | 'pop3', hit: ConnectionLimitHit): void {
  socket.on('error', () => {});
  socket.end(OVER_LIMIT[protocol][hit]);
  setTimeout(() => socket.destroy(), 2000).unref();
}

interface ListenerEntry {
  server: net.Server;
  info: BoundListener;
  /** listenerSettings() when opened: a reload replaces the listener when they differ. */
  settings: string;
  /** The deps its next connections get; a reload swaps them in place. */
  current: { deps: ImapSessionDeps & Pop3SessionDeps };
}

function listenerSpecs(v: VirtualServer): Array<{ listener: ImapListenerSpec; protocol: 'imap' | 'pop3' }> {
  return [
    ...v.imapListeners.map((listener) => ({ listener, protocol: 'imap' as const })),
    ...(v.pop3Listeners ?? []).map((listener) => ({ listener, protocol: 'pop3' as const })),
  ];
}

function listenerKey(v: VirtualServer, l: ImapListenerSpec, protocol: 'imap' | 'pop3'): string {
  return `${v.name}/${protocol}/${l.name}`;
}

/**
 * What a listener's socket was made with: a change needs a new socket. The handshake
 * timeout of an implicit-TLS server is fixed when it is created, so it counts too.
 */
function listenerSettings(v: VirtualServer, l: ImapListenerSpec, protocol: 'imap' | 'pop3'): string {
  const fixedHandshake = l.tls === 'implicit' && l.proxyProtocol !== true ? v.limits.tlsHandshakeTimeoutMs : null;
  return JSON.stringify([protocol, l.host, l.port, l.tls, l.allowPlaintextAuth, l.proxyProtocol === true, l.trustedProxies ?? [], fixedHandshake]);
}

/** Identifies a virtual server's TLS material, to tell whether a reload changed it. */
function tlsDigest(t: VirtualServerTls): string {
  const h = createHash('sha256');
  for (const part of [t.cert, t.key, ...(t.sni ?? []).flatMap((e) => [e.cert, e.key, JSON.stringify(e.names ?? null)])]) {
    h.update(part);
    h.update('\0');
  }
  return h.digest('hex');
}
