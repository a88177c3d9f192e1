// Talks IMAP to a back-end store until the user is logged in there, then hands the raw
// socket to the pipe. Everything the back-end says before that is parsed with the
// protocol package's response reader; nothing the user typed is ever spliced into a
// command: the login goes as SASL PLAIN in base64 (RFC 4616) and the ID parameters
// (RFC 2971) are values we produce and quote ourselves.
import type net from 'node:net';
import {
  ImapResponseReader,
  encodeSaslPlain,
  formatIdParams,
  parseCapabilities,
  quoteImapString,
  type ImapResponse,
} from '@gatehouse/protocol';
import { ProxyError, ProxyErrorCode } from './proxy-error.ts';
import { BackendExchange } from './backend-exchange.ts';
import { openBackendSocket, type BackendTarget, type BackendTimeouts } from './backend-socket.ts';

export type { BackendTarget, BackendTimeouts, BackendTlsMode } from './backend-socket.ts';

export type BackendCredentials =
  | { kind: 'master'; user: string; masterUser: string; masterPassword: string }
  | { kind: 'user'; user: string; password: string };


/** The client's side of the connection, passed to the store in an IMAP ID command. */
export interface ClientOrigin {
  remoteAddress: string;
  remotePort: number;
  /** The address the client connected to: a balancer's (PROXY header destination) or this node's. */
  localAddress: string;
  localPort: number;
  sessionId: string;
}

export type BackendLoginResult =
  | { ok: true; socket: net.Socket; capabilities: string[]; pending: Buffer }
  | { ok: false; text: string };

/** One back-end connection in its pre-login phase. */
export class BackendConnection {
  readonly target: BackendTarget;
  private readonly link: BackendExchange<ImapResponse>;
  private reader = new ImapResponseReader();
  /** Responses parsed ahead of a read (the reader frames them without knowing the command). */
  private queue: ImapResponse[] = [];
  private tagCounter = 0;

  private constructor(target: BackendTarget, timeouts: BackendTimeouts, socket: net.Socket) {
    this.target = target;
    this.link = new BackendExchange(target, timeouts, socket, (chunk) => this.feed(chunk));
  }

  static async connect(target: BackendTarget, timeouts: BackendTimeouts): Promise<BackendConnection> {
    const socket = await openBackendSocket(target, timeouts.connectTimeoutMs);
    const conn = new BackendConnection(target, timeouts, socket);
    try {
      const greeting = await conn.read();
      if (greeting.kind !== 'untagged' || greeting.status !== 'OK') {
        throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${target.name} greeted with ${greeting.status ?? greeting.kind}`);
      }
      let caps = capabilityCode(greeting);
      if (target.tls === 'starttls') {
        await conn.startTls();
        caps = null; // RFC 9051 §6.2.1: capabilities must be asked again after TLS
      }
      conn.capabilities = caps ?? (await conn.fetchCapabilities());
      return conn;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  capabilities: string[] = [];

  /** Tells the store who the client is (Dovecot honours it from login_trusted_networks). */
  async sendId(origin: ClientOrigin): Promise<void> {
    if (!this.has('ID')) return;
    const params = formatIdParams({
      'x-originating-ip': origin.remoteAddress,
      'x-originating-port': String(origin.remotePort),
      'x-connected-ip': origin.localAddress,
      'x-connected-port': String(origin.localPort),
      'x-session-ext-id': origin.sessionId,
      'x-proxy': 'gatehouse',
    });
    await this.command(`ID ${params}`);
  }

  /** Logs in; a refusal by the store is a result, a broken store an exception. */
  async login(creds: BackendCredentials): Promise<BackendLoginResult> {
    let done: ImapResponse;
    if (this.has('AUTH=PLAIN')) {
      const ir =
        creds.kind === 'master'
          ? encodeSaslPlain(creds.user, creds.masterUser, creds.masterPassword)
          : encodeSaslPlain('', creds.user, creds.password);
      if (this.has('SASL-IR')) {
        done = await this.command(`AUTHENTICATE PLAIN ${ir}`);
      } else {
        done = await this.command('AUTHENTICATE PLAIN', ir);
      }
    } else if (creds.kind === 'user' && !this.has('LOGINDISABLED')) {
      const user = quoteImapString(creds.user);
      const pass = quoteImapString(creds.password);
      if (user === null || pass === null) {
        return { ok: false, text: 'credentials cannot be passed to this back-end' };
      }
      done = await this.command(`LOGIN ${user} ${pass}`);
    } else {
      throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} offers no usable login (needs AUTH=PLAIN)`);
    }
    if (done.status !== 'OK') return { ok: false, text: done.text };
    const caps = capabilityCode(done) ?? (await this.fetchCapabilities());
    return { ok: true, socket: this.release(), capabilities: caps, pending: this.pending };
  }

  destroy(): void {
    this.link.destroy();
  }

  private pending: Buffer = Buffer.alloc(0);

  /** Stops parsing and gives the socket away; unread bytes stay in `pending`. */
  private release(): net.Socket {
    const socket = this.link.release();
    const rest = Buffer.concat([...this.queue.map((r) => r.raw), this.reader.takeBuffered()]);
    this.queue = [];
    this.pending = rest;
    return socket;
  }

  private has(cap: string): boolean {
    const want = cap.toUpperCase();
    return this.capabilities.some((c) => c.toUpperCase() === want);
  }

  private async fetchCapabilities(): Promise<string[]> {
    let caps: string[] | null = null;
    await this.command('CAPABILITY', undefined, (r) => {
      if (r.kind === 'untagged' && /^CAPABILITY /i.test(r.text)) caps = parseCapabilities(r.text.slice(11));
    });
    if (caps === null) throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} sent no CAPABILITY`);
    return caps;
  }

  private async startTls(): Promise<void> {
    const done = await this.command('STARTTLS');
    if (done.status !== 'OK') {
      throw new ProxyError(ProxyErrorCode.BACKEND_TLS, `back-end ${this.target.name} refused STARTTLS: ${done.text}`);
    }
    // Anything the store sent after its OK and before TLS would be injected plaintext.
    if (this.reader.takeBuffered().length > 0 || this.queue.length > 0) {
      throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} sent data after STARTTLS`);
    }
    await this.link.startTls();
  }

  /** Sends one command and waits for its tagged answer; untagged lines go to `onUntagged`. */
  private async command(line: string, continuation?: string, onUntagged?: (r: ImapResponse) => void): Promise<ImapResponse> {
    const tag = `G${++this.tagCounter}`;
    this.link.write(`${tag} ${line}\r\n`);
    for (;;) {
      const r = await this.read();
      if (r.kind === 'continuation') {
        if (continuation === undefined) {
          throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} asked for an unexpected continuation`);
        }
        this.link.write(`${continuation}\r\n`);
        continuation = undefined;
        continue;
      }
      if (r.kind === 'tagged') {
        if (r.tag !== tag) throw new ProxyError(ProxyErrorCode.BACKEND_PROTOCOL, `back-end ${this.target.name} answered an unknown tag`);
        return r;
      }
      if (r.status === 'BYE') {
        throw new ProxyError(ProxyErrorCode.BACKEND_UNAVAILABLE, `back-end ${this.target.name} said BYE: ${r.text}`);
      }
      onUntagged?.(r);
    }
  }

  /** The next response: a queued one first; after a failure, that failure. */
  private read(): Promise<ImapResponse> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    const failure = this.link.failure;
    if (failure) return Promise.reject(failure);
    return this.link.wait();
  }

  private feed(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
      for (let r = this.reader.next(); r !== null; r = this.reader.next()) {
        if (!this.link.deliver(r)) this.queue.push(r);
      }
    } catch (err) {
      this.link.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function capabilityCode(r: ImapResponse): string[] | null {
  if (r.code === null || !/^CAPABILITY /i.test(r.code)) return null;
  return parseCapabilities(r.code.slice(11));
}
