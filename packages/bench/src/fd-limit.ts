// File-descriptor budget. Node cannot call setrlimit, so when the soft limit is too low
// but the hard limit allows more, the bench re-executes itself once under
// `sh -c 'ulimit -n N; exec …'` (children, the Gatehouse node included, inherit it).
// When even the hard limit is too low, the caller scales the session count down.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type FdLimits = { soft: number; hard: number };

const REEXEC_ENV = 'GATEHOUSE_BENCH_FD_RAISED';
/** Descriptors the node needs besides 2 per session (listeners, Redis, files, stdio). */
export const FD_OVERHEAD = 512;

export function readFdLimits(): FdLimits {
  const text = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  const num = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  if (m === null) return { soft: 1024, hard: 1024 };
  return { soft: num(m[1]), hard: num(m[2]) };
}

/** The node holds a client and a back-end socket per session; the bench one per session. */
export function fdsNeeded(sessions: number): number {
  return 2 * sessions + FD_OVERHEAD;
}

export function sessionsWithin(limit: number): number {
  return Math.max(0, Math.floor((limit - FD_OVERHEAD) / 2));
}

/**
 * If the soft limit is below `needed` and the hard limit allows raising it, re-runs this
 * process with a raised limit and resolves with the child's exit code (the caller exits
 * with it). Resolves undefined when no re-exec is needed or possible.
 */
export async function reexecWithFdLimit(needed: number): Promise<number | undefined> {
  const { soft, hard } = readFdLimits();
  if (soft >= needed || hard <= soft || process.env[REEXEC_ENV] === '1') return undefined;
  const target = Math.min(needed, hard);
  const script = 'ulimit -n "$1" || exit 97; shift; exec "$@"';
  const child = spawn('/bin/sh', ['-c', script, 'sh', String(target), process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_ENV]: '1' },
  });
  // The child cleans up on SIGINT/SIGTERM (a repeated signal is harmless there), so
  // signals are forwarded and this process just waits for it.
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.once('exit', (code, sig) => resolve(code ?? (sig === 'SIGINT' ? 130 : 143)));
    child.once('error', () => resolve(undefined));
  });
}
