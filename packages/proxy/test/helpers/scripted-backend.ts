// A scripted peer on a real socket for what a real store will not do on demand: hang
// before its greeting, greet with garbage, or drop the connection mid-session without
// a BYE. It speaks just enough IMAP for Gatehouse to log in.
import net from 'node:net';
import type { Test } from 'tap';

export type ScriptedBehaviour = 'silent' | 'garbage-greeting' | 'drop-after-login' | 'bye-greeting';

export async function startScriptedBackend(t: Test, behaviour: ScriptedBehaviour): Promise<{ port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (behaviour === 'silent') return;
    if (behaviour === 'garbage-greeting') return void socket.write('HTTP/1.1 400 Bad Request\r\n\r\n');
    if (behaviour === 'bye-greeting') return void socket.end('* BYE Too many connections\r\n');
    socket.write('* OK [CAPABILITY IMAP4rev1 ID SASL-IR AUTH=PLAIN] scripted ready\r\n');
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const [tag = '*', cmd = ''] = line.split(' ');
        switch (cmd.toUpperCase()) {
          case 'ID':
            socket.write(`* ID NIL\r\n${tag} OK ID completed\r\n`);
            break;
          case 'AUTHENTICATE':
            socket.write(`${tag} OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n`);
            break;
          default:
            // Any command after login: the store dies without a word (FIN, no BYE).
            socket.end();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port };
}
