import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { freePort, freePorts } from '@gatehouse/testkit';
import t, { type Test } from 'tap';
import { Directory, DirectoryError, hashPassword } from '../src/index.ts';
import { directoryFixture } from './helpers/redis.ts';

const P = 'gh-t-down:';
const LIMIT_MS = 3000;

/** Runs `fn`, expecting ERR_DIRECTORY_UNAVAILABLE; returns how long it took. */
async function unavailableWithin(t: Test, what: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  let code: string | undefined;
  try {
    await fn();
  } catch (err) {
    code = err instanceof DirectoryError ? err.code : `not a DirectoryError: ${String(err)}`;
  }
  const ms = performance.now() - t0;
  t.equal(code, 'ERR_DIRECTORY_UNAVAILABLE', `${what}: ERR_DIRECTORY_UNAVAILABLE`);
  t.ok(ms < LIMIT_MS, `${what}: answered in ${ms.toFixed(0)} ms`);
}

/** A TCP server that accepts and never says a word: a hung Redis. */
async function silentServer(t: Test): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

t.test('connect: nothing listening -> ERR_DIRECTORY_UNAVAILABLE, fast', async (t) => {
  const port = await freePort();
  await unavailableWithin(t, 'connect refused', () => Directory.connect(`redis://127.0.0.1:${port}`));
});

t.test('connect: a server that never answers -> ERR_DIRECTORY_UNAVAILABLE within 3 s', async (t) => {
  const port = await silentServer(t);
  await unavailableWithin(t, 'connect to silent server', () => Directory.connect(`redis://127.0.0.1:${port}`));
});

t.test('connect: waitReady false returns at once; commands fail fast until Redis answers', async (t) => {
  const port = await freePort();
  const dir = await Directory.connect(`redis://127.0.0.1:${port}`, { waitReady: false });
  t.teardown(() => dir.close());
  await unavailableWithin(t, 'getUser while never connected', () => dir.getUser('a@example.com'));
});

t.test('connect: rejects malformed addresses with ERR_BAD_NAME, without the password', async (t) => {
  await t.rejects(Directory.connect('http://127.0.0.1:6379'), { code: 'ERR_BAD_NAME', message: /unknown scheme "http:\/\/"/ });
  await t.rejects(Directory.connect('redis+sentinel://:Secret1@127.0.0.1:26379'), { code: 'ERR_BAD_NAME', message: /missing master name/ });
  await t.rejects(Directory.connect('redis+cluster://:Secret1@127.0.0.1:0'), { code: 'ERR_BAD_NAME', message: /^(?!.*Secret1).*bad port "0"/ });
});

t.test('connect: Sentinel and Cluster addresses where nothing listens -> ERR_DIRECTORY_UNAVAILABLE within 3 s', async (t) => {
  const [a, b, c] = await freePorts(3);
  await unavailableWithin(t, 'sentinels refused', () => Directory.connect(`redis+sentinel://127.0.0.1:${a},127.0.0.1:${b}/gatehouse`));
  await unavailableWithin(t, 'cluster nodes refused', () => Directory.connect(`redis+cluster://127.0.0.1:${a},127.0.0.1:${b},127.0.0.1:${c}`));
});

t.test('connect: Sentinels and cluster nodes that never answer -> ERR_DIRECTORY_UNAVAILABLE within 3 s', async (t) => {
  const a = await silentServer(t);
  const b = await silentServer(t);
  await unavailableWithin(t, 'silent sentinels', () => Directory.connect(`redis+sentinel://127.0.0.1:${a},127.0.0.1:${b}/gatehouse`));
  await unavailableWithin(t, 'silent cluster nodes', () => Directory.connect(`redis+cluster://127.0.0.1:${a},127.0.0.1:${b}`));
  const lazy = await Directory.connect(`redis+cluster://127.0.0.1:${a}`, { waitReady: false });
  t.teardown(() => lazy.close());
  await unavailableWithin(t, 'cluster getUser with waitReady false', () => lazy.getUser('a@example.com'));
});

t.test('Redis stopped under a connected directory -> ERR_DIRECTORY_UNAVAILABLE within 3 s, not a hang', async (t) => {
  const { server, dir } = await directoryFixture(t, P);
  await dir.addDomain('example.com');
  await dir.addBackend({ name: 'be1', host: 'store1', login: 'user' });
  await dir.addUser({ name: 'alice@example.com', backend: 'be1', password: await hashPassword('pw') });
  t.match(await dir.authenticate('alice@example.com', 'pw'), { ok: false, reason: 'backend-checks-password' });
  await server.stop();
  await unavailableWithin(t, 'getUser', () => dir.getUser('alice@example.com'));
  await unavailableWithin(t, 'authenticate', () => dir.authenticate('alice@example.com', 'pw'));
  await unavailableWithin(t, 'listUsers', () => dir.listUsers());
  await unavailableWithin(t, 'addUser', () => dir.addUser({ name: 'bob@example.com', backend: 'be1' }));
  await unavailableWithin(t, 'importUsers', () => dir.importUsers([{ user: 'c@example.com', hash: '{PLAIN}x', line: 1 }], { backend: 'be1' }));
});

t.test('Redis hung (CLIENT PAUSE) -> command timeout, ERR_DIRECTORY_UNAVAILABLE within 3 s', async (t) => {
  const { dir, raw } = await directoryFixture(t, `${P}pause:`);
  await dir.addDomain('example.com');
  await raw.call('CLIENT', 'PAUSE', '8000', 'ALL');
  await unavailableWithin(t, 'getUser while paused', () => dir.getUser('alice@example.com'));
  await unavailableWithin(t, 'hasDomain while paused', () => dir.hasDomain('example.com'));
  await raw.call('CLIENT', 'UNPAUSE');
  t.equal(await dir.hasDomain('example.com'), true, 'answers again once Redis does');
});

t.test('the client reconnects by itself after the server drops it', async (t) => {
  const { dir, raw } = await directoryFixture(t, `${P}kill:`);
  await dir.addDomain('example.com');
  await raw.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  const deadline = Date.now() + 5000;
  let ok = false;
  while (!ok && Date.now() < deadline) {
    try {
      ok = await dir.hasDomain('example.com');
    } catch (err) {
      if (!(err instanceof DirectoryError) || err.code !== 'ERR_DIRECTORY_UNAVAILABLE') throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  t.ok(ok, 'answers again after the reconnect');
});
