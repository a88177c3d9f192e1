// One client connection from accept to the switch to the pipe: the pre-login state
// machine of RFC 9051 §3.1 (not authenticated) run by Gatehouse itself. The socket is
// read in pull mode (paused between chunks) so the parser never holds more than one
// line limit plus one chunk, and so nothing is read while a login is being decided.
// At each change of state the reader's buffered bytes are accounted for: discarded at
// STARTTLS, forwarded to the store at the switch to the pipe.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { ImapCommandReader, filterPostLoginCapabilities, type ImapReaderEvent } from '@gatehouse/protocol';
import type { Directory } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { BackendConnection } from './backend-connection.ts';
import { accountRefusal, decideLogin, errInfo, type AccountRefusal } from './login-decision.ts';
import { preAuthCommands, saslMechanisms } from './imap-commands/index.ts';
import type { PreAuthContext } from './pre-auth-context.ts';
import { imapNotices, pipeSession, type PipeHandle } from './session-pipe.ts';
import type { ImapListenerSpec, VirtualServer } from './virtual-server.ts';
import { publishSession, type SessionStats } from './session-events.ts';
import { publishAuth, timedBackendConnect } from './proxy-events.ts';
import { normalizeAddress, type ClientEndpoint } from './address.ts';
import { SessionLog, sessionLineFields } from './session-log.ts';

export interface ImapSessionDeps {
  directory: Directory;
  logger: Logger;
  vserver: VirtualServer;
  listener: ImapListenerSpec;
  nodeId: string;
  secureContext: tls.SecureContext;
  /** Picks the certificate by the client's SNI name after STARTTLS (absent: always secureContext). */
  sniCallback?: tls.TlsOptions['SNICallback'];
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
  isTls: boolean;
  user: string | null = null;
  backendName: string | null = null;
  /** The pipe's end reason, set before `close` is published (SessionView). */
  endReason: string | null = null;
  private socket: net.Socket;
  private readonly deps: ImapSessionDeps;
  private readonly log: SessionLog;
  /** Pre-login only: released at the switch to the pipe, which never reads commands. */
  private reader: ImapCommandReader | null;
  private state: State = 'not-authenticated';
  private commandCount = 0;
  private authFailures = 0;
  private dataWaiter: ((ok: boolean) => void) | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  private pipe: PipeHandle | null = null;
  private clientId: string | null = null;
  private ended = false;
  /** When the current login command started (0: none yet), for the auth latency metric. */
  private loginStartedAt = 0;

  /** `client`: the real client named by a PROXY protocol header, when the listener takes one. */
  constructor(socket: net.Socket, deps: ImapSessionDeps, isTls: boolean, client?: ClientEndpoint) {
    this.socket = socket;
    this.deps = deps;
    this.isTls = isTls;
    this.remoteAddress = normalizeAddress(client?.address ?? socket.remoteAddress ?? '');
    this.remotePort = client?.port ?? socket.remotePort ?? 0;
    // Behind a balancer the client connected to the balancer's address, not to this
    // node's socket: the store gets that one (ID x-connected-ip).
    this.localAddress = normalizeAddress(client?.destination?.address ?? socket.localAddress ?? '');
    this.localPort = client?.destination?.port ?? socket.localPort ?? 0;
    const limits = deps.vserver.limits;
    this.reader = new ImapCommandReader({
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
  }

  start(): void {
    this.log.info({ remotePort: this.remotePort, tls: this.isTls }, 'conn.open');
    publishSession({ event: 'open', session: this });
    this.attach(this.socket);
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 60_000);
    this.authTimer = setTimeout(() => this.bye('Autologout; authentication timed out.', 'auth-timeout'), this.deps.vserver.limits.authTimeoutMs);
    this.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.deps.vserver.banner}\r\n`);
    this.run().catch((err: unknown) => {
      this.log.error({ err }, 'session.error');
      this.bye('Internal error.', 'internal-error');
    });
  }

  get nodeId(): string {
    return this.deps.nodeId;
  }

  get vserverName(): string {
    return this.deps.vserver.name;
  }

  /** For the session registry and metrics (SessionView): read from the socket when asked. */
  stats(): SessionStats {
    const socket = this.socket;
    return {
      tlsProtocol: this.isTls ? ((socket as tls.TLSSocket).getProtocol?.() ?? null) : null,
      bytesIn: socket.bytesRead,
      bytesOut: socket.bytesWritten,
      state: this.pipe === null ? 'pre-auth' : this.pipe.idling ? 'idle' : 'authenticated',
    };
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
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(text);
  }

  setClientId(params: Map<string, string>): void {
    const name = params.get('name');
    const version = params.get('version');
    this.clientId = name === undefined ? null : version === undefined ? name : `${name} ${version}`;
  }

  async readLine(): Promise<Buffer | null> {
    if (this.reader === null) return null;
    this.reader.expectLine();
    const ev = await this.nextEvent();
    if (ev === null) return null;
    if (ev.type === 'line') return ev.line;
    if (ev.type === 'error') this.readerError(ev);
    return null;
  }

  logout(tag: string): void {
    this.write(`* BYE Logging out.\r\n${tag} OK Logout completed.\r\n`);
    this.close('logout');
  }

  async startTls(tag: string): Promise<void> {
    // RFC 9051 §6.2.1 / CVE-2011-0411: what was pipelined in cleartext is dropped.
    const injected = this.reader?.takeBuffered() ?? Buffer.alloc(0);
    if (injected.length > 0) this.log.warn({ bytes: injected.length }, 'starttls.pipelined_discarded');
    this.write(`${tag} OK Begin TLS negotiation now.\r\n`);
    const plain = this.socket;
    this.detach(plain);
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.deps.secureContext, SNICallback: this.deps.sniCallback });
    this.socket = secure;
    this.attach(secure);
    secure.pause();
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.deps.vserver.limits.tlsHandshakeTimeoutMs);
      secure.once('secure', () => {
        clearTimeout(timer);
        resolve(true);
      });
      secure.once('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ok) {
      this.log.info('tls.handshake_failed');
      this.close('tls-failed');
      return;
    }
    this.isTls = true;
    this.log.info({ tlsProtocol: secure.getProtocol() }, 'starttls.ok');
  }

  async login(tag: string, rawUser: string, password: string): Promise<void> {
    this.state = 'logging-in';
    this.loginStartedAt = Date.now();
    const { directory, vserver } = this.deps;
    const decision = await decideLogin(directory, vserver, 'imap', rawUser, password, this.log, this.remoteAddress);
    switch (decision.kind) {
      case 'bad-credentials':
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
    let conn: BackendConnection;
    try {
      conn = await timedBackendConnect(
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
      await conn.sendId({
        remoteAddress: this.remoteAddress,
        remotePort: this.remotePort,
        localAddress: this.localAddress,
        localPort: this.localPort,
        sessionId: this.id,
      });
      outcome = await conn.login(creds);
    } catch (err) {
      conn.destroy();
      log.error({ error: errInfo(err) }, 'backend.login_error');
      return this.loginUnavailable(tag, 'Your mail store is unavailable; try again later.');
    }
    if (!outcome.ok) {
      conn.destroy();
      if (creds.kind === 'user') return this.loginFailed(tag, 'bad-password', user.name, 'AUTHENTICATIONFAILED', 'Authentication failed.');
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
    if (this.state !== 'logging-in' || this.socket.destroyed) {
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
    this.clearAuthTimer();
    const caps = filterPostLoginCapabilities(capabilities);
    this.write(`${tag} OK [CAPABILITY ${caps.join(' ')}] Logged in.\r\n`);
    const toBackend = this.reader?.takeBuffered() ?? Buffer.alloc(0);
    this.reader = null;
    this.detach(this.socket);
    // Read now: a TLS socket forgets its protocol once destroyed.
    const lineFields = sessionLineFields(this);
    log.info({ ...lineFields, clientId: this.clientId, pipelined: toBackend.length }, 'auth.ok');
    // Nothing is logged until the session closes, maybe hours later: no pino child kept.
    log.release();
    this.log.release();
    publishAuth(this, 'ok', 'ok', this.loginStartedAt);
    publishSession({ event: 'login', session: this });
    const started = Date.now();
    this.pipe = pipeSession(this.socket, backend, {
      toBackend,
      toClient: fromBackend,
      idleTimeoutMs: this.deps.vserver.limits.sessionIdleTimeoutMs,
      notices: imapNotices,
      onClose: (summary) => {
        this.state = 'closed';
        this.endReason = summary.reason;
        log.info(
          {
            ...lineFields,
            reason: summary.reason,
            durationMs: Date.now() - started,
            bytesIn: summary.bytesFromClient,
            bytesOut: summary.bytesFromBackend,
            byeInjected: summary.byeInjected,
            compressed: summary.compressed,
          },
          'session.close',
        );
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
      const ev = await this.nextEvent();
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

  private async nextEvent(): Promise<ImapReaderEvent | null> {
    for (;;) {
      if (this.state === 'closed') return null;
      const reader = this.reader;
      if (reader === null) return null;
      const ev = reader.next();
      if (ev !== null) return ev;
      if (reader.destroyed) return null;
      const more = await new Promise<boolean>((resolve) => {
        this.dataWaiter = resolve;
        this.socket.resume();
      });
      if (!more) return null;
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    this.socket.pause();
    this.reader?.push(chunk);
    this.wake(true);
  };

  private readonly onClose = (): void => {
    if (this.state === 'piped') return;
    this.state = 'closed';
    this.clearAuthTimer();
    this.wake(false);
    this.end();
  };

  /** Runs once per session, whichever way it ended. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pipe === null) this.log.info({ durationMs: Date.now() - this.startedAt }, 'conn.close');
    publishSession({ event: 'close', session: this });
    this.deps.onEnd(this);
  }

  private readonly onError = (err: Error): void => {
    this.log.info({ error: errInfo(err) }, 'conn.error');
  };

  /** Clears the login deadline and drops the timer (and the closure it holds). */
  private clearAuthTimer(): void {
    if (this.authTimer === null) return;
    clearTimeout(this.authTimer);
    this.authTimer = null;
  }

  private wake(more: boolean): void {
    const w = this.dataWaiter;
    this.dataWaiter = null;
    w?.(more);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
  }

  private bye(text: string, reason: string): void {
    if (this.state === 'closed' || this.state === 'piped') return;
    this.log.info({ reason }, 'conn.bye');
    this.write(`* BYE ${text}\r\n`);
    this.close(reason);
  }

  private close(reason: string): void {
    if (this.state === 'closed') return;
    this.log.debug({ reason }, 'conn.closing');
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), 2_000).unref();
    this.onClose();
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

