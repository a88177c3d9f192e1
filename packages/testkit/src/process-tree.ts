// Stops a daemon and every process it forked, and waits until they are gone.
// Dovecot's master forks its services (anvil, log, config, auth, *-login, imap…);
// killing only the master leaves them running, and a graceful SIGTERM costs the
// master a fixed ~1–2.5 s sleep while its log process drains. Tests want a fast,
// certain stop, so the whole tree gets SIGKILL, with the master frozen first so it
// cannot fork a new child between our listing its children and killing it.
// Linux only (reads /proc), like the services it manages.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type ProcessId = { pid: number; startTime: string };

type StatLine = { ppid: number; state: string; startTime: string };

/** /proc/PID/stat: "pid (comm) state ppid …", where comm may hold spaces and ')'. */
function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After comm: [0]=state [1]=ppid … [19]=starttime (field 22 overall).
  return { state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[19] ?? '' };
}

export function descendants(rootPid: number): ProcessId[] {
  const children = new Map<number, ProcessId[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ pid, startTime: stat.startTime });
    children.set(stat.ppid, list);
  }
  const out: ProcessId[] = [];
  const queue = [rootPid];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGKILL a process and all its descendants; returns the descendants it killed. */
export function killTreeSync(rootPid: number): ProcessId[] {
  signal(rootPid, 'SIGSTOP');
  const tree = descendants(rootPid);
  for (const { pid } of tree) signal(pid, 'SIGKILL');
  signal(rootPid, 'SIGKILL');
  return tree;
}

/** Alive means: same process (start time matches, so not a reused pid), not a zombie. */
export function isAlive(proc: ProcessId): boolean {
  const stat = readStat(proc.pid);
  return stat !== undefined && stat.startTime === proc.startTime && stat.state !== 'Z';
}

export async function waitGone(procs: ProcessId[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let alive = procs.filter(isAlive); alive.length > 0; alive = alive.filter(isAlive)) {
    if (Date.now() > deadline) {
      throw new Error(`processes still running after ${timeoutMs} ms: ${alive.map((p) => p.pid).join(', ')}`);
    }
    await sleep(10);
  }
}

export function waitExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} did not exit in ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
