// The socket side of a login at a back-end store, shared by the IMAP and POP3 back-end
// connections (backend-connection.ts, pop3-backend-connection.ts): the socket's
// listeners, the first failure (the store hung up, a socket error, a response that does
// not parse), one reader waiting for a response within the response timeout, the TLS
// upgrade after STARTTLS/STLS, and giving the socket away. Parsing and framing the
// responses stays with each protocol: the IMAP side parses ahead and queues, the POP3
// side parses only for a waiting reader (its responses are framed by the command).
import type net from 'node:net';
import { upgradeBackendSocket, type BackendTarget, type BackendTimeouts } from './backend-socket.ts';
import { ProxyError, ProxyErrorCode } from './proxy-error.ts';

type Waiter<R> = { resolve: (r: R) => void; reject: (e: Error) => void };

export class BackendExchange<R> {
  readonly target: BackendTarget;
  readonly timeouts: BackendTimeouts;
  private sock: net.Socket;
  private waiter: Waiter<R> | null = null;
  private firstFailure: Error | null = null;
  private readonly onData: (chunk: Buffer) => void;
  private readonly onEnd = (): void =>
    this.fail(new ProxyError(ProxyErrorCode.BACKEND_UNAVAILABLE, `back-end ${this.target.name} closed the connection`));
  private readonly onError = (err: Error): void =>
    this.fail(new ProxyError(ProxyErrorCode.BACKEND_UNAVAILABLE, `back-end ${this.target.name}: ${err.message}`, { cause: err }));

  /** `onData` gets every chunk the store sends until the socket is upgraded, released or destroyed. */
  constructor(target: BackendTarget, timeouts: BackendTimeouts, socket: net.Socket, onData: (chunk: Buffer) => void) {
    this.target = target;
    this.timeouts = timeouts;
    this.sock = socket;
    this.onData = onData;
    this.attach();
  }

  get socket(): net.Socket {
    return this.sock;
  }

  /** The first failure, kept: every later read fails with it. */
  get failure(): Error | null {
    return this.firstFailure;
  }

  /** A reader waits for a response. */
  get waiting(): boolean {
    return this.waiter !== null;
  }

  write(line: string): void {
    this.sock.write(line);
  }

  /** Waits for the response that deliver() will hand over; a timeout or a failure rejects. */
  wait(): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new ProxyError(ProxyErrorCode.BACKEND_TIMEOUT, `back-end ${this.target.name} did not answer in ${this.timeouts.responseTimeoutMs} ms`));
      }, this.timeouts.responseTimeoutMs);
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Hands `r` to the waiting reader; false when none waits. */
  deliver(r: R): boolean {
    const w = this.waiter;
    if (w === null) return false;
    this.waiter = null;
    w.resolve(r);
    return true;
  }

  /** Keeps the first failure and rejects the waiting reader with it. */
  fail(err: Error): void {
    if (!this.firstFailure) this.firstFailure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.firstFailure);
  }

  /** Runs the client TLS handshake on the socket (after the store's OK to STARTTLS/STLS). */
  async startTls(): Promise<void> {
    this.detach();
    this.sock = await upgradeBackendSocket(this.sock, this.target, this.timeouts.connectTimeoutMs);
    this.attach();
  }

  /** Stops listening and gives the socket away, paused. */
  release(): net.Socket {
    this.detach();
    this.sock.pause();
    return this.sock;
  }

  destroy(): void {
    this.detach();
    this.sock.destroy();
  }

  private attach(): void {
    this.sock.on('data', this.onData);
    this.sock.on('end', this.onEnd);
    this.sock.on('error', this.onError);
  }

  private detach(): void {
    this.sock.off('data', this.onData);
    this.sock.off('end', this.onEnd);
    this.sock.off('error', this.onError);
  }
}
