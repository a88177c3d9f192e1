// An IMAP or POP3 client on a real TLS socket (admin and CLI tests) that records exactly the lines it receives
// and when the server closed, so tests can assert a kick's `* BYE` or a silent close.
import tls from 'node:tls';

export class LineClient {
  readonly socket: tls.TLSSocket;
  lines: string[] = [];
  closedAt: number | null = null;
  private buf = '';
  private waiters: Array<() => void> = [];

  private constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closedAt = Date.now();
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, ca: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      this.waiters.push(r);
      setTimeout(r, ms);
    });
  }

  /** The first received line matching `re`, from line `from` on. */
  async waitLine(re: RegExp, from = 0, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (this.closedAt !== null) throw new Error(`closed before ${re}: ${JSON.stringify(this.lines)}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}: ${JSON.stringify(this.lines)}`);
      await this.wait(100);
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closedAt === null) {
      if (Date.now() > deadline) throw new Error('not closed');
      await this.wait(50);
    }
    return this.closedAt;
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }
}

export async function imapLogin(port: number, ca: string, user: string, password: string): Promise<LineClient> {
  const c = await LineClient.connect(port, ca);
  await c.waitLine(/^\* OK/);
  c.send(`a LOGIN ${user} "${password}"`);
  await c.waitLine(/^a (OK|NO)/);
  return c;
}

export async function pop3Login(port: number, ca: string, user: string, password: string): Promise<LineClient> {
  const c = await LineClient.connect(port, ca);
  await c.waitLine(/^\+OK/);
  c.send(`USER ${user}`);
  await c.waitLine(/^[+-]/, 1);
  c.send(`PASS ${password}`);
  await c.waitLine(/^[+-]/, 2);
  return c;
}
