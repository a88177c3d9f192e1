// Per-file Redis for the directory tests: a private redis-server from @gatehouse/testkit,
// a Directory on it with the file's own key prefix, and a raw ioredis client for looking
// at (or breaking) the stored keys directly.
import { startRedis, type RedisServer } from '@gatehouse/testkit';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { Directory } from '../../src/index.ts';

export interface DirectoryFixture {
  readonly server: RedisServer;
  readonly dir: Directory;
  readonly raw: Redis;
  readonly prefix: string;
}

export async function directoryFixture(t: Test, prefix: string): Promise<DirectoryFixture> {
  const server = await startRedis();
  const dir = await Directory.connect(server.url, { prefix });
  const raw = new Redis(server.url, { lazyConnect: true });
  await raw.connect();
  t.teardown(async () => {
    await dir.close();
    raw.disconnect();
    await server.stop();
  });
  return { server, dir, raw, prefix };
}

/** Every key on the server, via SCAN (never KEYS). */
export async function allKeys(raw: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await raw.scan(cursor, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

/** Resolves to the DirectoryError code a promise rejects with (or undefined if it resolves). */
export async function rejectsCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? 'no-code';
  }
  return undefined;
}
