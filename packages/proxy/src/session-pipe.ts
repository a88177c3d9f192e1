// The hot path: after login the client and its store exchange bytes untouched (that is
// what lets IDLE, COMPRESS, APPEND of large literals and every later extension work).
// Each direction is relayed by one 'data' listener with backpressure (pause the source
// when the destination's buffer is full, resume it on 'drain'), which is what
// stream.pipe does, without the ten-odd closures and listener arrays a pipe() costs per
// direction (about 3.4 KiB of heap for the two directions of one idle session). The
// per-chunk work besides the write is one assignment per back-end chunk (its latest
// chunk, read at close to see whether the store said BYE) and one length check per
// client chunk (to notice COMPRESS, below).
//
// Gatehouse writes a line of its own into the pipe only when the store vanished without
// one, or when the session is kicked or idle, and only where the protocol allows an
// unsolicited line (IMAP's `* BYE`, RFC 9051 §7.1.5; POP3 has none). After COMPRESS
// DEFLATE (RFC 4978) the streams are deflated end to end by client and store, so a
// plain line from Gatehouse would corrupt the client's inflater (mbsync aborts on it):
// then the session is closed without a word.
import type net from 'node:net';

const TAIL_BYTES = 512;
/** A COMPRESS command arrives alone (RFC 4978 §3: nothing may follow it before the OK). */
const MAX_COMPRESS_COMMAND_BYTES = 96;
const COMPRESS_COMMAND = /^[!#-'*-Z^-z|~]+ COMPRESS DEFLATE\r?\n$/i;
/** A tag, a space and IDLE with its CRLF fit in this (tags are short in practice). */
const MAX_IDLE_COMMAND_BYTES = 64;
const IDLE_TAIL = Buffer.from(' IDLE\r\n');

export interface PipeNotices {
  /** The line written when the store closes without its own goodbye; `mark` is how the store's own goodbye starts. */
  backendClosed: string;
  backendLost: string;
  idle: string;
  kicked: (text: string) => string;
  /** The start of the store's own goodbye line (`* BYE `): seen in its last bytes, Gatehouse adds none. */
  storeGoodbye: Buffer;
}

export interface PipeOptions {
  /** Bytes the client pipelined behind its login, sent to the store first. */
  toBackend: Buffer;
  /** Bytes the store sent behind its login answer, sent to the client first. */
  toClient: Buffer;
  idleTimeoutMs: number;
  /** Lines Gatehouse may write into the session; null for protocols without unsolicited responses. */
  notices: PipeNotices | null;
  onClose: (summary: PipeSummary) => void;
}

export type PipeCloseReason = 'client-closed' | 'backend-closed' | 'backend-error' | 'client-error' | 'idle-timeout' | 'kicked';

export interface PipeSummary {
  reason: PipeCloseReason;
  bytesFromClient: number;
  bytesFromBackend: number;
  /** Gatehouse wrote a line of its own (a BYE) because the store went away without one, or on kick/idle. */
  byeInjected: boolean;
  /** The client turned on COMPRESS=DEFLATE. */
  compressed: boolean;
}

export interface PipeHandle {
  /** Ends the session from outside (kick, shutdown), with a line the client can read where possible. */
  close(text: string): void;
  /** The client's last chunk was `tag IDLE` (RFC 2177): the session waits in IDLE. Not seen after COMPRESS. */
  readonly idling: boolean;
}

export const imapNotices: PipeNotices = {
  backendClosed: '* BYE [UNAVAILABLE] The mail store closed the connection.\r\n',
  backendLost: '* BYE [UNAVAILABLE] Lost the connection to the mail store.\r\n',
  idle: '* BYE Autologout; idle for too long.\r\n',
  kicked: (text) => `* BYE ${text}\r\n`,
  storeGoodbye: Buffer.from('* BYE '),
};

export function pipeSession(client: net.Socket, backend: net.Socket, opts: PipeOptions): PipeHandle {
  const pipe = new SessionPipe(client, backend, opts);

  if (opts.toClient.length > 0) client.write(opts.toClient);
  if (opts.toBackend.length > 0) backend.write(opts.toBackend);

  backend.on('data', (chunk: Buffer) => {
    pipe.lastFromBackend = chunk;
    pipe.relay(backend, client, chunk);
  });
  client.on('data', (chunk: Buffer) => {
    if (!pipe.compressed && chunk.length <= MAX_COMPRESS_COMMAND_BYTES && isCompressCommand(chunk)) pipe.compressed = true;
    // For the session registry's `idle` state: the client's last chunk was an IDLE command.
    pipe.idling = chunk.length <= MAX_IDLE_COMMAND_BYTES && pipe.notices !== null && isIdleCommand(chunk);
    pipe.relay(client, backend, chunk);
  });
  // Both sockets were paused for the login; they flow now unless the other side is full.
  pipe.start(backend, client);
  pipe.start(client, backend);

  backend.on('end', () => {
    pipe.setReason('backend-closed');
    pipe.endClient(pipe.storeSaidGoodbye() ? null : (pipe.notices?.backendClosed ?? null));
  });
  backend.on('error', () => {
    pipe.setReason('backend-error');
    pipe.endClient(pipe.notices?.backendLost ?? null);
    backend.destroy();
  });
  backend.on('close', () => {
    if (!client.destroyed && !client.writableEnded) pipe.endClient(pipe.notices?.backendLost ?? null);
    pipe.finish();
  });

  client.on('end', () => {
    pipe.setReason('client-closed');
    backend.end();
  });
  client.on('error', () => {
    pipe.setReason('client-error');
    backend.destroy();
  });
  client.on('close', () => {
    backend.destroy();
    pipe.finish();
  });

  // setTimeout(ms) plus a 'timeout' listener that acts once: what setTimeout(ms, callback)
  // does, without the once-wrapper it allocates per session.
  client.setTimeout(opts.idleTimeoutMs);
  client.on('timeout', () => {
    if (pipe.timedOut) return;
    pipe.timedOut = true;
    pipe.setReason('idle-timeout');
    pipe.endClient(pipe.notices?.idle ?? null);
    backend.destroy();
  });

  return pipe;
}

/**
 * The state of one pipe. Its helpers live on the prototype, so a session holds one small
 * object and the socket listeners above, nothing per helper.
 */
class SessionPipe implements PipeHandle {
  readonly client: net.Socket;
  readonly backend: net.Socket;
  readonly notices: PipeNotices | null;
  readonly onClose: (summary: PipeSummary) => void;
  readonly clientRead0: number;
  readonly backendRead0: number;
  lastFromBackend: Buffer;
  reason: PipeCloseReason | null = null;
  byeInjected = false;
  compressed: boolean;
  finished = false;
  openSockets = 2;
  timedOut = false;
  idling = false;
  /** 'drain' listeners, added the first time a side's buffer fills (most sessions never). */
  clientDrain: (() => void) | null = null;
  backendDrain: (() => void) | null = null;

  constructor(client: net.Socket, backend: net.Socket, opts: PipeOptions) {
    this.client = client;
    this.backend = backend;
    this.notices = opts.notices;
    this.onClose = opts.onClose;
    this.clientRead0 = client.bytesRead;
    this.backendRead0 = backend.bytesRead;
    this.lastFromBackend = opts.toClient;
    this.compressed = isCompressCommand(opts.toBackend);
  }

  /** Ends the session from outside (kick, shutdown). */
  close(text: string): void {
    this.setReason('kicked');
    this.endClient(this.notices ? this.notices.kicked(text) : null);
    this.backend.destroy();
  }

  /** Starts `from` flowing, or leaves it paused until `to` drains (as stream.pipe does). */
  start(from: net.Socket, to: net.Socket): void {
    if (to.writableNeedDrain) this.waitDrain(from, to);
    else if (from.readableFlowing !== true) from.resume();
  }

  /**
   * Writes one chunk on, pausing the source while the destination is full. A destination
   * that has ended or been destroyed takes nothing more and the source stays paused: what
   * stream.pipe's unpipe on the destination's finish/close does (the close listeners end
   * or destroy the source as well).
   */
  relay(from: net.Socket, to: net.Socket, chunk: Buffer): void {
    if (to.destroyed || to.writableEnded) {
      from.pause();
      return;
    }
    let flushed: boolean;
    try {
      flushed = to.write(chunk);
    } catch (err) {
      to.destroy(err as Error);
      return;
    }
    if (!flushed) this.waitDrain(from, to);
  }

  waitDrain(from: net.Socket, to: net.Socket): void {
    from.pause();
    if (to === this.client) {
      if (this.clientDrain === null) {
        this.clientDrain = () => from.resume();
        to.on('drain', this.clientDrain);
      }
    } else if (this.backendDrain === null) {
      this.backendDrain = () => from.resume();
      to.on('drain', this.backendDrain);
    }
  }

  finish(): void {
    if (--this.openSockets > 0 || this.finished) return;
    this.finished = true;
    this.onClose({
      reason: this.reason ?? 'client-closed',
      bytesFromClient: this.client.bytesRead - this.clientRead0,
      bytesFromBackend: this.backend.bytesRead - this.backendRead0,
      byeInjected: this.byeInjected,
      compressed: this.compressed,
    });
  }

  setReason(r: PipeCloseReason): void {
    this.reason ??= r;
  }

  /** Ends the client side gracefully (pending writes flushed), then forcibly. */
  endClient(line: string | null): void {
    const client = this.client;
    if (client.destroyed) return;
    if (line !== null && !this.compressed && client.writable) {
      this.byeInjected = true;
      client.write(line);
    }
    client.end();
    setTimeout(() => client.destroy(), 5_000).unref();
  }

  storeSaidGoodbye(): boolean {
    if (this.notices === null) return true;
    const last = this.lastFromBackend;
    const tail = last.subarray(Math.max(0, last.length - TAIL_BYTES));
    return tail.includes(this.notices.storeGoodbye);
  }
}

function isCompressCommand(bytes: Buffer): boolean {
  if (bytes.length === 0) return false;
  // Only the last line matters: a client may pipeline its login and COMPRESS together.
  const text = bytes.subarray(Math.max(0, bytes.length - MAX_COMPRESS_COMMAND_BYTES)).toString('latin1');
  const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
  return COMPRESS_COMMAND.test(lastLine);
}

/** `tag IDLE\r\n` (any case), checked on the bytes without making a string. */
function isIdleCommand(chunk: Buffer): boolean {
  const n = IDLE_TAIL.length;
  if (chunk.length <= n) return false;
  const off = chunk.length - n;
  for (let i = 0; i < n; i++) {
    const b = chunk[off + i] as number;
    const want = IDLE_TAIL[i] as number;
    // ASCII letters compare case-insensitively (0x20 is the case bit).
    if (b !== want && !(want >= 0x41 && want <= 0x5a && b === (want | 0x20))) return false;
  }
  return true;
}
