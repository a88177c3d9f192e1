// Reads a new password without it ever appearing on a command line (visible in ps and
// shell history) or on the screen: from stdin with --password-stdin, else from a prompt
// with echo off.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError } from './cli-error.ts';
import type { CommandContext } from './command-context.ts';

export async function readNewPassword(ctx: CommandContext, fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    const text = await ctx.readStdin();
    password = text.replace(/\r?\n$/, '');
  } else {
    if (!process.stdin.isTTY) throw new CliError('ERR_USAGE', 'no terminal to prompt for a password: use --password-stdin', 2);
    password = await prompt('Password: ');
    const again = await prompt('Repeat password: ');
    if (again !== password) throw new CliError('ERR_USAGE', 'the passwords do not match', 2);
  }
  if (password.length === 0) throw new CliError('ERR_USAGE', 'empty password', 2);
  if (/[\r\n\0]/.test(password)) throw new CliError('ERR_USAGE', 'a password may not contain CR, LF or NUL', 2);
  return password;
}

async function prompt(question: string): Promise<string> {
  process.stderr.write(question);
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
