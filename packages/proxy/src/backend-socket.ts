// Opening a connection to a back-end store, shared by the IMAP and POP3 back-end logins:
// TCP or TLS from
// the first byte with a connect timeout, the TLS upgrade after a STARTTLS/STLS, and the
// mapping of socket and TLS failures to ProxyError codes.
import net from 'node:net';
import tls from 'node:tls';
import { ProxyError, ProxyErrorCode } from './proxy-error.ts';

export type BackendTlsMode = 'none' | 'starttls' | 'implicit';

export interface BackendTarget {
  name: string;
  host: string;
  port: number;
  tls: BackendTlsMode;
  /** Verify the back-end's certificate chain and name; off accepts self-signed stores. */
  tlsVerify: boolean;
}

export interface BackendTimeouts {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

/** SNI may carry a host name only, never an IP address (RFC 6066 §3). */
export function servername(host: string): string | undefined {
  return net.isIP(host) === 0 ? host : undefined;
}

export function openBackendSocket(target: BackendTarget, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      target.tls === 'implicit'
        ? tls.connect({ host: target.host, port: target.port, rejectUnauthorized: target.tlsVerify, servername: servername(target.host) })
        : net.connect({ host: target.host, port: target.port });
    const ready = target.tls === 'implicit' ? 'secureConnect' : 'connect';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ProxyError(ProxyErrorCode.BACKEND_TIMEOUT, `back-end ${target.name} (${target.host}:${target.port}) did not accept in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 60_000);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      // Socket-level failures (refused, unreachable, reset) mean the store is down; anything
      // else on an implicit-TLS connect is the TLS handshake (certificate, protocol, alert).
      const errno = (err as NodeJS.ErrnoException).code;
      const socketLevel = errno !== undefined && /^E[A-Z]+$/.test(errno) && !errno.startsWith('ERR_');
      const code = target.tls === 'implicit' && !socketLevel ? ProxyErrorCode.BACKEND_TLS : ProxyErrorCode.BACKEND_UNAVAILABLE;
      reject(new ProxyError(code, `back-end ${target.name} (${target.host}:${target.port}): ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
  });
}

/** Starts TLS on `socket` as a client and waits for the handshake. */
export function upgradeBackendSocket(socket: net.Socket, target: BackendTarget, timeoutMs: number): Promise<tls.TLSSocket> {
  const secure = tls.connect({ socket, rejectUnauthorized: target.tlsVerify, servername: servername(target.host) });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new ProxyError(ProxyErrorCode.BACKEND_TIMEOUT, `back-end ${target.name} TLS handshake timed out`));
    }, timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      resolve(secure);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new ProxyError(ProxyErrorCode.BACKEND_TLS, `back-end ${target.name} TLS: ${err.message}`, { cause: err }));
    };
    secure.once('error', onError);
  });
}
