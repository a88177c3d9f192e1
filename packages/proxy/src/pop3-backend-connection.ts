// Talks POP3 to a back-end store until the user is logged in there, then hands the raw
// socket to the pipe. Everything the store says before that is parsed with the protocol
// package's Pop3ResponseReader, one response per command (POP3 responses can only be
// framed knowing the command, RFC 1939 §3), and nothing is read ahead of the login's
// answer, so the store's later bytes stay for the pipe.
//
// Nothing a user typed is spliced into a command: the login is SASL PLAIN in base64
// (RFC 5034, RFC 4616); only a `login: user` store without SASL PLAIN gets USER and PASS,
// and only with text that cannot break the line (no CR, LF, NUL, other controls, within
// RFC 2449 §4's 255 octets). XCLIENT parameters are values Gatehouse produces itself (an
// IP address it parsed, a port number, its own session id).
import net from 'node:net';
import { Pop3ResponseReader, encodeSaslPlain, parsePop3Capabilities, type Pop3Capability, type Pop3Response } from '@gatehouse/protocol';
import { BackendExchange } from './backend-exchange.ts';
import { openBackendSocket, type BackendTarget, type BackendTimeouts } from './backend-socket.ts';
import type { StoreCredentials } from './login-decision.ts';
import { ProxyError, ProxyErrorCode } from './proxy-error.ts';

/** The client's side of the connection, passed to a store that speaks XCLIENT. */
export interface Pop3ClientOrigin {
  remoteAddress: string;
  remotePort: number;
  sessionId: string;
}

export type Pop3LoginResult =
  /** `reply` is the store's `+OK` line, raw; `pending` what it sent after it. */
  | { ok: true; socket: net.Socket; reply: Buffer; pending: Buffer }
  /** The store refused: its RFC 2449 response code (`IN-USE`, `AUTH`, …) and text. */
  | { ok: false; code: string | null; text: string };

/** RFC 2449 §4: a command line is at most 255 octets with its CRLF. */
const MAX_COMMAND_BYTES = 253;
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class Pop3BackendConnection {
  readonly target: BackendTarget;
  /** The store's CAPA list (empty when it has no CAPA); asked again after STLS. */
  capabilities: Pop3Capability[] = [];
  /** Dovecot announces XCLIENT as a code in its greeting when it trusts Gatehouse. */
  private xclientInGreeting = false;
  private readonly link: BackendExchange<Pop3Response>;
  private reader = new Pop3ResponseReader();
  /** How the waiting read frames its response: a multi-line one (CAPA) or one line. */
  private multiline = false;
  private pending: Buffer = Buffer.alloc(0);

  private constructor(target: BackendTarget, timeouts: BackendTimeouts, socket: net.Socket) {
    this.target = target;
    this.link = new BackendExchange(target, timeouts, socket, (chunk) => {
      this.reader.push(chunk);
      this.poll();
    });
  }

  static async connect(target: BackendTarget, timeouts: BackendTimeouts): Promise<Pop3BackendConnection> {
    const socket = await openBackendSocket(target, timeouts.connectTimeoutMs);
    const conn = new Pop3BackendConnection(target, timeouts, socket);
    try {
      const greeting = await conn.read(false);
      if (greeting.status !== 'OK') {
        throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${target.name} greeted with ${greeting.status === 'ERR' ? '-ERR' : 'a challenge'}`);
      }
      conn.xclientInGreeting = greeting.code?.toUpperCase() === 'XCLIENT';
      await conn.fetchCapabilities();
      if (target.tls === 'starttls') {
        await conn.startTls();
        await conn.fetchCapabilities(); // RFC 2595 §4: forget what was learnt before TLS
      }
      return conn;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  has(name: string): boolean {
    return this.capabilities.some((c) => c.name === name);
  }

  /**
   * Tells the store who the client is with XCLIENT (Dovecot's pop3-login honours it from
   * login_trusted_networks). Returns whether the store took it; a store without XCLIENT
   * is not asked.
   */
  async sendXclient(origin: Pop3ClientOrigin): Promise<boolean> {
    if (!this.xclientInGreeting && !this.has('XCLIENT')) return false;
    const params: string[] = [];
    if (net.isIP(origin.remoteAddress) !== 0) params.push(`ADDR=${origin.remoteAddress}`);
    if (Number.isInteger(origin.remotePort) && origin.remotePort > 0 && origin.remotePort < 65536) params.push(`PORT=${origin.remotePort}`);
    if (SESSION_ID.test(origin.sessionId)) params.push(`SESSION=${origin.sessionId}`);
    if (params.length === 0) return false;
    const r = await this.command(`XCLIENT ${params.join(' ')}`);
    return r.status === 'OK';
  }

  /** Logs in; a refusal by the store is a result, a broken store an exception. */
  async login(creds: StoreCredentials): Promise<Pop3LoginResult> {
    let done: Pop3Response;
    const sasl = this.capabilities.find((c) => c.name === 'SASL');
    if (sasl?.args.some((m) => m.toUpperCase() === 'PLAIN') === true) {
      const ir =
        creds.kind === 'master'
          ? encodeSaslPlain(creds.user, creds.masterUser, creds.masterPassword)
          : encodeSaslPlain('', creds.user, creds.password);
      // RFC 5034 §4: an initial response that would make the line too long goes after a challenge.
      if ('AUTH PLAIN '.length + ir.length <= MAX_COMMAND_BYTES) {
        done = await this.command(`AUTH PLAIN ${ir}`);
      } else {
        done = await this.command('AUTH PLAIN', ir);
      }
    } else if (creds.kind === 'user') {
      if (!safeLine('USER', creds.user) || !safeLine('PASS', creds.password)) {
        return { ok: false, code: null, text: 'credentials cannot be passed to this back-end' };
      }
      const user = await this.command(`USER ${creds.user}`);
      if (user.status !== 'OK') return { ok: false, code: user.code, text: user.text };
      done = await this.command(`PASS ${creds.password}`);
    } else {
      throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} offers no usable login (needs SASL PLAIN)`);
    }
    if (done.status !== 'OK') return { ok: false, code: done.code, text: done.text };
    return { ok: true, socket: this.release(), reply: done.raw, pending: this.pending };
  }

  destroy(): void {
    this.link.destroy();
  }

  /** Stops parsing and gives the socket away; unread bytes stay in `pending`. */
  private release(): net.Socket {
    const socket = this.link.release();
    this.pending = this.reader.takeBuffered();
    return socket;
  }

  private async fetchCapabilities(): Promise<void> {
    const r = await this.command('CAPA', undefined, true);
    // A store without CAPA (RFC 1939 only) answers -ERR: it has no extensions.
    this.capabilities = r.status === 'OK' ? parsePop3Capabilities(r.lines ?? []) : [];
  }

  private async startTls(): Promise<void> {
    const done = await this.command('STLS');
    if (done.status !== 'OK') {
      throw new ProxyError(ProxyErrorCode.BACKEND_TLS, `back-end ${this.target.name} refused STLS: ${done.text}`);
    }
    // Anything the store sent after its +OK and before TLS would be injected plaintext.
    if (this.reader.takeBuffered().length > 0) {
      throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} sent data after STLS`);
    }
    await this.link.startTls();
  }

  /** Sends one command and waits for its answer; `continuation` answers one SASL challenge. */
  private async command(line: string, continuation?: string, multiline = false): Promise<Pop3Response> {
    this.link.write(`${line}\r\n`);
    for (;;) {
      const r = await this.read(multiline);
      if (r.status !== null) return r;
      if (continuation === undefined) {
        throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} sent an unexpected challenge`);
      }
      this.link.write(`${continuation}\r\n`);
      continuation = undefined;
    }
  }

  private read(multiline: boolean): Promise<Pop3Response> {
    this.multiline = multiline;
    const response = this.link.wait();
    // A response that arrived before the store hung up is still delivered first.
    this.poll();
    const failure = this.link.failure;
    if (this.link.waiting && failure !== null) this.link.fail(failure);
    return response;
  }

  /** Hands the waiting read its response if one is complete; never parses without one. */
  private poll(): void {
    if (!this.link.waiting) return;
    let r: Pop3Response | null;
    try {
      r = this.reader.next(this.multiline);
    } catch (err) {
      this.link.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (r !== null) this.link.deliver(r);
  }
}

/** `KEYWORD text` is one safe command line: printable text (TAB, 8-bit allowed), short enough. */
function safeLine(keyword: string, text: string): boolean {
  // C0 controls other than TAB, and DEL/C1 controls: nothing that could end or bend the line.
  const controls = /[^\P{Cc}\t]/u;
  return text.length > 0 && !controls.test(text) && Buffer.byteLength(`${keyword} ${text}`, 'utf8') <= MAX_COMMAND_BYTES;
}
