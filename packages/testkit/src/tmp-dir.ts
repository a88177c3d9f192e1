// Private scratch directories for the services a test starts, so parallel test files
// never share a socket, pid file, log or mailbox.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function tmpDir(prefix: string): Promise<string> {
  const stem = prefix.endsWith('-') ? prefix : `${prefix}-`;
  return mkdtemp(path.join(os.tmpdir(), stem));
}

export async function removeDir(dir: string): Promise<void> {
  // maxRetries covers a service's last write racing with the removal (ENOTEMPTY).
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
}
