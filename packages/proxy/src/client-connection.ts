// The client's socket from accept to the switch to the pipe, the same for IMAP and POP3.
// The socket is read in pull mode (paused between chunks), so the command reader never
// holds more than one line limit plus one chunk and nothing is read while a login is
// being decided. At each change of state the reader's buffered bytes are accounted for:
// discarded at STARTTLS/STLS, handed with the socket to the pipe at login.
//
// What is said on the wire, and when, is the session's (ImapSession, Pop3Session): this
// module writes only the line the session gives it, and closes without a word.
import type net from 'node:net';
import tls from 'node:tls';
import { errInfo } from './login-decision.ts';
import type { SessionStats } from './session-events.ts';
import type { SessionLog } from './session-log.ts';

/** What the connection needs of a protocol's command reader (ImapCommandReader, Pop3CommandReader). */
export interface PreLoginReader<E> {
  /** A limit was broken: nothing more is parsed. */
  readonly destroyed: boolean;
  push(chunk: Buffer): void;
  next(): E | null;
  /** The next event is one raw line (a SASL response), not a command. */
  expectLine(): void;
  takeBuffered(): Buffer;
}

export interface ClientConnectionOptions<E> {
  socket: net.Socket;
  isTls: boolean;
  reader: PreLoginReader<E>;
  /** The session's log: `conn.error`, `conn.closing`, `conn.close` and the STARTTLS lines. */
  log: SessionLog;
  /** When the connection was accepted (`durationMs` of `conn.close`). */
  startedAt: number;
  /** Once, after `conn.close`: the socket closed (or was closed) before the pipe took it. */
  onClosed: () => void;
}

/** The server's side of a STARTTLS/STLS handshake, read when the client asks for it (a reload may have changed it). */
export interface ServerTls {
  secureContext: tls.SecureContext;
  SNICallback: tls.TlsOptions['SNICallback'];
  handshakeTimeoutMs: number;
}

/** How long a closing client may take to read its last line before the socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;
const KEEPALIVE_DELAY_MS = 60_000;

export class ClientConnection<E> {
  private socket: net.Socket;
  private tls: boolean;
  /** Pre-login only: released at the hand-off to the pipe, which never reads commands. */
  private reader: PreLoginReader<E> | null;
  private readonly log: SessionLog;
  private readonly startedAt: number;
  private readonly onClosed: () => void;
  /** `piped`: handed off; the pipe owns the socket's events from then on. */
  private phase: 'open' | 'piped' | 'closed' = 'open';
  private dataWaiter: ((more: boolean) => void) | null = null;
  private deadline: NodeJS.Timeout | null = null;

  constructor(opts: ClientConnectionOptions<E>) {
    this.socket = opts.socket;
    this.tls = opts.isTls;
    this.reader = opts.reader;
    this.log = opts.log;
    this.startedAt = opts.startedAt;
    this.onClosed = opts.onClosed;
  }

  get isTls(): boolean {
    return this.tls;
  }

  /** The socket is gone (the client hung up, or a close finished). */
  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /** Starts listening, and the login deadline: `onDeadline` runs unless a login or a close comes first. */
  start(deadlineMs: number, onDeadline: () => void): void {
    this.attach(this.socket);
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    this.deadline = setTimeout(onDeadline, deadlineMs);
  }

  /** SessionStats, read from the socket when asked; `state` is the session's. */
  stats(state: SessionStats['state']): SessionStats {
    const socket = this.socket;
    return {
      tlsProtocol: this.tls ? ((socket as tls.TLSSocket).getProtocol?.() ?? null) : null,
      bytesIn: socket.bytesRead,
      bytesOut: socket.bytesWritten,
      state,
    };
  }

  write(text: string | Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(text);
  }

  /** The reader's next event, reading more only when it has none; null once the connection ended. */
  async next(): Promise<E | null> {
    for (;;) {
      if (this.phase === 'closed') return null;
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

  /** As next(), for a raw line (a SASL response) rather than a command. */
  nextLine(): Promise<E | null> {
    if (this.reader === null) return Promise.resolve(null);
    this.reader.expectLine();
    return this.next();
  }

  /**
   * Writes `okLine` and runs the server's TLS handshake on the socket. What the client
   * pipelined behind its command in cleartext is dropped first (RFC 9051 §6.2.1, RFC 2595
   * §4, CVE-2011-0411): it was never protected, so it is never executed. A failed or late
   * handshake closes the connection.
   */
  async startTls(okLine: string, server: ServerTls): Promise<void> {
    const injected = this.reader?.takeBuffered() ?? Buffer.alloc(0);
    if (injected.length > 0) this.log.warn({ bytes: injected.length }, 'starttls.pipelined_discarded');
    this.write(okLine);
    const plain = this.socket;
    this.detach(plain);
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: server.secureContext, SNICallback: server.SNICallback });
    this.socket = secure;
    this.attach(secure);
    secure.pause();
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), server.handshakeTimeoutMs);
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
    this.tls = true;
    this.log.info({ tlsProtocol: secure.getProtocol() }, 'starttls.ok');
  }

  /**
   * Gives the socket to the pipe, with the bytes the client pipelined behind its login
   * (for the store). The socket stays paused; the login deadline is over.
   */
  handOff(): { socket: net.Socket; pipelined: Buffer } {
    this.phase = 'piped';
    this.clearDeadline();
    const pipelined = this.reader?.takeBuffered() ?? Buffer.alloc(0);
    this.reader = null;
    this.detach(this.socket);
    return { socket: this.socket, pipelined };
  }

  /** Ends the connection after what was written (the client may read it), then destroys it. */
  close(reason: string): void {
    if (this.phase !== 'open') return;
    this.log.debug({ reason }, 'conn.closing');
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    this.onClose();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.socket.pause();
    this.reader?.push(chunk);
    this.wake(true);
  };

  private readonly onClose = (): void => {
    if (this.phase !== 'open') return;
    this.phase = 'closed';
    this.clearDeadline();
    this.wake(false);
    this.log.info({ durationMs: Date.now() - this.startedAt }, 'conn.close');
    this.onClosed();
  };

  private readonly onError = (err: Error): void => {
    this.log.info({ error: errInfo(err) }, 'conn.error');
  };

  /** Clears the login deadline and drops the timer (and the closure it holds). */
  private clearDeadline(): void {
    if (this.deadline === null) return;
    clearTimeout(this.deadline);
    this.deadline = null;
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
}
