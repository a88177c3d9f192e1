// A scripted LMTP store on a real loopback socket, for what a real Dovecot will not do
// on demand: accept the recipients, then hang up in the middle of DATA (or after the
// final dot without answering). Records whether the full message ever arrived.
import net from 'node:net';
import type { Test } from 'tap';

export interface ScriptedStore {
  port: number;
  /** Messages received up to their final dot (should stay empty for a failing store). */
  completed: number;
  /** Connections accepted. */
  connections: number;
}

export type StoreScript = 'close-during-data' | 'close-after-dot' | 'tempfail-rcpt';

export async function startScriptedStore(t: Test, script: StoreScript): Promise<ScriptedStore> {
  const state: ScriptedStore = { port: 0, completed: 0, connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let inData = false;
    let buffer = '';
    let dataBytes = 0;
    socket.write('220 scripted LMTP ready\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (inData) {
        dataBytes += chunk.length;
        buffer += chunk.toString('latin1');
        if (script === 'close-during-data' && dataBytes > 0) {
          socket.destroy();
          return;
        }
        if (buffer.includes('\r\n.\r\n')) {
          state.completed++;
          socket.destroy(); // close-after-dot: the reply never comes
        }
        return;
      }
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const verb = line.split(' ')[0]?.toUpperCase();
        if (verb === 'LHLO') socket.write('250-scripted\r\n250 8BITMIME\r\n');
        else if (verb === 'MAIL') socket.write('250 2.1.0 OK\r\n');
        else if (verb === 'RCPT') socket.write(script === 'tempfail-rcpt' ? '452 4.2.2 <x> Mailbox is full\r\n' : '250 2.1.5 OK\r\n');
        else if (verb === 'DATA') {
          socket.write('354 go ahead\r\n');
          inData = true;
          dataBytes = buffer.length;
          if (script === 'close-during-data' && dataBytes > 0) socket.destroy();
          return;
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('500 what\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}
