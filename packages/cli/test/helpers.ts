// Runs the real `gatehouse` command as a user would, in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const cliPath = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, GATEHOUSE_REDIS_URL: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

/** A listener `gatehouse serve` announced on stderr. */
export interface ServeListener {
  vserver: string;
  name: string;
  host: string;
  port: number;
  protocol: string;
  /** As printed: `implicit TLS`, `STARTTLS` or `STLS`. */
  tls: string;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  /** Every JSON log line the node wrote on stdout, parsed, in order; grows while it runs. */
  readonly logs: Array<Record<string, unknown>>;
  /** The listeners announced on stderr so far, in order. */
  readonly listeners: ServeListener[];
  /** The port of the first listener announced. */
  readonly port: number;
  /** Everything written on stderr so far. */
  readonly stderr: string;
  /** The exit code once the process has exited (null if a signal ended it). */
  readonly exited: Promise<number | null>;
  /** The first log line from index `from` on that `match`es; rejects if the node exits first. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, from?: number): Promise<Record<string, unknown>>;
  signal(name: NodeJS.Signals): void;
}

const LISTENING = /^gatehouse: ([^/\s]+)\/(\S+) listening on (\S+):(\d+) \((\w+), ([\w ]+)\)$/;

/**
 * `gatehouse serve ARGS` in a child process, resolved once it has announced `listeners`
 * listeners (default 1) on stderr. Stopped with SIGTERM at `t`'s teardown (SIGKILL if it
 * has not exited 10 s later), unless it has exited already.
 */
export async function startServe(t: Test, args: string[], opts: { listeners?: number; env?: Record<string, string> } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cliPath, 'serve', ...args], {
    env: { ...process.env, GATEHOUSE_REDIS_URL: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  t.teardown(async () => {
    if (exitCode !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  const logs: Array<Record<string, unknown>> = [];
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const listeners: ServeListener[] = [];
  let stderr = '';
  // Only whole lines are parsed: a port cut in two by a chunk boundary must not match.
  let parsed = 0;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (let i = stderr.indexOf('\n', parsed); i >= 0; i = stderr.indexOf('\n', parsed)) {
      const m = LISTENING.exec(stderr.slice(parsed, i));
      if (m !== null) listeners.push({ vserver: m[1] as string, name: m[2] as string, host: m[3] as string, port: Number(m[4]), protocol: m[5] as string, tls: m[6] as string });
      parsed = i + 1;
    }
  });

  const until = async <T>(what: () => string, found: () => T | undefined, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = found();
      if (hit !== undefined) return hit;
      if (exitCode !== undefined) throw new Error(`serve exited ${exitCode} before ${what()}; stderr: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${what()} within ${timeoutMs} ms; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const want = opts.listeners ?? 1;
  await until(
    () => `${want} listening lines`,
    () => (listeners.length >= want ? true : undefined),
    30_000,
  );
  return {
    child,
    logs,
    listeners,
    port: (listeners[0] as ServeListener).port,
    get stderr() {
      return stderr;
    },
    exited,
    waitForLog: (match, from = 0) =>
      until(
        () => `matching log line; logs: ${JSON.stringify(logs.slice(from))}`,
        () => logs.slice(from).find(match),
        15_000,
      ),
    signal: (name) => void child.kill(name),
  };
}

/** Sends SIGHUP and waits for the log line that ends that reload; also every line logged from the signal on. */
export async function hangUp(serve: ServeProcess): Promise<{ done: Record<string, unknown>; lines: Array<Record<string, unknown>> }> {
  const from = serve.logs.length;
  serve.signal('SIGHUP');
  const done = await serve.waitForLog((l) => l['msg'] === 'config.reloaded' || l['msg'] === 'config.reload_failed', from);
  return { done, lines: serve.logs.slice(from) };
}
