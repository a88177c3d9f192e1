// One LMTP transaction (RFC 2033) with a back-end store, as the client: greeting, LHLO,
// XCLIENT when the store offers it (the real client's address, so the store's logs and
// Received: header name it), MAIL FROM, one RCPT TO per recipient, DATA with the
// message dot-stuffed (RFC 5321 §4.5.2), then one reply per accepted recipient
// (RFC 2033 §4.2). Each wait is bounded; a store that closes, resets or stalls makes the
// pending step fail with a DeliveryError, which the caller turns into a 4xx reply:
// nothing is acknowledged that the store did not accept.
import net from 'node:net';
import { DeliveryError, DeliveryErrorCode } from './delivery-error.ts';
import { ReplyReader, isPositive, replyText, type SmtpReply } from './smtp-reply.ts';

export interface StoreTarget {
  /** Back-end name, for logs and errors. */
  name: string;
  host: string;
  port: number;
}

/** What Gatehouse knows about the sending client, passed on with XCLIENT. */
export interface ClientIdentity {
  address: string;
  port: number;
  /** The client's EHLO/LHLO name, if any. */
  helo: string | undefined;
  /** Our session id (the `cid` of the logs), sent as XCLIENT SESSION so the store logs it too. */
  sessionId: string;
}

export interface StoreLmtpOptions {
  target: StoreTarget;
  /** Our name in LHLO. */
  localName: string;
  client: ClientIdentity;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  dataTimeoutMs: number;
}

type Waiter = { resolve: (r: SmtpReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** xtext (RFC 3461 §4): `+`, `=` and bytes outside 33..126 as `+HH`. */
export function xtext(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte > 32 && byte < 127 && byte !== 0x2b && byte !== 0x3d ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The message as DATA content: every line starting with "." gets another one
 * (RFC 5321 §4.5.2), a final CRLF if the message lacks one, then ".\r\n". Returns views
 * of the input, not a copy.
 */
export function dotStuff(message: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  if (message.length > 0 && message[0] === 0x2e) out.push(Buffer.from('.'));
  for (let i = message.indexOf('\n.', 0, 'latin1'); i >= 0; i = message.indexOf('\n.', i + 1, 'latin1')) {
    out.push(message.subarray(start, i + 1), Buffer.from('.'));
    start = i + 1;
  }
  out.push(message.subarray(start));
  const endsWithNewline = message.length > 0 && message[message.length - 1] === 0x0a;
  out.push(Buffer.from(endsWithNewline || message.length === 0 ? '.\r\n' : '\r\n.\r\n'));
  return out;
}

export class StoreLmtpClient {
  readonly target: StoreTarget;
  /** LHLO keywords of the store, upper case (first word of each line). */
  capabilities = new Map<string, string>();
  /** True when the store accepted XCLIENT: it knows the real client. */
  xclientAccepted = false;
  /** Recipients the store accepted with RCPT, in order: one DATA reply each. */
  readonly acceptedRecipients: string[] = [];
  readonly #socket: net.Socket;
  readonly #opts: StoreLmtpOptions;
  readonly #reader = new ReplyReader();
  readonly #waiters: Waiter[] = [];
  #closed: Error | null = null;

  private constructor(socket: net.Socket, opts: StoreLmtpOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.target = opts.target;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(this.#unavailable(err.message, err)));
    socket.on('close', () => this.#fail(this.#unavailable('connection closed')));
  }

  /** Connects, reads the greeting, says LHLO and, if offered, XCLIENT. */
  static async open(opts: StoreLmtpOptions): Promise<StoreLmtpClient> {
    const socket = await connect(opts);
    const client = new StoreLmtpClient(socket, opts);
    try {
      await client.#expect(await client.#next(opts.responseTimeoutMs), 220, 'greeting');
      await client.#lhlo();
      const xclient = client.capabilities.get('XCLIENT');
      if (xclient !== undefined) await client.#xclient(xclient);
      return client;
    } catch (err) {
      client.abort();
      throw err;
    }
  }

  async #lhlo(name: string = this.#opts.localName): Promise<void> {
    const r = await this.#command(`LHLO ${name}`);
    await this.#expect(r, 250, 'LHLO');
    this.capabilities = new Map(
      r.lines.slice(1).map((l) => {
        const [word = '', ...rest] = l.trim().split(/\s+/);
        return [word.toUpperCase(), rest.join(' ')];
      }),
    );
  }

  /**
   * XCLIENT (Postfix's XCLIENT_README, implemented by Dovecot's LMTP for peers in
   * login_trusted_networks): the attributes the store names, of ADDR, PORT, HELO, SESSION.
   * A refusal is not fatal (the delivery goes on, and Gatehouse adds a Received: header
   * instead). On success the store greets again and expects a new LHLO.
   */
  async #xclient(offered: string): Promise<void> {
    const names = new Set(offered.toUpperCase().split(/\s+/));
    const c = this.#opts.client;
    const attrs: string[] = [];
    if (names.has('ADDR') && net.isIP(c.address) !== 0) attrs.push(`ADDR=${net.isIPv6(c.address) ? `IPV6:${c.address}` : c.address}`);
    if (names.has('PORT') && c.port > 0) attrs.push(`PORT=${c.port}`);
    if (names.has('HELO') && c.helo !== undefined && c.helo !== '') attrs.push(`HELO=${xtext(c.helo.slice(0, 255))}`);
    if (names.has('SESSION') && /^[A-Za-z0-9_-]{1,64}$/.test(c.sessionId)) attrs.push(`SESSION=${c.sessionId}`);
    if (attrs.length === 0) return;
    const r = await this.#command(`XCLIENT ${attrs.join(' ')}`);
    if (r.code !== 220) return;
    this.xclientAccepted = true;
    // The store now stands for the client: a new LHLO would replace the HELO just given,
    // so it repeats the client's own name when that is a plain host name or address literal.
    const h = c.helo;
    await this.#lhlo(h !== undefined && /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$/.test(h) && h.length <= 255 ? h : this.#opts.localName);
  }

  /** MAIL FROM with the client's BODY= parameter when the store supports 8BITMIME. */
  async mailFrom(sender: string, body: string | undefined): Promise<SmtpReply> {
    const bodyParam = body !== undefined && /^(7BIT|8BITMIME)$/i.test(body) && this.capabilities.has('8BITMIME') ? ` BODY=${body.toUpperCase()}` : '';
    return this.#command(`MAIL FROM:<${sender}>${bodyParam}`);
  }

  async rcptTo(address: string): Promise<SmtpReply> {
    const r = await this.#command(`RCPT TO:<${address}>`);
    if (isPositive(r)) this.acceptedRecipients.push(address);
    return r;
  }

  /**
   * Sends the message and returns one reply per accepted recipient, in RCPT order
   * (RFC 2033 §4.2). Throws a DeliveryError when the store fails before every reply
   * arrived: the caller answers 4xx for the recipients without a reply.
   */
  async data(message: Buffer, onReply?: (index: number, reply: SmtpReply) => void): Promise<SmtpReply[]> {
    const go = await this.#command('DATA');
    if (go.code !== 354) throw new DeliveryError(DeliveryErrorCode.STORE_PROTOCOL, `store ${this.target.name} answered DATA with ${go.code} ${replyText(go)}`);
    for (const part of dotStuff(message)) this.#socket.write(part);
    const replies: SmtpReply[] = [];
    for (let i = 0; i < this.acceptedRecipients.length; i++) {
      const r = await this.#next(this.#opts.dataTimeoutMs);
      replies.push(r);
      onReply?.(i, r);
    }
    return replies;
  }

  /** Says QUIT and closes, without waiting for anything. */
  quit(): void {
    if (this.#closed !== null) return;
    this.#closed = this.#unavailable('closed by Gatehouse');
    this.#socket.end('QUIT\r\n');
    this.#socket.setTimeout(this.#opts.responseTimeoutMs, () => this.#socket.destroy());
  }

  abort(): void {
    this.#closed ??= this.#unavailable('aborted by Gatehouse');
    this.#socket.destroy();
  }

  async #command(line: string): Promise<SmtpReply> {
    if (this.#closed !== null) throw this.#closed;
    this.#socket.write(`${line}\r\n`);
    return this.#next(this.#opts.responseTimeoutMs);
  }

  async #expect(r: SmtpReply, code: number, what: string): Promise<void> {
    if (r.code !== code) {
      throw new DeliveryError(r.code >= 400 && r.code < 500 ? DeliveryErrorCode.STORE_UNAVAILABLE : DeliveryErrorCode.STORE_PROTOCOL, `store ${this.target.name} ${what}: ${r.code} ${replyText(r)}`);
    }
  }

  #next(timeoutMs: number): Promise<SmtpReply> {
    const ready = this.#reader.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#closed !== null) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const err = new DeliveryError(DeliveryErrorCode.STORE_TIMEOUT, `store ${this.target.name} did not answer within ${timeoutMs} ms`);
          this.#fail(err);
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  #onData(chunk: Buffer): void {
    this.#reader.feed(chunk);
    if (this.#reader.error !== null) {
      this.#fail(new DeliveryError(DeliveryErrorCode.STORE_PROTOCOL, `store ${this.target.name}: ${this.#reader.error}`));
      return;
    }
    while (this.#waiters.length > 0 && this.#reader.replies.length > 0) {
      const w = this.#waiters.shift() as Waiter;
      clearTimeout(w.timer);
      w.resolve(this.#reader.replies.shift() as SmtpReply);
    }
  }

  /** Ends the connection and rejects every pending wait (once; later calls only add nothing). */
  #fail(err: Error): void {
    this.#closed ??= err;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  #unavailable(message: string, cause?: unknown): DeliveryError {
    return new DeliveryError(DeliveryErrorCode.STORE_UNAVAILABLE, `store ${this.target.name} (${this.target.host}:${this.target.port}): ${message}`, cause === undefined ? undefined : { cause });
  }
}

function connect(opts: StoreLmtpOptions): Promise<net.Socket> {
  const { target } = opts;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DeliveryError(DeliveryErrorCode.STORE_TIMEOUT, `store ${target.name} (${target.host}:${target.port}) did not accept in ${opts.connectTimeoutMs} ms`));
    }, opts.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new DeliveryError(DeliveryErrorCode.STORE_UNAVAILABLE, `store ${target.name} (${target.host}:${target.port}): ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
  });
}
