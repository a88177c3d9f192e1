import { existsSync, statSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { freePort, freePorts, removeDir, tmpDir } from '../src/index.ts';

t.test('freePorts gives distinct ports that can be bound', async (t) => {
  const ports = await freePorts(8);
  t.equal(new Set(ports).size, 8);
  const port = await freePort();
  const server = net.createServer().listen(port, '127.0.0.1');
  await once(server, 'listening');
  server.close();
  t.pass(`bound ${port}`);
});

t.test('tmpDir makes a fresh private directory; removeDir deletes it', async (t) => {
  const [a, b] = await Promise.all([tmpDir('gatehouse-x'), tmpDir('gatehouse-x-')]);
  t.not(a, b);
  t.match(a, /gatehouse-x-[^/]{6}$/);
  t.equal(statSync(a).mode & 0o777, 0o700);
  await Promise.all([removeDir(a), removeDir(b)]);
  t.notOk(existsSync(a));
});
