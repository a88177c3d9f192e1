// A running Gatehouse node: the listeners of every virtual server and the sessions they
// accepted. Holds no state that another node would need: users, back-ends and routes
// live in the directory.
import net from 'node:net';
import tls from 'node:tls';
import { hostname } from 'node:os';
import type { Directory } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { ImapSession, type ImapSessionDeps } from './imap-session.ts';
import { Pop3Session, type Pop3SessionDeps } from './pop3-session.ts';
import type { ImapListenerSpec, VirtualServer } from './virtual-server.ts';
import { startAccessGate, type AccessGate } from './access-gate.ts';
import { AccessPolicy } from '@gatehouse/policy';
import { normalizeAddress, type ClientEndpoint } from './address.ts';
import { readProxyHeader } from './proxy-header.ts';
import { publishAccessDenied } from './proxy-events.ts';

export interface GatehouseNodeOptions {
  vservers: VirtualServer[];
  directory: Directory;
  logger: Logger;
  nodeId?: string;
  /** How often each virtual server's access rules are re-read from the directory (default 500 ms). */
  accessRefreshMs?: number;
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
  /** Re-reads the access rules now instead of at the next refresh (tests, admin tools). */
  refreshAccess(): Promise<void>;
  /** Stops accepting, ends every session (IMAP with a BYE; POP3 by closing) and waits for them to close. */
  close(): Promise<void>;
}

export async function startGatehouseNode(opts: GatehouseNodeOptions): Promise<GatehouseNode> {
  const nodeId = opts.nodeId ?? hostname();
  const sessions = new Set<ImapSession | Pop3Session>();
  const bound: Array<{ server: net.Server; info: BoundListener }> = [];
  const log = opts.logger.child({ node: nodeId });
  // One TLS context per virtual server, shared by its implicit-TLS listeners and STARTTLS.
  const contexts = new Map(opts.vservers.map((v) => [v, tls.createSecureContext(tlsOptions(v))]));
  const contextOf = (v: VirtualServer): tls.SecureContext => contexts.get(v) as tls.SecureContext;

  const onEnd = (s: ImapSession | Pop3Session): void => {
    sessions.delete(s);
  };
  // One deps object per listener, shared by its sessions (each session keeps a reference).
  const depsOf = (vserver: VirtualServer, listener: ImapListenerSpec): ImapSessionDeps & Pop3SessionDeps => ({
    directory: opts.directory,
    logger: log,
    vserver,
    listener,
    nodeId,
    secureContext: contextOf(vserver),
    onEnd,
  });
  const gate: AccessGate = await startAccessGate({
    directory: opts.directory,
    vservers: opts.vservers.map((v) => v.name),
    logger: log,
    ...(opts.accessRefreshMs === undefined ? {} : { refreshMs: opts.accessRefreshMs }),
  });
  const accept = (socket: net.Socket, deps: ImapSessionDeps & Pop3SessionDeps, isTls: boolean, protocol: 'imap' | 'pop3', client?: ClientEndpoint): void => {
    // Access rules first, before a greeting or a session: a refused client never gets the
    // chance to send credentials (docs/access.md). Behind a balancer, `client` is the
    // address from its PROXY header.
    const remoteAddress = normalizeAddress(client?.address ?? socket.remoteAddress ?? '');
    const decision = gate.decide(deps.vserver.name, remoteAddress);
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
        },
        'conn.denied',
      );
      publishAccessDenied({ nodeId, vserver: deps.vserver.name, listener: deps.listener.name, protocol, remoteAddress, reason, rule: decision.rule });
      return;
    }
    const session = protocol === 'pop3' ? new Pop3Session(socket, deps, isTls, client) : new ImapSession(socket, deps, isTls, client);
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
    // anchors-proxy.md §8.9: a header is believed only from the configured balancers.
    if (trusted.evaluate(where.peer).action !== 'grant') return drop('proxy-untrusted');
    void readProxyHeader(socket, deps.vserver.limits.proxyHeaderTimeoutMs).then((r) => {
      if (!r.ok) return drop('proxy-header', { code: r.code, why: r.reason });
      const client = r.client ?? { address: where.peer, port: socket.remotePort ?? 0 };
      if (deps.listener.tls !== 'implicit') return accept(socket, deps, false, protocol, client);
      // Implicit TLS begins after the header: the handshake runs here, bounded as on
      // other implicit-TLS listeners. Bytes read past the header were put back (unshift)
      // and are fed to TLS by TLSSocket.
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: deps.secureContext });
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

  try {
    for (const vserver of opts.vservers) {
      const specs = [
        ...vserver.imapListeners.map((listener) => ({ listener, protocol: 'imap' as const })),
        ...(vserver.pop3Listeners ?? []).map((listener) => ({ listener, protocol: 'pop3' as const })),
      ];
      for (const { listener, protocol } of specs) {
        const deps = depsOf(vserver, listener);
        const trusted = listener.proxyProtocol
          ? new AccessPolicy({ default: 'deny', rules: (listener.trustedProxies ?? []).map((network) => ({ network, action: 'grant' as const })) })
          : null;
        const server = trusted
          ? net.createServer((s) => acceptProxied(s, deps, protocol, trusted))
          : listener.tls === 'implicit'
            ? tls.createServer({ ...tlsOptions(vserver), handshakeTimeout: vserver.limits.tlsHandshakeTimeoutMs }, (s) =>
                accept(s, deps, true, protocol),
              )
            : net.createServer((s) => accept(s, deps, false, protocol));
        // With a listener attached, Node no longer destroys the socket itself: a client that
        // stalls its handshake would otherwise hold the connection for ever.
        server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
          log.info({ vserver: vserver.name, listener: listener.name, code: err.code, message: err.message }, 'tls.client_error');
          socket.destroy();
        });
        server.on('error', (err) => log.error({ err, vserver: vserver.name, listener: listener.name }, 'listener.error'));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: listener.host, port: listener.port }, () => {
            server.off('error', reject);
            resolve();
          });
        });
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
        bound.push({ server, info });
        log.info(info, 'listener.open');
      }
    }
  } catch (err) {
    for (const b of bound) b.server.close();
    gate.close();
    throw err;
  }

  return {
    nodeId,
    listeners: () => bound.map((b) => b.info),
    sessions: () => sessions,
    refreshAccess: () => gate.refresh(),
    async close(): Promise<void> {
      gate.close();
      const closing = bound.map((b) => new Promise<void>((resolve) => b.server.close(() => resolve())));
      for (const s of sessions) s.kick('Server shutting down.');
      await Promise.all(closing);
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

function tlsOptions(v: VirtualServer): tls.SecureContextOptions {
  return { cert: v.tls.cert, key: v.tls.key, minVersion: 'TLSv1.2' };
}
