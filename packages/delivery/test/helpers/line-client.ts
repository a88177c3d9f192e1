// An SMTP/LMTP client on a real socket, one command at a time, for what smtplib and
// swaks do not let a test do: stop in the middle of DATA, keep a session open across a
// reload, STARTTLS with a chosen SNI name and look at the certificate shown.
import net from 'node:net';
import tls from 'node:tls';

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

  static connect(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
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

  /** One reply (RFC 5321 §4.2: `250-` lines, then `250 `), as its lines. */
  async reply(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      out.push(l);
      if (/^\d{3}(?: |$)/.test(l)) return out;
    }
  }

  async cmd(text: string): Promise<string[]> {
    this.socket.write(`${text}\r\n`);
    return this.reply();
  }

  /** STARTTLS (RFC 3207) and the handshake on the same socket, asking for `servername`; the certificate is not verified. */
  async starttls(servername: string): Promise<string[]> {
    const r = await this.cmd('STARTTLS');
    if (!r.at(-1)?.startsWith('220 ')) return r;
    const raw = this.socket;
    raw.off('data', this.onData);
    this.socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, servername, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    this.attach(this.socket);
    return r;
  }

  /** Subject CN of the certificate the server showed. */
  get certificateCn(): string {
    return String((this.socket as tls.TLSSocket).getPeerCertificate().subject.CN);
  }

  close(): void {
    this.socket.destroy();
  }
}
