// Real clients for the delivery tests: Python's smtplib (LMTP and SMTP, through
// lmtp_send.py) and swaks. Run as child processes, never synchronously: the server
// under test lives in this same process.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tmpDir, removeDir } from '@gatehouse/testkit';
import type { Test } from 'tap';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./lmtp_send.py', import.meta.url));

export interface PythonResult {
  hello: [number, string];
  starttls?: [number, string];
  tls?: string;
  esmtp: string[];
  mail: [number, string];
  rcpt: Array<[string, number, string]>;
  data: Array<[number, string]>;
}

async function messageFile(t: Test, message: Buffer): Promise<string> {
  const dir = await tmpDir('gatehouse-delivery');
  t.teardown(() => removeDir(dir));
  const file = join(dir, 'message.eml');
  await writeFile(file, message);
  return file;
}

export async function pythonSend(
  t: Test,
  opts: { protocol: 'lmtp' | 'smtp'; port: number; from: string; to: string[]; message: Buffer; starttls?: boolean },
): Promise<PythonResult> {
  const file = await messageFile(t, opts.message);
  const args = [script, opts.protocol, '127.0.0.1', String(opts.port), opts.from, opts.to.join(','), file];
  if (opts.starttls === true) args.push('starttls');
  const { stdout } = await run('python3', args, { timeout: 60_000 });
  return JSON.parse(stdout) as PythonResult;
}

/** swaks; resolves with its transcript (stdout) and exit code (0: delivered). */
export async function swaks(t: Test, args: string[], message?: Buffer): Promise<{ code: number; out: string }> {
  const extra = message === undefined ? [] : ['--data', await messageFile(t, message)];
  try {
    const { stdout } = await run('swaks', ['--server', '127.0.0.1', '--timeout', '30', ...extra, ...args], { timeout: 60_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '' };
  }
}
