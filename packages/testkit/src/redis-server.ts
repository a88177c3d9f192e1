// A throwaway redis-server for one test file: its own port on 127.0.0.1 and its own
// directory, no persistence, killed and removed by stop(). Tests still use a key
// prefix per file (DESIGN: never FLUSHDB), but a private server means a crashed test
// cannot leave keys behind for the next run.
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { spawnDaemon } from './daemon-process.ts';
import { freePort } from './free-port.ts';
import { ServiceExitedError, waitReady } from './probe.ts';
import { removeDir, tmpDir } from './tmp-dir.ts';
import { killTreeSync, waitExit } from './process-tree.ts';

export type RedisServer = {
  host: '127.0.0.1';
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  dir: string;
  logPath: string;
  stop(): Promise<void>;
};

export type StartRedisOptions = {
  /** Path of redis-server; default /usr/bin/redis-server. */
  binary?: string;
  startTimeoutMs?: number;
  /** A fixed port (to restart a Redis where clients expect it); default a free one. */
  port?: number;
};

const HOST = '127.0.0.1';
/** Bind races (the free port taken before redis binds it) are retried this often. */
const MAX_ATTEMPTS = 5;

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = opts.binary ?? '/usr/bin/redis-server';
  const dir = await tmpDir('gatehouse-redis');
  const logPath = path.join(dir, 'redis.log');
  try {
    for (let attempt = 1; ; attempt++) {
      const port = opts.port ?? (await freePort(HOST));
      const child = spawnDaemon(binary, redisArgs(port, dir), logPath, dir);
      try {
        await waitReady(child, [{ port, sendFirst: 'PING\r\n', expect: /^\+PONG\r\n/, sendAfter: 'QUIT\r\n' }], opts.startTimeoutMs ?? 10_000);
        return makeHandle(child, port, dir, logPath);
      } catch (err) {
        await kill(child);
        const log = await readFile(logPath, 'utf8').catch(() => '');
        if (err instanceof ServiceExitedError && /address already in use/i.test(log) && attempt < MAX_ATTEMPTS) continue;
        throw new Error(`redis-server failed to start: ${(err as Error).message}\n${log.slice(-2000)}`, { cause: err });
      }
    }
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

function redisArgs(port: number, dir: string): string[] {
  return [
    '--port', String(port),
    '--bind', HOST,
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
    '--logfile', '',
  ];
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined) killTreeSync(child.pid);
  await waitExit(child, 5000);
}

function makeHandle(child: ChildProcess, port: number, dir: string, logPath: string): RedisServer {
  let stopping: Promise<void> | undefined;
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    logPath,
    stop() {
      stopping ??= (async () => {
        // redis has no children, and with persistence off SIGTERM is immediate.
        child.kill('SIGTERM');
        await waitExit(child, 5000).catch(async () => kill(child));
        await removeDir(dir);
      })();
      return stopping;
    },
  };
}
