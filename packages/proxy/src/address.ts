// Client addresses are normalised once, at accept time: a dual-stack Node socket reports
// IPv4 clients as "::ffff:a.b.c.d", which naive CIDR rules and logs would treat as IPv6
// (anchors-proxy.md §8.8).
import net from 'node:net';

export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1] !== undefined && net.isIPv4(mapped[1])) return mapped[1];
  return address;
}

/** An address (canonical text) and port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** A client as a PROXY protocol header names it (address already canonical). */
export interface ClientEndpoint extends Endpoint {
  /**
   * The header's destination: where the client connected on the balancer (its public
   * address and port, e.g. 993). Behind a balancer this, not the node's own socket, is
   * what the store should see as the connected address (IMAP ID x-connected-ip).
   * Absent for LOCAL headers and address-less families.
   */
  readonly destination?: Endpoint;
}
