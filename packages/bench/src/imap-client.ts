// A deliberately tiny IMAP client over implicit TLS, for measuring: it reads lines (and
// skips literals inside them), times single commands, and for big FETCHes only counts
// bytes until the tagged reply, so client-side parsing never dominates a figure.
// Every wait is bounded: a read that sees no byte for `ioTimeoutMs` destroys the socket.
import tls from 'node:tls';

export type TlsTarget = {
  host: string;
  port: number;
  /** Name checked against the server certificate. */
  servername: string;
  /** PEM trusted as the CA (the self-signed server certificate). */
  ca: string;
};

export type Tagged = { status: 'OK' | 'NO' | 'BAD'; text: string; untagged: string[] };

const CRLF = Buffer.from('\r\n');
const LITERAL_AT_END = /\{(\d{1,10})\+?\}$/;
const TAIL_BYTES = 512;

type CountState = {
  done: RegExp;
  total: number;
  tail: Buffer;
  resolve: (bytes: number, tail: string) => void;
};

export class ImapConnection {
  readonly socket: tls.TLSSocket;
  #buf: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #failure: Error | undefined;
  #closed = false;
  #tagNo = 0;
  #count: CountState | undefined;

  private constructor(socket: tls.TLSSocket, ioTimeoutMs: number) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(ioTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => {
      this.#closed = true;
      this.#fail(new Error('connection closed by the server'));
    });
    // Only a pending read is an I/O timeout; an idle session with nothing asked stays.
    socket.on('timeout', () => {
      if (this.#wake !== undefined || this.#count !== undefined) socket.destroy(new Error(`no data for ${ioTimeoutMs} ms`));
    });
  }

  /** Connects, completes the TLS handshake and reads the `* OK` greeting. */
  static async connect(target: TlsTarget, ioTimeoutMs = 30_000): Promise<ImapConnection> {
    const socket = tls.connect({ host: target.host, port: target.port, servername: target.servername, ca: target.ca });
    const conn = new ImapConnection(socket, ioTimeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`TLS connect to ${target.host}:${target.port} timed out`)), ioTimeoutMs);
        socket.once('secureConnect', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      const greeting = await conn.readLine();
      if (!greeting.startsWith('* OK')) throw new Error(`unexpected greeting: ${greeting.slice(0, 200)}`);
      return conn;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onData(chunk: Buffer): void {
    const count = this.#count;
    if (count !== undefined) {
      count.total += chunk.length;
      count.tail = chunk.length >= TAIL_BYTES ? chunk.subarray(chunk.length - TAIL_BYTES) : Buffer.concat([count.tail, chunk]).subarray(-TAIL_BYTES);
      const tail = count.tail.toString('latin1');
      if (count.done.test(tail)) {
        this.#count = undefined;
        count.resolve(count.total, tail);
      }
      return;
    }
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#wakeUp();
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** One whole response line (literals inside it included), or undefined if incomplete. */
  #takeLine(): string | undefined {
    let from = 0;
    for (;;) {
      const idx = this.#buf.indexOf(CRLF, from);
      if (idx < 0) return undefined;
      const m = LITERAL_AT_END.exec(this.#buf.toString('latin1', Math.max(from, idx - 14), idx));
      if (m === null) {
        const line = this.#buf.toString('latin1', 0, idx);
        this.#buf = this.#buf.subarray(idx + 2);
        return line;
      }
      const next = idx + 2 + Number(m[1]);
      if (next > this.#buf.length) return undefined;
      from = next;
    }
  }

  async readLine(): Promise<string> {
    for (;;) {
      const line = this.#takeLine();
      if (line !== undefined) return line;
      if (this.#failure !== undefined) throw this.#failure;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #nextTag(): string {
    this.#tagNo += 1;
    return `b${this.#tagNo}`;
  }

  async #readTagged(tag: string): Promise<Tagged> {
    const untagged: string[] = [];
    for (;;) {
      const line = await this.readLine();
      if (line.startsWith(`${tag} `)) {
        const rest = line.slice(tag.length + 1);
        const status = rest.slice(0, rest.indexOf(' ') < 0 ? rest.length : rest.indexOf(' ')).toUpperCase();
        if (status !== 'OK' && status !== 'NO' && status !== 'BAD') throw new Error(`malformed tagged reply: ${line.slice(0, 200)}`);
        return { status, text: rest, untagged };
      }
      untagged.push(line);
    }
  }

  /** Sends one command and waits for its tagged reply; throws unless it is OK (by default). */
  async command(text: string, opts: { allowNo?: boolean } = {}): Promise<Tagged> {
    const tag = this.#nextTag();
    this.socket.write(`${tag} ${text}\r\n`);
    const reply = await this.#readTagged(tag);
    if (reply.status !== 'OK' && !(opts.allowNo === true && reply.status === 'NO')) {
      throw new Error(`${text.split(' ')[0] ?? text} failed: ${tag} ${reply.text.slice(0, 300)}`);
    }
    return reply;
  }

  login(user: string, password: string): Promise<Tagged> {
    return this.command(`LOGIN ${quoted(user)} ${quoted(password)}`);
  }

  /** APPEND with a synchronizing literal (works on any IMAP4rev1 server). */
  async append(mailbox: string, message: Buffer, flags = '(\\Seen)'): Promise<void> {
    const tag = this.#nextTag();
    this.socket.write(`${tag} APPEND ${quoted(mailbox)} ${flags} {${message.length}}\r\n`);
    for (;;) {
      const line = await this.readLine();
      if (line.startsWith('+')) break;
      if (line.startsWith(`${tag} `)) throw new Error(`APPEND refused: ${line.slice(0, 300)}`);
    }
    this.socket.write(message);
    this.socket.write('\r\n');
    const reply = await this.#readTagged(tag);
    if (reply.status !== 'OK') throw new Error(`APPEND failed: ${reply.text.slice(0, 300)}`);
  }

  /**
   * Sends `text` and counts every byte received until its tagged reply, without parsing
   * the untagged data. Resolves with the byte count; throws if the reply is not OK.
   */
  async countBytes(text: string): Promise<number> {
    if (this.#buf.length !== 0) throw new Error('countBytes with unread data pending');
    const tag = this.#nextTag();
    const done = new RegExp(`(?:^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`);
    const result = await new Promise<{ bytes: number; tail: string }>((resolve, reject) => {
      const onClose = (): void => {
        this.#count = undefined;
        reject(this.#failure ?? new Error('connection closed while counting a reply'));
      };
      this.socket.once('close', onClose);
      this.#count = {
        done,
        total: 0,
        tail: Buffer.alloc(0),
        resolve: (bytes, tail) => {
          this.socket.off('close', onClose);
          resolve({ bytes, tail });
        },
      };
      this.socket.write(`${tag} ${text}\r\n`);
    });
    const status = done.exec(result.tail)?.[1];
    if (status !== 'OK') throw new Error(`${text.split(' ')[0] ?? text} failed: ${result.tail.slice(result.tail.lastIndexOf(`${tag} `)).trim().slice(0, 300)}`);
    return result.bytes;
  }

  /** LOGOUT, then closes the socket (does not wait for the server's close). */
  async logout(): Promise<void> {
    try {
      await this.command('LOGOUT');
    } finally {
      this.socket.destroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An IMAP quoted string (the bench's own names and passwords never need a literal). */
function quoted(s: string): string {
  if (/[\r\n\0]/.test(s)) throw new Error('CR, LF or NUL cannot be quoted');
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
