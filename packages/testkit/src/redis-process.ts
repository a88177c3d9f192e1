// One redis-server process (a data node, a Sentinel or a cluster node) on free loopback
// ports, for the Sentinel and Cluster set-ups: spawned like every testkit daemon
// (pdeathsig, output to a log file, killed at exit if the test forgets), retried on a
// bind race (the free port taken before redis binds it), ready when it answers PING.
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { spawnDaemon } from './daemon-process.ts';
import { freePorts } from './free-port.ts';
import { ServiceExitedError, waitReady } from './probe.ts';
import { killTreeSync, waitExit } from './process-tree.ts';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_BINARY = '/usr/bin/redis-server';
/** Bind races are retried this often. */
const MAX_ATTEMPTS = 5;

export type RedisProcess = {
  /** The first of `ports`: where it answers clients. */
  port: number;
  /** Every port it was given (e.g. client port, cluster bus port). */
  ports: number[];
  logPath: string;
  /** Stops it (SIGTERM, SIGKILL after 5 s); idempotent. */
  stop(): Promise<void>;
};

export type SpawnRedisOptions = {
  binary: string;
  /** Scratch directory (shared by a set-up's processes; the caller removes it). */
  dir: string;
  /** Stem of the log file in `dir`. */
  name: string;
  /** How many free ports the process needs; the first is its client port. */
  portCount?: number;
  /** Command-line arguments for these ports (may write a config file into `dir`). */
  args(ports: number[]): Promise<string[]> | string[];
  startTimeoutMs?: number;
};

/** A reply to PING from a ready server: PONG, or NOAUTH when it wants a password. */
const READY = /^(?:\+PONG|-NOAUTH)[^\r\n]*\r\n/;

export async function spawnRedis(opts: SpawnRedisOptions): Promise<RedisProcess> {
  const logPath = path.join(opts.dir, `${opts.name}.log`);
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(opts.portCount ?? 1, REDIS_HOST);
    const port = ports[0] ?? 0;
    const child = spawnDaemon(opts.binary, await opts.args(ports), logPath, opts.dir);
    try {
      await waitReady(child, [{ port, sendFirst: 'PING\r\n', expect: READY, sendAfter: 'QUIT\r\n' }], opts.startTimeoutMs ?? 10_000);
      return handle(child, port, ports, logPath);
    } catch (err) {
      await kill(child);
      const log = await readFile(logPath, 'utf8').catch(() => '');
      if (err instanceof ServiceExitedError && /address already in use/i.test(log) && attempt < MAX_ATTEMPTS) continue;
      throw new Error(`${opts.name} failed to start: ${(err as Error).message}\n${log.slice(-2000)}`, { cause: err });
    }
  }
}

/**
 * Starts several at once; every one that started is in `started` (for the caller's
 * clean-up) even when another failed, which is then thrown.
 */
export async function spawnAll(started: RedisProcess[], all: SpawnRedisOptions[]): Promise<RedisProcess[]> {
  const results = await Promise.allSettled(all.map((o) => spawnRedis(o)));
  for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<RedisProcess>).value);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined) killTreeSync(child.pid);
  await waitExit(child, 5000);
}

function handle(child: ChildProcess, port: number, ports: number[], logPath: string): RedisProcess {
  let stopping: Promise<void> | undefined;
  return {
    port,
    ports,
    logPath,
    stop() {
      stopping ??= (async () => {
        child.kill('SIGTERM');
        await waitExit(child, 5000).catch(async () => kill(child));
      })();
      return stopping;
    },
  };
}
