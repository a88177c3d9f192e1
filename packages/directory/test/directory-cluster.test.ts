import { createHash, randomBytes } from 'node:crypto';
import { startRedisCluster } from '@gatehouse/testkit';
import { Cluster, Redis } from 'ioredis';
import t from 'tap';
import { Directory, DirectoryError, hashPassword, parsePasswdFile } from '../src/index.ts';

const P = 'gh-t-cluster:';

function ssha256(password: string): string {
  const salt = randomBytes(8);
  return `{SSHA256}${Buffer.concat([createHash('sha256').update(password).update(salt).digest(), salt]).toString('base64')}`;
}

t.test('the directory on a three-master Redis Cluster (redis+cluster://): no cross-slot commands anywhere', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const dir = await Directory.connect(cluster.url, { prefix: P });
  t.teardown(() => dir.close());
  t.ok(dir.redis instanceof Cluster, 'a Cluster client');
  const nodes = cluster.ports.map((port) => new Redis({ host: cluster.host, port, lazyConnect: true }));
  t.teardown(() => {
    for (const n of nodes) n.disconnect();
  });

  await dir.addDomain('example.com');
  await dir.addDomain('other.org');
  await dir.addBackend({ name: 'be1', host: 'store1', login: 'master', masterUser: 'proxy', masterPassword: 'x' });
  await dir.addBackend({ name: 'be2', host: 'store2', login: 'user' });
  const hash = await hashPassword('pw');
  const names = Array.from({ length: 50 }, (_, i) => `u${i}@${i % 2 ? 'example.com' : 'other.org'}`);
  for (const name of names) await dir.addUser({ name, backend: 'be1', password: hash });
  await t.rejects(dir.addUser({ name: 'u1@example.com', backend: 'be1' }), { code: 'ERR_EXISTS' });

  const perNode = await Promise.all(nodes.map((n) => n.dbsize()));
  t.ok(perNode.every((n) => n > 0), `records spread over every node: ${perNode.join('/')}`);

  t.equal((await dir.listUsers()).length, 50);
  t.equal((await dir.listUsers({ domain: 'example.com' })).length, 25);
  t.same((await dir.listBackends()).map((b) => b.name), ['be1', 'be2']);
  t.same((await dir.listDomains()).map((d) => d.name), ['example.com', 'other.org']);
  t.match(await dir.setUser('u3@example.com', { backend: 'be2', state: 'disabled' }), { backend: 'be2', state: 'disabled' });
  t.match(await dir.setBackend('be1', { state: 'drain' }), { state: 'drain' });

  t.match(await dir.authenticate('u1@example.com', 'pw'), { ok: true });
  t.match(await dir.authenticate('u1@example.com', 'nope'), { ok: false, reason: 'bad-password' });
  t.match(await dir.authenticate('u3@example.com', 'pw'), { ok: false, reason: 'backend-checks-password' });
  t.match(await dir.authenticate('ghost@example.com', 'pw'), { ok: false, reason: 'unknown-user' });
  const legacy = '{SHA256-CRYPT}$5$nWh5PwNprLJzAmT1$9Kt4sxy53ddLrz7ZUqLGh4rZ.7mAHlkEp1Wv8A0NXlC';
  await dir.setUser('u5@example.com', { password: legacy });
  t.match(await dir.authenticate('u5@example.com', 'Secret123!', { rehash: true }), { ok: true });
  t.match((await dir.getUser('u5@example.com'))?.password, /^\{SCRYPT\}/, 'rehash script runs on the key\'s node');

  await t.rejects(dir.delBackend('be2'), { code: 'ERR_IN_USE' });
  await t.rejects(dir.delDomain('other.org'), { code: 'ERR_IN_USE' });
  for (const name of names.filter((n) => n.endsWith('other.org'))) await dir.delUser(name);
  await dir.delDomain('other.org');

  const N = 5000;
  const file = Array.from({ length: N }, (_, i) => `imp${i}@example.com:${ssha256(`p${i}`)}`).join('\n');
  const { entries } = parsePasswdFile(file);
  const t0 = performance.now();
  const first = await dir.importUsers(entries, { backend: 'be1' });
  const ms = performance.now() - t0;
  t.comment(`cluster import of ${N}: ${ms.toFixed(0)} ms (${Math.round(N / (ms / 1000))} users/s)`);
  t.same([first.added, first.updated, first.unchanged, first.errors.length], [N, 0, 0, 0]);
  const again = await dir.importUsers(entries, { backend: 'be1' });
  t.same([again.added, again.updated, again.unchanged], [0, 0, N]);
  t.match(await dir.authenticate('imp4321@example.com', 'p4321'), { ok: true });
  t.equal((await dir.listUsers()).length, 25 + N);
});

t.test('a password-protected cluster: credentials from the URL; the whole cluster down -> ERR_DIRECTORY_UNAVAILABLE within 3 s', async (t) => {
  const cluster = await startRedisCluster({ password: 'cluster pw' });
  t.teardown(() => cluster.stop());
  t.match(cluster.url, /^redis\+cluster:\/\/:cluster%20pw@/);
  const dir = await Directory.connect(cluster.url, { prefix: `${P}down:` });
  t.teardown(() => dir.close());
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be1', host: 'store1', login: 'master', masterUser: 'proxy', masterPassword: 'x' });
  await dir.addUser({ name: 'alice@example.com', backend: 'be1', password: await hashPassword('pw') });
  t.match(await dir.authenticate('alice@example.com', 'pw'), { ok: true });
  t.match(await dir.getUser('alice@example.com'), { backend: 'be1', state: 'active' });
  await dir.delUser('alice@example.com');
  t.equal(await dir.getUser('alice@example.com'), null);

  await cluster.stop();
  for (const [what, op] of [
    ['getUser', () => dir.getUser('alice@example.com')],
    ['authenticate', () => dir.authenticate('alice@example.com', 'pw')],
    ['listUsers', () => dir.listUsers()],
    ['addDomain', () => dir.addDomain('other.org')],
  ] as const) {
    const t0 = performance.now();
    const err = await op().then(() => undefined, (e: unknown) => e);
    const ms = performance.now() - t0;
    t.equal(err instanceof DirectoryError ? err.code : String(err), 'ERR_DIRECTORY_UNAVAILABLE', `${what}: ERR_DIRECTORY_UNAVAILABLE`);
    t.ok(ms < 3000, `${what}: answered in ${ms.toFixed(0)} ms`);
  }
  const t0 = performance.now();
  await dir.close();
  t.ok(performance.now() - t0 < 1500, `close() with the cluster down: ${(performance.now() - t0).toFixed(0)} ms`);
});
