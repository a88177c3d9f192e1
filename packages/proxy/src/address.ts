// Client addresses are normalised once, at accept time: a dual-stack Node socket reports
// IPv4 clients as "::ffff:a.b.c.d", which naive CIDR rules and logs would treat as IPv6
// (anchors-proxy.md §8.8).
import net from 'node:net';

export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1] !== undefined && net.isIPv4(mapped[1])) return mapped[1];
  return address;
}

/** A client as a PROXY protocol header names it (address already canonical). */
export interface ClientEndpoint {
  readonly address: string;
  readonly port: number;
}
