// The hot path: after login the client and its store exchange bytes untouched (that is
// what lets IDLE, COMPRESS, APPEND of large literals and every later extension work).
// Node's stream.pipe gives backpressure both ways; the only per-chunk work here is one
// assignment (the back-end's latest chunk, read at close to see whether it said BYE).
import type net from 'node:net';

const BYE_MARK = Buffer.from('* BYE ');
const TAIL_BYTES = 512;

export interface PipeOptions {
  /** Bytes the client pipelined behind its login, sent to the store first. */
  toBackend: Buffer;
  /** Bytes the store sent behind its login answer, sent to the client first. */
  toClient: Buffer;
  idleTimeoutMs: number;
  onClose: (summary: PipeSummary) => void;
}

export type PipeCloseReason = 'client-closed' | 'backend-closed' | 'backend-error' | 'client-error' | 'idle-timeout' | 'kicked';

export interface PipeSummary {
  reason: PipeCloseReason;
  bytesFromClient: number;
  bytesFromBackend: number;
  /** A `* BYE` was written by Gatehouse because the store went away without one. */
  byeInjected: boolean;
}

export interface PipeHandle {
  /** Ends the session from outside (kick, shutdown) with a BYE the client can read. */
  close(text: string): void;
}

export function pipeSession(client: net.Socket, backend: net.Socket, opts: PipeOptions): PipeHandle {
  const clientRead0 = client.bytesRead;
  const backendRead0 = backend.bytesRead;
  let lastFromBackend: Buffer = opts.toClient;
  let reason: PipeCloseReason | null = null;
  let byeInjected = false;
  let finished = false;
  let openSockets = 2;

  const finish = (): void => {
    if (--openSockets > 0 || finished) return;
    finished = true;
    opts.onClose({
      reason: reason ?? 'client-closed',
      bytesFromClient: client.bytesRead - clientRead0,
      bytesFromBackend: backend.bytesRead - backendRead0,
      byeInjected,
    });
  };
  const setReason = (r: PipeCloseReason): void => {
    reason ??= r;
  };
  /** Ends the client side gracefully (pending writes flushed), then forcibly. */
  const endClient = (bye: string | null): void => {
    if (client.destroyed) return;
    if (bye !== null && client.writable) {
      byeInjected = true;
      client.write(bye);
    }
    client.end();
    setTimeout(() => client.destroy(), 5_000).unref();
  };
  const saidBye = (): boolean => {
    const tail = lastFromBackend.subarray(Math.max(0, lastFromBackend.length - TAIL_BYTES));
    return tail.includes(BYE_MARK);
  };

  if (opts.toClient.length > 0) client.write(opts.toClient);
  if (opts.toBackend.length > 0) backend.write(opts.toBackend);

  backend.on('data', (chunk: Buffer) => {
    lastFromBackend = chunk;
  });
  backend.pipe(client, { end: false });
  client.pipe(backend, { end: false });

  backend.on('end', () => {
    setReason('backend-closed');
    endClient(saidBye() ? null : '* BYE [UNAVAILABLE] The mail store closed the connection.\r\n');
  });
  backend.on('error', () => {
    setReason('backend-error');
    endClient('* BYE [UNAVAILABLE] Lost the connection to the mail store.\r\n');
    backend.destroy();
  });
  backend.on('close', () => {
    if (!client.destroyed && !client.writableEnded) endClient('* BYE [UNAVAILABLE] Lost the connection to the mail store.\r\n');
    finish();
  });

  client.on('end', () => {
    setReason('client-closed');
    backend.end();
  });
  client.on('error', () => {
    setReason('client-error');
    backend.destroy();
  });
  client.on('close', () => {
    backend.destroy();
    finish();
  });

  client.setTimeout(opts.idleTimeoutMs, () => {
    setReason('idle-timeout');
    endClient('* BYE Autologout; idle for too long.\r\n');
    backend.destroy();
  });

  return {
    close(text: string): void {
      setReason('kicked');
      endClient(`* BYE ${text}\r\n`);
      backend.destroy();
    },
  };
}
