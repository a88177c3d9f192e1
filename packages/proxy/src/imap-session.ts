// One client connection from accept to the switch to the pipe: the pre-login state
// machine of RFC 9051 §3.1 (not authenticated) run by Gatehouse itself. The socket's
// side (pull-mode reads, STARTTLS, close, the hand-off to the pipe) is ClientConnection's;
// this class holds the IMAP: the greeting, the commands, the replies and the login.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type net from 'node:net';
import type tls from 'node:tls';
import { ImapCommandReader, filterPostLoginCapabilities, type ImapReaderEvent } from '@gatehouse/protocol';
import type { Directory } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { BackendConnection } from './backend-connection.ts';
import { ClientConnection } from './client-connection.ts';
import { accountRefusal, decideLogin, errInfo, type AccountRefusal } from './login-decision.ts';
import { preAuthCommands, saslMechanisms } from './imap-commands/index.ts';
import type { PreAuthContext } from './pre-auth-context.ts';
import { startLoginPipe } from './login-pipe.ts';
import { imapNotices, type PipeHandle } from './session-pipe.ts';
import type { ImapListenerSpec, VirtualServer } from './virtual-server.ts';
import { publishSession, type SessionStats } from './session-events.ts';
import { publishAuth, timedBackendConnect } from './proxy-events.ts';
import { normalizeAddress, type ClientEndpoint } from './address.ts';
import { SessionLog } from './session-log.ts';
import type { AuthThrottle } from './auth-throttle.ts';

export interface ImapSessionDeps {
  directory: Directory;
  logger: Logger;
  vserver: VirtualServer;
  listener: ImapListenerSpec;
  nodeId: string;
  secureContext: tls.SecureContext;
  /** Picks the certificate by the client's SNI name after STARTTLS (absent: always secureContext). */
  sniCallback?: tls.TlsOptions['SNICallback'];
  /** The tier-wide failed-login limit per client address (absent: none). */
  throttle?: AuthThrottle;
  onEnd: (session: ImapSession) => void;
}

type State = 'not-authenticated' | 'logging-in' | 'piped' | 'closed';

export class ImapSession implements PreAuthContext {
  readonly id = randomBytes(9).toString('base64url');
  readonly startedAt = Date.now();
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Where the client connected: the PROXY header's destination, else this node's socket. */
  readonly localAddress: string;
  readonly localPort: number;
  user: string | null = null;
  backendName: string | null = null;
  /** The pipe's end reason, set before `close` is published (SessionView). */
  endReason: string | null = null;
  private readonly deps: ImapSessionDeps;
  private readonly log: SessionLog;
  private readonly conn: ClientConnection<ImapReaderEvent>;
  private state: State = 'not-authenticated';
  private commandCount = 0;
  private authFailures = 0;
  private pipe: PipeHandle | null = null;
  private clientId: string | null = null;
  private ended = false;
  /** When the current login command started (0: none yet), for the auth latency metric. */
  private loginStartedAt = 0;

  /** `client`: the real client named by a PROXY protocol header, when the listener takes one. */
  constructor(socket: net.Socket, deps: ImapSessionDeps, isTls: boolean, client?: ClientEndpoint) {
    this.deps = deps;
    this.remoteAddress = normalizeAddress(client?.address ?? socket.remoteAddress ?? '');
    this.remotePort = client?.port ?? socket.remotePort ?? 0;
    // Behind a balancer the client connected to the balancer's address, not to this
    // node's socket: the store gets that one (ID x-connected-ip).
    this.localAddress = normalizeAddress(client?.destination?.address ?? socket.localAddress ?? '');
    this.localPort = client?.destination?.port ?? socket.localPort ?? 0;
    const limits = deps.vserver.limits;
    const reader = new ImapCommandReader({
      maxLineBytes: limits.maxLineBytes,
      maxLiteralBytes: limits.maxLiteralBytes,
      // A LOGIN holds two literals: let both reach the literal limit.
      maxCommandBytes: Math.max(256 * 1024, 2 * limits.maxLiteralBytes + limits.maxLineBytes),
    });
    this.log = new SessionLog(deps.logger, {
      cid: this.id,
      proto: 'imap',
      vserver: deps.vserver.name,
      listener: deps.listener.name,
      remoteAddress: this.remoteAddress,
    });
    this.conn = new ClientConnection({ socket, isTls, reader, log: this.log, startedAt: this.startedAt, onClosed: () => this.onClosed() });
  }

  start(): void {
    this.log.info({ remotePort: this.remotePort, tls: this.isTls }, 'conn.open');
    publishSession({ event: 'open', session: this });
    this.conn.start(this.deps.vserver.limits.authTimeoutMs, () => this.bye('Autologout; authentication timed out.', 'auth-timeout'));
    this.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.deps.vserver.banner}\r\n`);
    this.run().catch((err: unknown) => {
      this.log.error({ err }, 'session.error');
      this.bye('Internal error.', 'internal-error');
    });
  }

  get isTls(): boolean {
    return this.conn.isTls;
  }

  get nodeId(): string {
    return this.deps.nodeId;
  }

  get vserverName(): string {
    return this.deps.vserver.name;
  }

  /** For the session registry and metrics (SessionView): read from the socket when asked. */
  stats(): SessionStats {
    return this.conn.stats(this.pipe === null ? 'pre-auth' : this.pipe.idling ? 'idle' : 'authenticated');
  }

  /** Ends the session with a BYE the client can read (kick, shutdown). */
  kick(text = 'Administrator closed the session.'): void {
    if (this.pipe) this.pipe.close(text);
    else this.bye(text, 'kicked');
  }

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'LITERAL+', 'ID'];
    const cleartext = !this.isTls;
    if (cleartext && this.deps.listener.tls === 'starttls') caps.push('STARTTLS');
    if (cleartext && !this.deps.listener.allowPlaintextAuth) {
      caps.push('LOGINDISABLED');
    } else {
      caps.push('SASL-IR', ...saslMechanisms.map((m) => `AUTH=${m}`));
    }
    return caps;
  }

  write(text: string): void {
    this.conn.write(text);
  }

  setClientId(params: Map<string, string>): void {
    const name = params.get('name');
    const version = params.get('version');
    this.clientId = name === undefined ? null : version === undefined ? name : `${name} ${version}`;
  }

  async readLine(): Promise<Buffer | null> {
    const ev = await this.conn.nextLine();
    if (ev === null) return null;
    if (ev.type === 'line') return ev.line;
    if (ev.type === 'error') this.readerError(ev);
    return null;
  }

  logout(tag: string): void {
    this.write(`* BYE Logging out.\r\n${tag} OK Logout completed.\r\n`);
    this.conn.close('logout');
  }

  /** RFC 9051 §6.2.1: what was pipelined in cleartext is dropped (ClientConnection.startTls). */
  startTls(tag: string): Promise<void> {
    return this.conn.startTls(`${tag} OK Begin TLS negotiation now.\r\n`, {
      secureContext: this.deps.secureContext,
      SNICallback: this.deps.sniCallback,
      handshakeTimeoutMs: this.deps.vserver.limits.tlsHandshakeTimeoutMs,
    });
  }

  async login(tag: string, rawUser: string, password: string): Promise<void> {
    this.state = 'logging-in';
    this.loginStartedAt = Date.now();
    const { directory, vserver, throttle } = this.deps;
    // Before the password is checked: a throttled address costs no hash and learns nothing.
    const throttled = (await throttle?.check(this.remoteAddress)) ?? null;
    if (throttled !== null) {
      this.log.warn({ failures: throttled, windowMs: throttle?.options.windowMs }, 'auth.throttled');
      return this.loginFailed(tag, 'throttled', undefined, 'UNAVAILABLE', 'Too many failed logins from your address; try again later.');
    }
    const decision = await decideLogin(directory, vserver, 'imap', rawUser, password, this.log, this.remoteAddress);
    switch (decision.kind) {
      case 'bad-credentials':
        await throttle?.fail(this.remoteAddress);
        return this.loginFailed(tag, decision.reason, decision.user, 'AUTHENTICATIONFAILED', 'Authentication failed.');
      case 'account-refused': {
        const r = imapRefusals[decision.reason];
        return this.loginFailed(tag, decision.reason, decision.user, r.code, r.text);
      }
      case 'unavailable':
        return this.loginUnavailable(tag, unavailableTexts[decision.cause]);
      case 'proceed':
        break;
    }
    const { user, backend, credentials: creds } = decision;
    const log = this.log.child({ user: user.name, backend: backend.name });
    const limits = vserver.limits;
    let store: BackendConnection;
    try {
      store = await timedBackendConnect(
        backend.name,
        'imap',
        BackendConnection.connect(
          { name: backend.name, host: backend.host, port: backend.imapPort, tls: backend.tls, tlsVerify: backend.tlsVerify },
          { connectTimeoutMs: limits.backendConnectTimeoutMs, responseTimeoutMs: limits.backendResponseTimeoutMs },
        ),
      );
    } catch (err) {
      log.error({ error: errInfo(err) }, 'backend.connect_failed');
      return this.loginUnavailable(tag, 'Your mail store is unavailable; try again later.');
    }
    let outcome: Awaited<ReturnType<BackendConnection['login']>>;
    try {
      await store.sendId({
        remoteAddress: this.remoteAddress,
        remotePort: this.remotePort,
        localAddress: this.localAddress,
        localPort: this.localPort,
        sessionId: this.id,
      });
      outcome = await store.login(creds);
    } catch (err) {
      store.destroy();
      log.error({ error: errInfo(err) }, 'backend.login_error');
      return this.loginUnavailable(tag, 'Your mail store is unavailable; try again later.');
    }
    if (!outcome.ok) {
      store.destroy();
      if (creds.kind === 'user') {
        await throttle?.fail(this.remoteAddress);
        return this.loginFailed(tag, 'bad-password', user.name, 'AUTHENTICATIONFAILED', 'Authentication failed.');
      }
      log.error({ reason: outcome.text }, 'backend.master_login_refused');
      return this.loginUnavailable(tag, 'Your mail store refused the login; try again later.');
    }
    // A store that checks passwords itself has just accepted them: only now may the
    // account's own rules be revealed (login-decision.ts).
    if (!decision.verified) {
      const refusal = accountRefusal(user, 'imap', this.remoteAddress, this.deps.vserver.protocolDefaults);
      if (refusal !== null) {
        outcome.socket.destroy();
        return this.loginFailed(tag, refusal, user.name, imapRefusals[refusal].code, imapRefusals[refusal].text);
      }
    }
    if (this.state !== 'logging-in' || this.conn.destroyed) {
      outcome.socket.destroy();
      return;
    }
    this.switchToPipe(tag, user.name, backend.name, outcome.socket, outcome.capabilities, outcome.pending, log);
  }

  private switchToPipe(
    tag: string,
    user: string,
    backendName: string,
    backend: net.Socket,
    capabilities: string[],
    fromBackend: Buffer,
    log: SessionLog,
  ): void {
    this.state = 'piped';
    this.user = user;
    this.backendName = backendName;
    const caps = filterPostLoginCapabilities(capabilities);
    this.write(`${tag} OK [CAPABILITY ${caps.join(' ')}] Logged in.\r\n`);
    // Nothing is logged until the session closes, maybe hours later: no pino child kept.
    this.log.release();
    this.pipe = startLoginPipe(this, {
      client: this.conn.handOff(),
      store: backend,
      fromStore: fromBackend,
      idleTimeoutMs: this.deps.vserver.limits.sessionIdleTimeoutMs,
      notices: imapNotices,
      log,
      authOkFields: { clientId: this.clientId },
      loginStartedAt: this.loginStartedAt,
      onClose: (summary) => {
        this.state = 'closed';
        this.endReason = summary.reason;
        this.end();
      },
    });
  }

  refuseLogin(tag: string, reason: string, code: string, text: string): Promise<void> {
    return this.loginFailed(tag, reason, undefined, code, text);
  }

  private async loginFailed(tag: string, reason: string, user: string | undefined, code: string, text: string): Promise<void> {
    this.authFailures++;
    publishAuth(this, 'fail', reason, this.loginStartedAt);
    this.log.info({ reason, user, failures: this.authFailures }, 'auth.fail');
    await delay(this.deps.vserver.limits.authFailureDelayMs);
    if (this.state === 'closed') return;
    this.state = 'not-authenticated';
    this.write(`${tag} NO [${code}] ${text}\r\n`);
    if (this.authFailures >= this.deps.vserver.limits.maxAuthFailures) this.bye('Too many failed logins.', 'auth-failures');
  }

  private loginUnavailable(tag: string, text: string): void {
    publishAuth(this, 'unavailable', 'unavailable', this.loginStartedAt);
    if (this.state === 'closed') return;
    this.state = 'not-authenticated';
    this.write(`${tag} NO [UNAVAILABLE] ${text}\r\n`);
  }

  private async run(): Promise<void> {
    while (this.state === 'not-authenticated') {
      const ev = await this.conn.next();
      if (ev === null) return;
      switch (ev.type) {
        case 'literal-wait':
          this.write('+ Ready for literal data\r\n');
          break;
        case 'error':
          this.readerError(ev);
          break;
        case 'line':
          // Only produced after expectLine(), which readLine() consumes itself.
          break;
        case 'command':
          await this.dispatch(ev.tag, ev.name, ev.args);
          break;
      }
    }
  }

  private async dispatch(tag: string, name: string, args: Extract<ImapReaderEvent, { type: 'command' }>['args']): Promise<void> {
    if (++this.commandCount > this.deps.vserver.limits.maxPreAuthCommands) {
      return this.bye('Too many commands before login.', 'command-limit');
    }
    const command = preAuthCommands.get(name);
    if (command === undefined) {
      return this.write(`${tag} BAD Unknown command, or not valid before login.\r\n`);
    }
    if (command.plaintextOnly && (this.isTls || this.deps.listener.tls !== 'starttls')) {
      return this.write(`${tag} BAD ${this.isTls ? 'TLS is already active.' : 'STARTTLS is not offered here.'}\r\n`);
    }
    if (command.sendsCredentials && !this.isTls && !this.deps.listener.allowPlaintextAuth) {
      return this.write(`${tag} NO [PRIVACYREQUIRED] Use STARTTLS before logging in.\r\n`);
    }
    await command.handle(this, tag, args);
  }

  private readerError(ev: Extract<ImapReaderEvent, { type: 'error' }>): void {
    // Garbage counts against the same budget as commands, or a client could loop forever.
    if (!ev.fatal && ++this.commandCount > this.deps.vserver.limits.maxPreAuthCommands) {
      return this.bye('Too many commands before login.', 'command-limit');
    }
    const texts: Record<string, string> = {
      ERR_LINE_TOO_LONG: 'Line too long.',
      ERR_LITERAL_TOO_LARGE: '[TOOBIG] Literal too large before login.',
      ERR_SYNTAX: 'Syntax error.',
      ERR_BAD_TAG: 'Invalid tag.',
      ERR_TOO_MANY_ARGS: 'Too many arguments.',
    };
    const text = texts[ev.code] ?? 'Protocol error.';
    this.log.info({ code: ev.code, fatal: ev.fatal }, 'client.protocol_error');
    if (ev.fatal) return this.bye(text, ev.code);
    this.write(`${ev.tag ?? '*'} BAD ${text}\r\n`);
  }

  /** The client's socket closed before the pipe took it (ClientConnection has logged `conn.close`). */
  private onClosed(): void {
    this.state = 'closed';
    this.end();
  }

  /** Runs once per session, whichever way it ended. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    publishSession({ event: 'close', session: this });
    this.deps.onEnd(this);
  }

  private bye(text: string, reason: string): void {
    if (this.state === 'closed' || this.state === 'piped') return;
    this.log.info({ reason }, 'conn.bye');
    this.write(`* BYE ${text}\r\n`);
    this.conn.close(reason);
  }
}

/** RFC 5530 codes: a disabled account is an authorization failure; a protocol turned off
 * for one user is not a wrong password and says so (CONTACTADMIN). */
const imapRefusals: Record<AccountRefusal, { code: string; text: string }> = {
  disabled: { code: 'AUTHORIZATIONFAILED', text: 'Account disabled.' },
  'imap-disabled': { code: 'CONTACTADMIN', text: 'IMAP access is disabled for this account.' },
  'pop3-disabled': { code: 'CONTACTADMIN', text: 'POP3 access is disabled for this account.' },
  'network-refused': { code: 'AUTHORIZATIONFAILED', text: 'Login not allowed from this network.' },
};

const unavailableTexts: Record<'directory' | 'no-backend' | 'draining', string> = {
  directory: 'The user directory is unavailable; try again later.',
  'no-backend': 'No mail store is assigned to this account.',
  draining: 'Your mail store is under maintenance; try again later.',
};

