// Connections open at once per virtual server and per (virtual server, client address) on
// this node, for the connection limits checked at accept time. Synchronous and in memory:
// the accept path never waits for Redis (limits.ts explains why the limits are per node).

export type ConnectionLimitHit = 'limit-total' | 'limit-client';

export class ConnectionCounter {
  readonly #total = new Map<string, number>();
  readonly #perClient = new Map<string, number>();

  /**
   * Counts one more connection if both limits allow it (0 means no limit) and returns the
   * function that gives it back (idempotent), or which limit was hit.
   */
  acquire(vserver: string, clientAddress: string, maxTotal: number, maxPerClient: number): (() => void) | ConnectionLimitHit {
    const total = this.#total.get(vserver) ?? 0;
    if (maxTotal > 0 && total >= maxTotal) return 'limit-total';
    // A NUL cannot occur in a virtual server name, so the key is unambiguous.
    const key = `${vserver}\0${clientAddress}`;
    const mine = this.#perClient.get(key) ?? 0;
    if (maxPerClient > 0 && mine >= maxPerClient) return 'limit-client';
    this.#total.set(vserver, total + 1);
    this.#perClient.set(key, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#dec(this.#total, vserver);
      this.#dec(this.#perClient, key);
    };
  }

  /** Open connections of a virtual server (and of one of its client addresses). */
  count(vserver: string, clientAddress?: string): number {
    return clientAddress === undefined ? (this.#total.get(vserver) ?? 0) : (this.#perClient.get(`${vserver}\0${clientAddress}`) ?? 0);
  }

  #dec(map: Map<string, number>, key: string): void {
    const n = (map.get(key) ?? 0) - 1;
    // Entries go when they reach zero: a scan from many addresses leaves nothing behind.
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  }
}
