// Finds loopback ports nobody is listening on, for services that cannot be told to
// listen on port 0 and report back (redis-server, dovecot). The port is only free at
// the moment we close our probe socket, so callers must retry when the service then
// fails to bind (another process may have taken it in between).
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  if (port === undefined) throw new Error('no free port');
  return port;
}

/** `count` distinct free ports: all probes are held open together, then closed. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      server.listen(0, host);
      await once(server, 'listening');
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))),
    );
  }
}
