// Prometheus metrics of one node, fed only by the diagnostics channels the proxy and the
// directory publish (gatehouse:session, gatehouse:auth, gatehouse:backend,
// gatehouse:directory, gatehouse:kick, gatehouse:access): the hot path never touches prom-client. Figures
// that change with every byte (sessions by state, bytes) are read from the live sessions
// when Prometheus scrapes, not counted per chunk. docs/metrics.md lists every series.
import diagnostics from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DirectoryLookupEvent } from '@gatehouse/directory';
import type { AccessDeniedEvent, AuthEvent, BackendConnectEvent, KickEvent, SessionEvent, SessionView } from '@gatehouse/proxy';

export interface GatehouseMetricsOptions {
  /** Count only this node's sessions (several nodes may share a process in tests). */
  nodeId?: string;
  /** Add Node.js process metrics (event-loop lag, heap, GC…); default true. */
  processMetrics?: boolean;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class GatehouseMetrics {
  readonly registry = new Registry();
  readonly #live = new Set<SessionView>();
  readonly #nodeId: string | undefined;
  readonly #subscriptions: Array<[string, (msg: unknown) => void]> = [];
  #closedBytesIn = 0;
  #closedBytesOut = 0;

  readonly connections: Counter<'protocol' | 'vserver'>;
  readonly logins: Counter<'protocol' | 'vserver' | 'backend'>;
  readonly loginFailures: Counter<'protocol' | 'vserver' | 'reason'>;
  readonly authDuration: Histogram<'protocol' | 'result'>;
  readonly backendConnect: Histogram<'backend' | 'protocol' | 'result'>;
  readonly directoryDuration: Histogram<'op'>;
  readonly directoryErrors: Counter<'op' | 'code'>;
  readonly kicks: Counter;
  readonly accessDenied: Counter<'protocol' | 'vserver' | 'reason'>;

  constructor(opts: GatehouseMetricsOptions = {}) {
    this.#nodeId = opts.nodeId;
    const registers = [this.registry];
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    const live = this.#live;
    new Gauge({
      name: 'gatehouse_sessions',
      help: 'Open client connections by state (pre-auth, authenticated, idle in IMAP IDLE), protocol, virtual server and back-end',
      labelNames: ['state', 'protocol', 'vserver', 'backend'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of live) {
          this.inc({ state: s.stats().state, protocol: s.protocol ?? 'imap', vserver: s.vserverName, backend: s.backendName ?? '' });
        }
      },
    });
    // Counters read at scrape time: bytes of ended sessions plus those of live ones, so
    // the total only grows (a live session's socket counters only grow).
    const closedBytes = (): [number, number] => [this.#closedBytesIn, this.#closedBytesOut];
    let reportedIn = 0;
    let reportedOut = 0;
    new Counter({
      name: 'gatehouse_client_bytes_total',
      help: 'Bytes exchanged with clients (direction in: from clients, out: to clients), counted at scrape time',
      labelNames: ['direction'] as const,
      registers,
      collect() {
        let [bytesIn, bytesOut] = closedBytes();
        for (const s of live) {
          const st = s.stats();
          bytesIn += st.bytesIn;
          bytesOut += st.bytesOut;
        }
        if (bytesIn > reportedIn) this.inc({ direction: 'in' }, bytesIn - reportedIn);
        if (bytesOut > reportedOut) this.inc({ direction: 'out' }, bytesOut - reportedOut);
        reportedIn = Math.max(reportedIn, bytesIn);
        reportedOut = Math.max(reportedOut, bytesOut);
      },
    });
    this.connections = new Counter({ name: 'gatehouse_connections_total', help: 'Client connections accepted', labelNames: ['protocol', 'vserver'] as const, registers });
    this.logins = new Counter({ name: 'gatehouse_logins_total', help: 'Successful logins (the store accepted)', labelNames: ['protocol', 'vserver', 'backend'] as const, registers });
    this.loginFailures = new Counter({
      name: 'gatehouse_login_failures_total',
      help: 'Refused or failed logins by reason (bad-password, unknown-user, bad-username, disabled, imap-disabled, pop3-disabled, throttled, unavailable, …)',
      labelNames: ['protocol', 'vserver', 'reason'] as const,
      registers,
    });
    this.authDuration = new Histogram({
      name: 'gatehouse_auth_duration_seconds',
      help: 'From the login command to its answer (directory, password check, back-end login), by result (ok, fail, unavailable)',
      labelNames: ['protocol', 'result'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.backendConnect = new Histogram({
      name: 'gatehouse_backend_connect_duration_seconds',
      help: 'Connecting to a back-end store: TCP, TLS, greeting and capabilities, by result (ok, or the error code)',
      labelNames: ['backend', 'protocol', 'result'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.directoryDuration = new Histogram({
      name: 'gatehouse_directory_duration_seconds',
      help: 'Directory lookups at login (op user: the user record, backend: the back-end record)',
      labelNames: ['op'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.directoryErrors = new Counter({ name: 'gatehouse_directory_errors_total', help: 'Directory lookups that failed, by error code', labelNames: ['op', 'code'] as const, registers });
    this.kicks = new Counter({ name: 'gatehouse_kicks_total', help: 'Sessions ended by an administrator (gatehouse kick, the admin API)', registers });

    this.accessDenied = new Counter({
      name: 'gatehouse_access_denied_total',
      help: 'Connections refused at accept time: by the access rules (reason denied), because the rules could not be read (unavailable), by a PROXY listener (proxy-untrusted, proxy-header) or by the connection limits (limit-total, limit-client)',
      labelNames: ['protocol', 'vserver', 'reason'] as const,
      registers,
    });

    this.#on('gatehouse:session', (msg) => this.#onSession(msg as SessionEvent));
    this.#on('gatehouse:auth', (msg) => this.#onAuth(msg as AuthEvent));
    this.#on('gatehouse:backend', (msg) => {
      const e = msg as BackendConnectEvent;
      this.backendConnect.observe({ backend: e.backend, protocol: e.protocol, result: e.ok ? 'ok' : (e.code ?? 'error') }, e.durationMs / 1000);
    });
    this.#on('gatehouse:directory', (msg) => {
      const e = msg as DirectoryLookupEvent;
      this.directoryDuration.observe({ op: e.op }, e.durationMs / 1000);
      if (!e.ok) this.directoryErrors.inc({ op: e.op, code: e.code ?? 'error' });
    });
    this.#on('gatehouse:access', (msg) => {
      const e = msg as AccessDeniedEvent;
      if (this.#mine(e.nodeId)) this.accessDenied.inc({ protocol: e.protocol, vserver: e.vserver, reason: e.reason });
    });
    this.#on('gatehouse:kick', (msg) => {
      if (this.#mine((msg as KickEvent).nodeId)) this.kicks.inc();
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening to the channels. */
  close(): void {
    for (const [name, fn] of this.#subscriptions) diagnostics.unsubscribe(name, fn);
    this.#subscriptions.length = 0;
    this.#live.clear();
  }

  #on(name: string, fn: (msg: unknown) => void): void {
    diagnostics.subscribe(name, fn);
    this.#subscriptions.push([name, fn]);
  }

  #mine(nodeId: string): boolean {
    return this.#nodeId === undefined || nodeId === this.#nodeId;
  }

  #onSession(e: SessionEvent): void {
    const s = e.session;
    if (!this.#mine(s.nodeId)) return;
    if (e.event === 'open') {
      this.#live.add(s);
      this.connections.inc({ protocol: s.protocol ?? 'imap', vserver: s.vserverName });
    } else if (e.event === 'close' && this.#live.delete(s)) {
      const st = s.stats();
      this.#closedBytesIn += st.bytesIn;
      this.#closedBytesOut += st.bytesOut;
    }
  }

  #onAuth(e: AuthEvent): void {
    const s = e.session;
    if (!this.#mine(s.nodeId)) return;
    const protocol = s.protocol ?? 'imap';
    this.authDuration.observe({ protocol, result: e.result }, e.durationMs / 1000);
    if (e.result === 'ok') this.logins.inc({ protocol, vserver: s.vserverName, backend: s.backendName ?? '' });
    else this.loginFailures.inc({ protocol, vserver: s.vserverName, reason: e.reason });
  }
}
