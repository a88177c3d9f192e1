import { existsSync } from 'node:fs';
import net from 'node:net';
import t from 'tap';
import { startDovecot } from '../src/index.ts';
import { descendants, isAlive } from '../src/process-tree.ts';
import { LineClient } from './helpers/line-client.ts';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

t.test('two instances run side by side and stop without leftovers', async (t) => {
  const started = Date.now();
  const [a, b] = await Promise.all([
    startDovecot({ name: 'side-a', users: [{ user: 'u1', password: 'p1' }] }),
    startDovecot({ name: 'side-b', users: [{ user: 'u1', password: 'p2' }], sampleMail: false }),
  ]);
  t.comment(`both started in ${Date.now() - started} ms`);
  const ports = [a, b].flatMap((x) => [x.imapPort, x.imapsPort, x.pop3Port, x.pop3sPort, x.lmtpPort]);
  t.equal(new Set(ports).size, 10, 'no shared port');
  t.not(a.baseDir, b.baseDir);
  t.not(a.caPem, b.caPem);

  for (const [be, password, exists] of [[a, 'p1', 3], [b, 'p2', 0]] as const) {
    const c = await LineClient.connect(be.imapPort);
    await c.readLine();
    t.match((await c.imap(`LOGIN u1 ${password}`)).tagged, /^OK /, `${be.name} has its own passwords`);
    t.ok((await c.imap('SELECT INBOX')).untagged.includes(`* ${exists} EXISTS`), `${be.name} INBOX`);
    await c.imap('LOGOUT');
    c.close();
  }
  t.match(await b.readLog(), /starting up/);
  t.notMatch(await b.readLog(), /side-a|gatehouse-side-a/);

  const trees = [a, b].map((be) => descendants(be.pid));
  t.ok(trees.every((tree) => tree.length >= 3), 'dovecot services running under each master');
  const stopStarted = Date.now();
  await Promise.all([a.stop(), b.stop(), a.stop()]);
  t.comment(`stopped in ${Date.now() - stopStarted} ms`);
  for (const tree of trees) t.equal(tree.filter(isAlive).length, 0, 'no dovecot process left');
  t.notOk(existsSync(`/proc/${a.pid}/stat`) && isAlive({ pid: a.pid, startTime: '' }), 'master gone');
  t.notOk(existsSync(a.baseDir), 'temp dir removed');
  t.notOk(existsSync(b.baseDir), 'temp dir removed');
  for (const port of ports) t.ok(await refused(port), `port ${port} closed`);
});

t.test('invalid options are refused before anything starts', async (t) => {
  await t.rejects(startDovecot({ name: 'bad name', users: [] }), /invalid backend name/);
  await t.rejects(startDovecot({ name: 'x', users: [{ user: 'a:b', password: 'p' }] }), /unsupported test user name/);
  await t.rejects(startDovecot({ name: 'x', users: [{ user: 'a', password: 'p:q' }] }), /contains ':'/);
});
