// A live-feed consumer for tests: a real ws client that records every message it receives
// and how the server closed it.
import { WebSocket } from 'ws';
import { FEED_PROTOCOL, FEED_TOKEN_PROTOCOL_PREFIX } from '../../src/index.ts';

export type FeedMessage = { type: string; [k: string]: unknown };

export class FeedClient {
  readonly ws: WebSocket;
  readonly messages: FeedMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString('utf8')) as FeedMessage);
      this.#wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.#wake();
    });
    ws.on('error', () => {});
  }

  /** Connects; `token` goes in the Authorization header, or as the browser subprotocol with `viaProtocol`. */
  static connect(base: string, opts: { token?: string; viaProtocol?: boolean; origin?: string } = {}): Promise<FeedClient> {
    const url = `${base.replace(/^http/, 'ws')}/api/v1/feed`;
    const protocols = [FEED_PROTOCOL];
    const headers: Record<string, string> = {};
    if (opts.token !== undefined && opts.viaProtocol === true) protocols.push(FEED_TOKEN_PROTOCOL_PREFIX + Buffer.from(opts.token).toString('base64url'));
    else if (opts.token !== undefined) headers['Authorization'] = `Bearer ${opts.token}`;
    if (opts.origin !== undefined) headers['Origin'] = opts.origin;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, { headers });
      const client = new FeedClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      });
      ws.once('error', reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The first message from index `from` on that satisfies `pred`, with its index. */
  async waitFor(pred: (m: FeedMessage) => boolean, from = 0, timeoutMs = 10_000): Promise<{ message: FeedMessage; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.messages.findIndex((m, i) => i >= from && pred(m));
      if (index >= 0) return { message: this.messages[index] as FeedMessage, index };
      if (this.closed !== null) throw new Error(`feed closed (${this.closed.code} ${this.closed.reason}) while waiting`);
      if (Date.now() > deadline) throw new Error(`timeout waiting on the feed; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (this.closed === null) {
      if (Date.now() > deadline) throw new Error('feed not closed');
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.closed;
  }

  close(): void {
    this.ws.terminate();
  }
}
