// A deliberately small client for talking IMAP/POP3/LMTP on the wire in tests: send
// exact bytes, read CRLF lines (and IMAP literals), upgrade to TLS in place (STARTTLS,
// STLS) and switch to DEFLATE (IMAP COMPRESS, RFC 4978). Assertions stay on the real
// wire text instead of a client library's interpretation.
import { once } from 'node:events';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import tls from 'node:tls';
import zlib from 'node:zlib';

export type TlsOptions = { ca: string; servername: string };

export class LineClient {
  socket: net.Socket;
  private input: Readable;
  private output: Writable;
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;
  private tagCounter = 0;
  private deflater: zlib.DeflateRaw | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.input = socket;
    this.output = socket;
    this.attach(socket);
  }

  static async connect(port: number, tlsOptions?: TlsOptions): Promise<LineClient> {
    const socket = tlsOptions
      ? tls.connect({ host: '127.0.0.1', port, ca: tlsOptions.ca, servername: tlsOptions.servername })
      : net.connect({ host: '127.0.0.1', port });
    await once(socket, tlsOptions ? 'secureConnect' : 'connect');
    return new LineClient(socket);
  }

  private attach(stream: Readable): void {
    stream.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    stream.on('error', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  private async waitForData(): Promise<void> {
    if (this.ended) throw new Error(`connection ended; unread: ${JSON.stringify(this.buffer.toString('latin1'))}`);
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
  }

  async readLine(): Promise<string> {
    for (;;) {
      const at = this.buffer.indexOf('\r\n');
      if (at >= 0) {
        const line = this.buffer.subarray(0, at).toString('latin1');
        this.buffer = this.buffer.subarray(at + 2);
        return line;
      }
      await this.waitForData();
    }
  }

  async readBytes(count: number): Promise<Buffer> {
    while (this.buffer.length < count) await this.waitForData();
    const out = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return out;
  }

  write(text: string | Buffer): void {
    if (this.deflater) {
      this.deflater.write(text);
      this.deflater.flush(zlib.constants.Z_SYNC_FLUSH);
    } else {
      this.output.write(text);
    }
  }

  nextTag(): string {
    this.tagCounter += 1;
    return `t${this.tagCounter}`;
  }

  /** Sends `TAG text` and returns every response up to and including the tagged one. */
  async imap(text: string): Promise<{ untagged: string[]; tagged: string; literals: Buffer[] }> {
    const tag = this.nextTag();
    this.write(`${tag} ${text}\r\n`);
    const untagged: string[] = [];
    const literals: Buffer[] = [];
    for (;;) {
      let line = await this.readLine();
      // A line ending in {n} announces a literal of n bytes; the response continues after it.
      for (let m = /\{(\d+)\}$/.exec(line); m; m = /\{(\d+)\}$/.exec(line)) {
        literals.push(await this.readBytes(Number(m[1])));
        line += `<literal>${await this.readLine()}`;
      }
      if (line.startsWith(`${tag} `)) return { untagged, tagged: line.slice(tag.length + 1), literals };
      untagged.push(line);
    }
  }

  /** Replaces the plain socket with TLS on the same connection (after STARTTLS/STLS OK). */
  async upgradeTls(options: TlsOptions): Promise<void> {
    if (this.buffer.length > 0) throw new Error('bytes pipelined behind STARTTLS');
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('end');
    const secure = tls.connect({ socket: this.socket, ca: options.ca, servername: options.servername });
    await once(secure, 'secureConnect');
    this.socket = secure;
    this.input = secure;
    this.output = secure;
    this.attach(secure);
  }

  /** Switches both directions to raw DEFLATE (after `COMPRESS DEFLATE` OK). */
  startDeflate(): void {
    this.socket.removeAllListeners('data');
    const inflater = zlib.createInflateRaw();
    this.socket.pipe(inflater);
    this.input = inflater;
    this.attach(inflater);
    this.deflater = zlib.createDeflateRaw();
    this.deflater.pipe(this.socket);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function saslPlain(authzid: string, authcid: string, password: string): string {
  return Buffer.from(`${authzid}\0${authcid}\0${password}`).toString('base64');
}
