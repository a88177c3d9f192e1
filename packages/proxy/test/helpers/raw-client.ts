// A deliberately dumb IMAP (or POP3: it is line-based) client on a real socket: sends exactly the bytes a test gives
// and returns exactly the lines it receives, so tests can do what no polite client does
// (pipeline behind STARTTLS, send over-long lines, inject CR/LF).
import net from 'node:net';
import tls from 'node:tls';

export class RawClient {
  socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  /** `localAddress` picks the client's source address (any of 127.0.0.0/8 works on loopback). */
  static async connect(port: number, opts: { tls?: boolean; caPem?: string; localAddress?: string; host?: string; servername?: string } = {}): Promise<RawClient> {
    const local = opts.localAddress === undefined ? {} : { localAddress: opts.localAddress };
    const host = opts.host ?? '127.0.0.1';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = opts.tls
        ? tls.connect({ host, port, ca: opts.caPem, servername: opts.servername ?? 'localhost', ...local }, () => resolve(s))
        : net.connect({ host, port, ...local }, () => resolve(s));
      s.once('error', reject);
    });
    return new RawClient(socket);
  }

  private listen(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Bytes received but not yet read as lines (e.g. the start of a compressed stream). */
  takeBuffered(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Next CRLF-terminated line, without CRLF; null once the server closed. */
  async line(timeoutMs = 10_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for a line (have ${JSON.stringify(this.buf.toString('latin1'))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Lines up to and including the tagged completion of `tag`. */
  async until(tag: string): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === null) throw new Error(`closed before ${tag} completed; got ${JSON.stringify(out)}`);
      out.push(l);
      if (l.startsWith(`${tag} `)) return out;
    }
  }

  /** Sends a command and returns its lines up to the tagged completion. */
  async cmd(tag: string, text: string): Promise<string[]> {
    this.send(`${tag} ${text}\r\n`);
    return this.until(tag);
  }

  /** Lines until the server closes. */
  async rest(): Promise<string[]> {
    const out: string[] = [];
    for (let l = await this.line(); l !== null; l = await this.line()) out.push(l);
    return out;
  }

  async startTls(caPem: string): Promise<void> {
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket, ca: caPem, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buf = Buffer.alloc(0);
    this.listen(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}
