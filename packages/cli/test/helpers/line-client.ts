// A client on a real socket for the line protocols `gatehouse serve` speaks (IMAP, LMTP):
// the lines received, in order, and STARTTLS in place, so a test can keep a session open
// across a reload and look at the certificate each connection was shown.
import net from 'node:net';
import tls from 'node:tls';

export interface TrustOptions {
  /** The certificates this client trusts. */
  ca: string[];
  servername: string;
}

export class LineClient {
  socket: net.Socket;
  readonly lines: string[] = [];
  closed = false;
  private buf = '';
  private read = 0;
  private wake: (() => void) | null = null;
  private readonly onData = (d: Buffer): void => {
    this.buf += d.toString('latin1');
    for (let i = this.buf.indexOf('\r\n'); i >= 0; i = this.buf.indexOf('\r\n')) {
      this.lines.push(this.buf.slice(0, i));
      this.buf = this.buf.slice(i + 2);
    }
    this.wake?.();
  };

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static plain(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  /** Implicit TLS, verifying the certificate against `ca` for `servername`. */
  static tls(port: number, trust: TrustOptions): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: trust.ca, servername: trust.servername }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  /** The next line not read yet. */
  async line(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.lines.length) {
      if (this.closed) throw new Error(`closed; lines: ${JSON.stringify(this.lines)}`);
      if (Date.now() > deadline) throw new Error(`no line; lines: ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
    return this.lines[this.read++] as string;
  }

  /** One SMTP/LMTP reply (RFC 5321 §4.2: `250-` lines, then `250 `), as its lines. */
  async reply(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      out.push(l);
      if (/^\d{3}(?: |$)/.test(l)) return out;
    }
  }

  /** Sends one SMTP/LMTP command line and returns its reply. */
  async cmd(text: string): Promise<string[]> {
    this.socket.write(`${text}\r\n`);
    return this.reply();
  }

  /** Sends `tag text` (IMAP) and returns the lines up to the tagged answer. */
  async imap(tag: string, text: string): Promise<string[]> {
    this.socket.write(`${tag} ${text}\r\n`);
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      out.push(l);
      if (l.startsWith(`${tag} `)) return out;
    }
  }

  /**
   * STARTTLS (RFC 3207), then the handshake on the same socket, verified against `trust`.
   * `anyName`: accept a certificate (from a trusted issuer) that does not name `servername`.
   */
  async starttls(trust: TrustOptions, anyName = false): Promise<string[]> {
    const r = await this.cmd('STARTTLS');
    if (!r.at(-1)?.startsWith('220 ')) return r;
    const raw = this.socket;
    raw.off('data', this.onData);
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, ca: trust.ca, servername: trust.servername, ...(anyName ? { checkServerIdentity: () => undefined } : {}) }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return r;
  }

  /** CN of the certificate the server showed, and whether this client verified it. */
  get certificate(): { cn: string; authorized: boolean } {
    const s = this.socket as tls.TLSSocket;
    return { cn: String(s.getPeerCertificate().subject.CN), authorized: s.authorized };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** What connecting to `port` gives: 'connected', or the error code (ECONNREFUSED for a closed listener). */
export function connectResult(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
