// A scripted POP3 peer on a real socket for what a real store will not do on demand: hang
// before its greeting, greet with garbage or -ERR, refuse every login with a code of its
// own, or drop the connection right after the login. It speaks just enough POP3 for
// Gatehouse to log in (CAPA with SASL PLAIN, AUTH PLAIN), or, as 'user-pass-only', an
// RFC 1939 store with USER/PASS only that accepts the password "right pass". Every line
// it receives is recorded in `received`.
import net from 'node:net';
import type { Test } from 'tap';

export type ScriptedPop3Behaviour = 'silent' | 'garbage-greeting' | 'err-greeting' | 'drop-after-login' | 'refuse-sys-temp' | 'user-pass-only';

export async function startScriptedPop3Backend(t: Test, behaviour: ScriptedPop3Behaviour): Promise<{ port: number; received: string[] }> {
  const sockets = new Set<net.Socket>();
  const received: string[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (behaviour === 'silent') return;
    if (behaviour === 'garbage-greeting') return void socket.write('* OK IMAP4rev1 ready\r\n');
    if (behaviour === 'err-greeting') return void socket.end('-ERR [SYS/TEMP] Too many connections\r\n');
    socket.write('+OK scripted ready\r\n');
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        received.push(line);
        const cmd = (line.split(' ')[0] ?? '').toUpperCase();
        if (behaviour === 'user-pass-only') {
          if (cmd === 'CAPA') socket.write('+OK\r\nUSER\r\nUIDL\r\n.\r\n');
          else if (cmd === 'USER') socket.write('+OK\r\n');
          else if (cmd === 'PASS') socket.write(line === 'PASS right pass' ? '+OK Logged in.\r\n' : '-ERR [AUTH] Invalid login\r\n');
          else if (cmd === 'STAT') socket.write('+OK 0 0\r\n');
          else socket.end('+OK Bye\r\n');
          continue;
        }
        if (cmd === 'CAPA') socket.write('+OK\r\nUIDL\r\nSASL PLAIN\r\n.\r\n');
        else if (cmd === 'AUTH' && behaviour === 'refuse-sys-temp') socket.write('-ERR [SYS/TEMP] Mailbox database offline\r\n');
        else if (cmd === 'AUTH') socket.write('+OK Logged in.\r\n');
        // Any command after login: the store dies without a word.
        else socket.end();
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
  return { port: (server.address() as net.AddressInfo).port, received };
}
