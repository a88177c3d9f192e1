// Runs a Gatehouse node as its own process, exactly as an operator would:
// `node packages/cli/src/main.ts serve --config FILE`. The listener binds port 0 and the
// port is read from the node's "listening on" line, so there is no port race. The child
// gets `setpriv --pdeathsig KILL` where available, so it dies with the bench even on a
// SIGKILL; stop() asks politely (SIGTERM) and then insists (SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export type GatehouseProcessOptions = {
  repoRoot: string;
  workDir: string;
  redisUrl: string;
  keyPrefix: string;
  defaultDomain: string;
  certPem: string;
  keyPem: string;
  startTimeoutMs?: number;
  /**
   * Runs the node with `--expose-gc` and the bench's gc-hook.ts preloaded, so
   * collectGarbage() can ask it for a full collection and memoryUsage() for its heap
   * figures (for the memory phase only).
   */
  gcHook?: boolean;
  /** The node's verified-password cache TTL; 0 turns it off (every login pays the hash). */
  authCacheTtlMs?: number;
  /** Node/V8 options for the node (e.g. `--max-semi-space-size=16`), before the script. */
  nodeOptions?: readonly string[];
};

/** process.memoryUsage() of the node and the size of V8's new space (young generation), in bytes, as the bench's GC hook reports them. */
export type NodeMemoryUsage = { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number; newSpace: number };

export type GatehouseProcess = {
  pid: number;
  host: '127.0.0.1';
  port: number;
  configPath: string;
  /** VmRSS of the node process in KiB, from /proc/PID/status. */
  rssKiB(): number;
  /** The last lines the node wrote to stderr (for error messages). */
  output(): string;
  /** A full, compacting GC in the node (needs `gcHook`); resolves when it is done, with the node's memory usage after it. */
  collectGarbage(): Promise<NodeMemoryUsage | null>;
  /** The node's memory usage now, with no GC (needs `gcHook`). */
  memoryUsage(): Promise<NodeMemoryUsage | null>;
  stop(): Promise<void>;
};

const SETPRIV = '/usr/bin/setpriv';
const OUTPUT_KEEP = 8192;

export async function startGatehouseProcess(opts: GatehouseProcessOptions): Promise<GatehouseProcess> {
  const certPath = path.join(opts.workDir, 'gatehouse-cert.pem');
  const keyPath = path.join(opts.workDir, 'gatehouse-key.pem');
  const configPath = path.join(opts.workDir, `gatehouse-${opts.authCacheTtlMs ?? 'default'}-${process.hrtime.bigint()}.yaml`);
  await writeFile(certPath, opts.certPem);
  await writeFile(keyPath, opts.keyPem, { mode: 0o600 });
  // JSON.stringify yields valid YAML double-quoted scalars for any path or URL.
  const q = JSON.stringify;
  await writeFile(
    configPath,
    [
      '# Written by @gatehouse/bench for one run.',
      `redis: ${q(opts.redisUrl)}`,
      `keyPrefix: ${q(opts.keyPrefix)}`,
      'log:',
      '  level: warn',
      ...(opts.authCacheTtlMs === undefined ? [] : ['authCache:', `  ttlMs: ${opts.authCacheTtlMs}`]),
      'vservers:',
      '  - name: bench',
      `    defaultDomain: ${q(opts.defaultDomain)}`,
      '    tls:',
      `      cert: ${q(certPath)}`,
      `      key: ${q(keyPath)}`,
      '    listeners:',
      '      - listen: "127.0.0.1:0"',
      '        tls: implicit',
      '',
    ].join('\n'),
  );

  const main = path.join(opts.repoRoot, 'packages', 'cli', 'src', 'main.ts');
  const hook = path.join(import.meta.dirname, 'gc-hook.ts');
  const args = [...(opts.nodeOptions ?? []), ...(opts.gcHook ? ['--expose-gc', '--import', pathToFileURL(hook).href] : []), main, 'serve', '--config', configPath];
  const guarded = existsSync(SETPRIV);
  const child = spawn(guarded ? SETPRIV : process.execPath, guarded ? ['--pdeathsig', 'KILL', process.execPath, ...args] : args, {
    cwd: opts.repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_REDIS_URL: '' },
  });
  let output = '';
  // The hook's replies, counted by kind, each with the memory usage it reported.
  const replies = { gc: 0, usage: 0 };
  let lastUsage: NodeMemoryUsage | null = null;
  let onReply: (() => void) | null = null;
  let partial = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEEP);
  };
  const keepStderr = (chunk: Buffer): void => {
    keep(chunk);
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^gatehouse-bench: (gc|usage) \d+[^{]*(\{.*\})?$/.exec(line);
      if (m === null) continue;
      replies[m[1] === 'gc' ? 'gc' : 'usage']++;
      lastUsage = parseUsage(m[2]);
      onReply?.();
    }
  };
  // Both pipes are drained for the whole life of the child (a full pipe would block it).
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keepStderr);
  child.on('error', () => {});

  let exited = child.exitCode !== null;
  child.once('exit', () => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    child.kill('SIGTERM');
    if (!(await waitExit(child, 5000))) {
      child.kill('SIGKILL');
      await waitExit(child, 3000);
    }
  };

  /** Sends the hook its signal and waits for its reply line on stderr ("gc N done …" or "usage N …"). */
  const ask = (kind: 'gc' | 'usage'): Promise<NodeMemoryUsage | null> => {
    if (!opts.gcHook) return Promise.reject(new Error('gatehouse node was started without the gc hook'));
    const want = replies[kind] + 1;
    return new Promise<NodeMemoryUsage | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        onReply = null;
        reject(new Error(`gatehouse node did not answer ${kind} within 30 s:\n${output}`));
      }, 30_000);
      onReply = () => {
        if (replies[kind] < want) return;
        clearTimeout(timer);
        onReply = null;
        resolve(lastUsage);
      };
      child.kill(kind === 'gc' ? 'SIGUSR2' : 'SIGWINCH');
    });
  };

  try {
    const port = await waitListening(child, () => output, opts.startTimeoutMs ?? 20_000);
    const pid = child.pid;
    if (pid === undefined) throw new Error('gatehouse node has no pid');
    return {
      pid,
      host: '127.0.0.1',
      port,
      configPath,
      rssKiB: () => readRssKiB(pid),
      output: () => output,
      collectGarbage: () => ask('gc'),
      memoryUsage: () => ask('usage'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function parseUsage(json: string | undefined): NodeMemoryUsage | null {
  if (json === undefined) return null;
  try {
    const v = JSON.parse(json) as Partial<Record<keyof NodeMemoryUsage, unknown>>;
    const n = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
    return { rss: n(v.rss), heapTotal: n(v.heapTotal), heapUsed: n(v.heapUsed), external: n(v.external), arrayBuffers: n(v.arrayBuffers), newSpace: n(v.newSpace) };
  } catch {
    return null;
  }
}

function waitListening(child: ChildProcess, output: () => string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`gatehouse node did not listen within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    const check = (): void => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output());
      if (m !== null) finish(undefined, Number(m[1]));
    };
    const onExit = (code: number | null, sig: string | null): void => {
      finish(new Error(`gatehouse node exited during start (code ${code}, signal ${sig}):\n${output()}`));
    };
    function finish(err: Error | undefined, port?: number): void {
      clearTimeout(timer);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      if (err !== undefined) reject(err);
      else resolve(port ?? 0);
    }
    // Registered after the collector, so output() already holds this chunk.
    child.stderr?.on('data', check);
    child.once('exit', onExit);
  });
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

export function readRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}
