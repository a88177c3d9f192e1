// One POP3 client connection from accept to the switch to the pipe: the AUTHORIZATION
// state of RFC 1939 §4 run by Gatehouse itself, then a byte pipe to the user's store,
// whose own TRANSACTION and UPDATE states the client reaches unchanged (RETR, TOP, LIST,
// UIDL byte-exact, dot-stuffing untouched). Built like ImapSession: the socket's side
// (pull-mode reads, STLS, close, the hand-off to the pipe) is ClientConnection's; this
// class holds the POP3: the greeting, the commands, the replies and the login.
//
// POP3 has no unsolicited responses (RFC 1939 §3): Gatehouse never writes a line the
// client did not ask for. An authorization timeout closes the connection without a word
// (RFC 1939 §3, autologout), and so does a kick or a shutdown; after login the pipe has
// no notices. Whatever ends a session before QUIT, the store never enters its UPDATE
// state, so no message is deleted.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type net from 'node:net';
import type tls from 'node:tls';
import { Pop3CommandReader, pop3Capabilities, type Pop3ReaderEvent } from '@gatehouse/protocol';
import type { Directory } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { normalizeAddress, type ClientEndpoint } from './address.ts';
import { ClientConnection } from './client-connection.ts';
import { accountRefusal, decideLogin, errInfo, type AccountRefusal } from './login-decision.ts';
import { Pop3BackendConnection, type Pop3LoginResult } from './pop3-backend-connection.ts';
import { Pop3Reply, pop3PreAuthCommands, saslMechanisms, type Pop3Context } from './pop3-commands/index.ts';
import { publishSession, type SessionStats } from './session-events.ts';
import { publishAuth, timedBackendConnect } from './proxy-events.ts';
import { SessionLog } from './session-log.ts';
import type { AuthThrottle } from './auth-throttle.ts';
import { startLoginPipe } from './login-pipe.ts';
import type { PipeHandle } from './session-pipe.ts';
import type { Pop3ListenerSpec, VirtualServer } from './virtual-server.ts';

export interface Pop3SessionDeps {
  directory: Directory;
  logger: Logger;
  vserver: VirtualServer;
  listener: Pop3ListenerSpec;
  nodeId: string;
  secureContext: tls.SecureContext;
  /** Picks the certificate by the client's SNI name after STARTTLS (absent: always secureContext). */
  sniCallback?: tls.TlsOptions['SNICallback'];
  /** The tier-wide failed-login limit per client address (absent: none). */
  throttle?: AuthThrottle;
  onEnd: (session: Pop3Session) => void;
}

type State = 'authorization' | 'logging-in' | 'piped' | 'closed';

/** RFC 2449 §8 / RFC 3206 replies for the account rules (after a right password). */
const ACCOUNT_REPLIES: Record<AccountRefusal, string> = {
  disabled: '-ERR [AUTH] Account disabled.\r\n',
  'imap-disabled': Pop3Reply.AUTH_FAILED, // not reachable for POP3
  'pop3-disabled': '-ERR [SYS/PERM] POP3 access disabled for this account.\r\n',
  'network-refused': '-ERR [AUTH] Login not allowed from this network.\r\n',
};

/** Store refusals relayed to the client with their code: not about the credentials. */
const RELAYED_CODES: ReadonlySet<string> = new Set(['IN-USE', 'LOGIN-DELAY']);

export class Pop3Session implements Pop3Context {
  readonly id = randomBytes(9).toString('base64url');
  readonly protocol = 'pop3';
  readonly startedAt = Date.now();
  readonly remoteAddress: string;
  readonly remotePort: number;
  user: string | null = null;
  backendName: string | null = null;
  /** The pipe's end reason, set before `close` is published (SessionView). */
  endReason: string | null = null;
  pendingUser: string | null = null;
  private readonly deps: Pop3SessionDeps;
  private readonly log: SessionLog;
  private readonly conn: ClientConnection<Pop3ReaderEvent>;
  private state: State = 'authorization';
  private commandCount = 0;
  private authFailures = 0;
  private pipe: PipeHandle | null = null;
  private ended = false;
  /** When the current login command started (0: none yet), for the auth latency metric. */
  private loginStartedAt = 0;

  /** `client`: the real client named by a PROXY protocol header, when the listener takes one. */
  constructor(socket: net.Socket, deps: Pop3SessionDeps, isTls: boolean, client?: ClientEndpoint) {
    this.deps = deps;
    this.remoteAddress = normalizeAddress(client?.address ?? socket.remoteAddress ?? '');
    this.remotePort = client?.port ?? socket.remotePort ?? 0;
    // Commands keep RFC 2449's 255 octets; SASL lines may reach the virtual server's line limit.
    const reader = new Pop3CommandReader({ maxLineBytes: Math.max(deps.vserver.limits.maxLineBytes, 253) });
    this.log = new SessionLog(deps.logger, {
      cid: this.id,
      proto: 'pop3',
      vserver: deps.vserver.name,
      listener: deps.listener.name,
      remoteAddress: this.remoteAddress,
    });
    this.conn = new ClientConnection({ socket, isTls, reader, log: this.log, startedAt: this.startedAt, onClosed: () => this.onClosed() });
  }

  start(): void {
    this.log.info({ remotePort: this.remotePort, tls: this.isTls }, 'conn.open');
    publishSession({ event: 'open', session: this });
    this.conn.start(this.deps.vserver.limits.authTimeoutMs, () => this.hangUp('auth-timeout'));
    // No APOP timestamp in the greeting: APOP is not offered (RFC 1939 §7).
    this.write(`+OK ${this.deps.vserver.banner}\r\n`);
    this.run().catch((err: unknown) => {
      this.log.error({ err }, 'session.error');
      this.finalReply('-ERR [SYS/TEMP] Internal error.\r\n', 'internal-error');
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
    return this.conn.stats(this.pipe === null ? 'pre-auth' : 'authenticated');
  }

  /** Ends the session (kick, shutdown): POP3 has no unsolicited goodbye, the connection just closes. */
  kick(text = 'Administrator closed the session.'): void {
    if (this.pipe) this.pipe.close(text);
    else this.hangUp('kicked');
  }

  capabilities(): string[] {
    const cleartext = !this.isTls;
    return pop3Capabilities({
      stls: cleartext && this.deps.listener.tls === 'starttls',
      credentials: !cleartext || this.deps.listener.allowPlaintextAuth,
      mechanisms: saslMechanisms,
    });
  }

  write(text: string | Buffer): void {
    this.conn.write(text);
  }

  async readLine(): Promise<Buffer | null> {
    const ev = await this.conn.nextLine();
    if (ev === null) return null;
    if (ev.type === 'line') return ev.line;
    if (ev.type === 'error') this.readerError(ev);
    return null;
  }

  quit(): void {
    // No UPDATE state before login: nothing to commit (RFC 1939 §4).
    this.write('+OK Logging out.\r\n');
    this.conn.close('quit');
  }

  startTls(): Promise<void> {
    // RFC 2595 §4 / CVE-2011-0411: what was pipelined in cleartext is dropped
    // (ClientConnection.startTls), and so is the USER name given before TLS.
    this.pendingUser = null;
    return this.conn.startTls('+OK Begin TLS negotiation now.\r\n', {
      secureContext: this.deps.secureContext,
      SNICallback: this.deps.sniCallback,
      handshakeTimeoutMs: this.deps.vserver.limits.tlsHandshakeTimeoutMs,
    });
  }

  async login(rawUser: string, password: string): Promise<void> {
    this.state = 'logging-in';
    this.loginStartedAt = Date.now();
    const { directory, vserver, throttle } = this.deps;
    // Before the password is checked: a throttled address costs no hash and learns nothing.
    const throttled = (await throttle?.check(this.remoteAddress)) ?? null;
    if (throttled !== null) {
      this.log.warn({ failures: throttled, windowMs: throttle?.options.windowMs }, 'auth.throttled');
      return this.loginFailed('throttled', undefined, '-ERR [SYS/TEMP] Too many failed logins from your address; try again later.\r\n');
    }
    const decision = await decideLogin(directory, vserver, 'pop3', rawUser, password, this.log, this.remoteAddress);
    switch (decision.kind) {
      case 'bad-credentials':
        await throttle?.fail(this.remoteAddress);
        return this.loginFailed(decision.reason, decision.user, Pop3Reply.AUTH_FAILED);
      case 'account-refused':
        return this.loginFailed(decision.reason, decision.user, ACCOUNT_REPLIES[decision.reason]);
      case 'unavailable':
        return this.loginUnavailable(
          decision.cause === 'directory'
            ? 'The user directory is unavailable; try again later.'
            : decision.cause === 'no-backend'
              ? 'No mail store is assigned to this account.'
              : 'Your mail store is under maintenance; try again later.',
        );
      case 'proceed':
        break;
    }
    const { user, backend, credentials } = decision;
    const log = this.log.child({ user: user.name, backend: backend.name });
    if (backend.pop3Port === undefined) {
      log.error('auth.backend_no_pop3');
      return this.reply('-ERR [SYS/PERM] Your mail store does not offer POP3.\r\n');
    }
    const limits = vserver.limits;
    let store: Pop3BackendConnection;
    try {
      store = await timedBackendConnect(
        backend.name,
        'pop3',
        Pop3BackendConnection.connect(
          { name: backend.name, host: backend.host, port: backend.pop3Port, tls: backend.tls, tlsVerify: backend.tlsVerify },
          { connectTimeoutMs: limits.backendConnectTimeoutMs, responseTimeoutMs: limits.backendResponseTimeoutMs },
        ),
      );
    } catch (err) {
      log.error({ error: errInfo(err) }, 'backend.connect_failed');
      return this.loginUnavailable('Your mail store is unavailable; try again later.');
    }
    let outcome: Pop3LoginResult;
    try {
      const xclient = await store.sendXclient({ remoteAddress: this.remoteAddress, remotePort: this.remotePort, sessionId: this.id });
      log.debug({ xclient }, 'backend.xclient');
      outcome = await store.login(credentials);
    } catch (err) {
      store.destroy();
      log.error({ error: errInfo(err) }, 'backend.login_error');
      return this.loginUnavailable('Your mail store is unavailable; try again later.');
    }
    if (!outcome.ok) {
      store.destroy();
      const code = outcome.code?.toUpperCase() ?? null;
      if (code !== null && RELAYED_CODES.has(code)) {
        log.info({ code }, 'auth.store_refused');
        return this.reply(`-ERR [${code}] ${printable(outcome.text) || 'Your mailbox is in use; try again later.'}\r\n`);
      }
      if (credentials.kind === 'user') {
        await throttle?.fail(this.remoteAddress);
        return this.loginFailed('bad-password', user.name, Pop3Reply.AUTH_FAILED);
      }
      log.error({ reason: printable(outcome.text), code }, 'backend.master_login_refused');
      return this.loginUnavailable('Your mail store refused the login; try again later.');
    }
    if (!decision.verified) {
      const refusal = accountRefusal(user, 'pop3', this.remoteAddress, this.deps.vserver.protocolDefaults);
      if (refusal !== null) {
        // Logged in at the store without QUIT: closing now never enters its UPDATE state.
        outcome.socket.destroy();
        return this.loginFailed(refusal, user.name, ACCOUNT_REPLIES[refusal]);
      }
    }
    if (this.state !== 'logging-in' || this.conn.destroyed) {
      outcome.socket.destroy();
      return;
    }
    this.switchToPipe(user.name, backend.name, outcome.socket, outcome.reply, outcome.pending, log);
  }

  private switchToPipe(user: string, backendName: string, backend: net.Socket, reply: Buffer, fromBackend: Buffer, log: SessionLog): void {
    this.state = 'piped';
    this.user = user;
    this.backendName = backendName;
    // The store's own +OK to the login goes to the client: after login every byte is the store's.
    this.write(reply);
    // Nothing is logged until the session closes, maybe hours later: no pino child kept.
    this.log.release();
    this.pipe = startLoginPipe(this, {
      client: this.conn.handOff(),
      store: backend,
      fromStore: fromBackend,
      idleTimeoutMs: this.deps.vserver.limits.sessionIdleTimeoutMs,
      notices: null,
      log,
      authOkFields: {},
      loginStartedAt: this.loginStartedAt,
      onClose: (summary) => {
        this.state = 'closed';
        this.endReason = summary.reason;
        this.end();
      },
    });
  }

  refuseLogin(reason: string, reply: string): Promise<void> {
    this.state = 'logging-in';
    return this.loginFailed(reason, undefined, reply);
  }

  private async loginFailed(reason: string, user: string | undefined, reply: string): Promise<void> {
    this.authFailures++;
    publishAuth(this, 'fail', reason, this.loginStartedAt);
    this.log.info({ reason, user, failures: this.authFailures }, 'auth.fail');
    await delay(this.deps.vserver.limits.authFailureDelayMs);
    if (this.state === 'closed') return;
    if (this.authFailures >= this.deps.vserver.limits.maxAuthFailures) return this.finalReply(reply, 'auth-failures');
    this.reply(reply);
  }

  private loginUnavailable(text: string): void {
    publishAuth(this, 'unavailable', 'unavailable', this.loginStartedAt);
    this.reply(`-ERR [SYS/TEMP] ${text}\r\n`);
  }

  /** Answers a login attempt; the connection stays in the AUTHORIZATION state. */
  private reply(line: string): void {
    if (this.state === 'closed') return;
    this.state = 'authorization';
    this.write(line);
  }

  private async run(): Promise<void> {
    while (this.state === 'authorization') {
      const ev = await this.conn.next();
      if (ev === null) return;
      switch (ev.type) {
        case 'error':
          this.readerError(ev);
          break;
        case 'line':
          // Only produced after expectLine(), which readLine() consumes itself.
          break;
        case 'command':
          await this.dispatch(ev.name, ev.argument);
          break;
      }
    }
  }

  private async dispatch(name: string, argument: Buffer | null): Promise<void> {
    if (++this.commandCount > this.deps.vserver.limits.maxPreAuthCommands) {
      return this.finalReply('-ERR Too many commands before login.\r\n', 'command-limit');
    }
    const command = pop3PreAuthCommands.get(name);
    if (command === undefined) return this.write('-ERR Unknown command, or not valid before login.\r\n');
    if (command.plaintextOnly && (this.isTls || this.deps.listener.tls !== 'starttls')) {
      return this.write(this.isTls ? '-ERR TLS is already active.\r\n' : '-ERR STLS is not offered here.\r\n');
    }
    if (command.sendsCredentials && !this.isTls && !this.deps.listener.allowPlaintextAuth) {
      // RFC 2595 §4 / RFC 3206 §4: a policy refusal of this login, not a wrong password (not counted).
      return this.write('-ERR [AUTH] Use STLS before logging in.\r\n');
    }
    await command.handle(this, argument);
  }

  private readerError(ev: Extract<Pop3ReaderEvent, { type: 'error' }>): void {
    this.log.info({ code: ev.code, fatal: ev.fatal }, 'client.protocol_error');
    if (ev.fatal) return this.finalReply('-ERR Line too long.\r\n', ev.code);
    // Garbage counts against the same budget as commands, or a client could loop forever.
    if (++this.commandCount > this.deps.vserver.limits.maxPreAuthCommands) {
      return this.finalReply('-ERR Too many commands before login.\r\n', 'command-limit');
    }
    this.write('-ERR Syntax error.\r\n');
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

  /** The answer to the client's last command, after which Gatehouse closes the connection. */
  private finalReply(line: string, reason: string): void {
    if (this.state === 'closed' || this.state === 'piped') return;
    this.log.info({ reason }, 'conn.bye');
    this.write(line);
    this.conn.close(reason);
  }

  /** Ends the connection without a reply: nothing is pending that a line could answer. */
  private hangUp(reason: string): void {
    if (this.state === 'closed' || this.state === 'piped') return;
    this.log.info({ reason }, 'conn.bye');
    this.conn.close(reason);
  }
}

/** A store's text as printable characters only, bounded: it is relayed into our own reply line. */
function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, '').slice(0, 200).trim();
}
