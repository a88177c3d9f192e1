// Readiness checks: a service is ready when a fresh connection gets its greeting
// (IMAP "* OK", POP3 "+OK", LMTP "220") or a command gets its answer (Redis PING).
// Polling with real connections, not sleeping, is what makes start-up both fast and
// reliable; each probe says goodbye properly so the service logs a clean disconnect.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type ProbeSpec = {
  port: number;
  host?: string;
  /** Sent on connect (Redis) or after the expected reply (a polite QUIT/LOGOUT). */
  sendFirst?: string;
  expect: RegExp;
  sendAfter?: string;
};

const PROBE_TIMEOUT_MS = 1000;

/** One attempt: true when the expected reply arrives. */
export function probeOnce(spec: ProbeSpec): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port: spec.port, host: spec.host ?? '127.0.0.1' });
    let received = '';
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok && spec.sendAfter !== undefined) socket.end(spec.sendAfter);
      else socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), PROBE_TIMEOUT_MS);
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      if (spec.sendFirst !== undefined) socket.write(spec.sendFirst);
    });
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (spec.expect.test(received)) finish(true);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

export class ServiceExitedError extends Error {
  readonly exitCode: number | null;
  constructor(message: string, exitCode: number | null) {
    super(message);
    this.name = 'ServiceExitedError';
    this.exitCode = exitCode;
  }
}

/** Polls until every probe succeeds; rejects if the child exits or time runs out. */
export async function waitReady(child: ChildProcess, probes: ProbeSpec[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(probes);
  while (pending.size > 0) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ServiceExitedError(`service exited during start-up (${child.exitCode ?? child.signalCode})`, child.exitCode);
    }
    if (Date.now() > deadline) throw new Error(`service not ready after ${timeoutMs} ms`);
    const results = await Promise.all([...pending].map(async (p) => [p, await probeOnce(p)] as const));
    for (const [p, ok] of results) if (ok) pending.delete(p);
    if (pending.size > 0) await sleep(15);
  }
}
