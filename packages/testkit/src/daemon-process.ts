// Spawns a service binary as a child that cannot outlive the test process, and
// remembers it so a process exit (a crashed or timed-out test file) still takes it
// down. Two guards: `setpriv --pdeathsig KILL` makes the kernel kill the service
// when we die for any reason (even SIGKILL), and a synchronous 'exit' hook kills the
// whole tree (catching any children the service forked) and removes its scratch
// directory when Node exits without the test having called stop().
// The service's stdout/stderr go to a file, never to a pipe nobody reads (a full
// pipe would block the service).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { killTreeSync } from './process-tree.ts';

const SETPRIV = '/usr/bin/setpriv';
/** Live daemons and the scratch directory to remove if the test process exits first. */
const running = new Map<ChildProcess, string | undefined>();
let hooked = false;

function killAllOnExit(): void {
  for (const [child, dir] of running) {
    if (child.pid !== undefined) killTreeSync(child.pid);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function spawnDaemon(command: string, args: string[], outputPath: string, scratchDir?: string): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.on('exit', killAllOnExit);
  }
  const guarded = existsSync(SETPRIV);
  const fd = openSync(outputPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(guarded ? SETPRIV : command, guarded ? ['--pdeathsig', 'KILL', command, ...args] : args, {
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  running.set(child, scratchDir);
  child.once('exit', () => running.delete(child));
  // A spawn failure (ENOENT) surfaces as 'error' and then 'exit'; callers watch 'exit'.
  child.on('error', () => {});
  return child;
}
