// Reads the PROXY protocol header (v1 or v2) from a freshly accepted socket, before any
// other byte is interpreted: the socket adapter around @gatehouse/protocol's
// ProxyHeaderReader. Bytes that arrived behind the header are put back (unshift) for the
// session or the TLS layer, and the socket is left paused. A missing, malformed or late
// header is a failure: the caller closes the connection (anchors-proxy.md §8.9: never
// guess whether a header is present).
import type net from 'node:net';
import { ProxyHeaderReader } from '@gatehouse/protocol';
import { formatIp, parseIp } from '@gatehouse/policy';
import type { ClientEndpoint } from './address.ts';

export type ProxyHeaderRead =
  | { ok: true; /** null: LOCAL or an address-less family; use the connection's own. */ client: ClientEndpoint | null }
  | { ok: false; code: string; reason: string };

export function readProxyHeader(socket: net.Socket, timeoutMs: number): Promise<ProxyHeaderRead> {
  return new Promise((resolve) => {
    const reader = new ProxyHeaderReader();
    let rest: Buffer | null = null;
    const finish = (r: ProxyHeaderRead): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onEnd);
      socket.off('end', onEnd);
      socket.pause();
      // Only now, with no 'data' listener and paused: unshift in flowing mode re-emits at once.
      if (r.ok && rest !== null && rest.length > 0) socket.unshift(rest);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      const r = reader.push(chunk);
      if (r.state === 'need-more') return;
      if (r.state === 'error') return finish({ ok: false, code: r.code, reason: r.reason });
      rest = r.rest;
      const src = r.header.command === 'proxy' ? r.header.source : null;
      if (src === null) return finish({ ok: true, client: null });
      // One canonical text per address (IPv4-mapped → IPv4, IPv6 compressed), as for accepted sockets.
      const ip = parseIp(src.address);
      if (ip === null) return finish({ ok: false, code: 'ERR_PROXY_HEADER', reason: 'source address does not parse' });
      const dst = r.header.destination;
      const dstIp = dst === null ? null : parseIp(dst.address);
      if (dst !== null && dstIp === null) return finish({ ok: false, code: 'ERR_PROXY_HEADER', reason: 'destination address does not parse' });
      const destination = dst === null || dstIp === null ? {} : { destination: { address: formatIp(dstIp), port: dst.port } };
      finish({ ok: true, client: { address: formatIp(ip), port: src.port, ...destination } });
    };
    const onEnd = (): void => finish({ ok: false, code: 'ERR_PROXY_HEADER', reason: 'closed before the header' });
    const timer = setTimeout(() => finish({ ok: false, code: 'ERR_PROXY_HEADER', reason: 'no header in time' }), timeoutMs);
    socket.on('data', onData);
    socket.once('error', onEnd);
    socket.once('end', onEnd);
  });
}
