// `gatehouse backend add|set|list|show|del|drain`: the back-end stores users are routed to.
import { readFileSync } from 'node:fs';
import type { BackendPatch, BackendRecord, Directory, NewBackend } from '@gatehouse/directory';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printRecord, printTable } from '../output.ts';

const options = {
  host: { type: 'string' },
  'imap-port': { type: 'string' },
  'pop3-port': { type: 'string' },
  'lmtp-port': { type: 'string' },
  tls: { type: 'string' },
  'tls-verify': { type: 'string' },
  login: { type: 'string' },
  'master-user': { type: 'string' },
  'master-password-file': { type: 'string' },
} as const;

const columns = ['name', 'host', 'imapPort', 'pop3Port', 'lmtpPort', 'tls', 'login', 'state'];

export async function backendCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { values, positionals } = ctx.parse(options);
  const [verb, name] = positionals;
  const needName = (): string => {
    if (name === undefined) throw new CliError('ERR_USAGE', `backend ${verb ?? ''} needs a NAME`, 2);
    return name;
  };
  switch (verb) {
    case 'add': {
      const n = needName();
      if (values.host === undefined || values['imap-port'] === undefined) throw new CliError('ERR_USAGE', 'backend add needs --host H and --imap-port P', 2);
      const patch = patchFrom(values);
      const rec: NewBackend = { name: n, host: values.host, login: patch.login ?? 'master', ...withoutNulls(patch) };
      if (rec.login === 'master' && (!rec.masterUser || !rec.masterPassword)) {
        throw new CliError('ERR_USAGE', 'a back-end with --login master needs --master-user U and --master-password-file F', 2);
      }
      await dir.addBackend(rec);
      return show(ctx, await dir.getBackend(n));
    }
    case 'set': {
      const n = needName();
      await dir.setBackend(n, patchFrom(values));
      return show(ctx, await dir.getBackend(n));
    }
    case 'drain':
    case 'undrain': {
      const n = needName();
      await dir.setBackend(n, { state: verb === 'drain' ? 'drain' : 'active' });
      return show(ctx, await dir.getBackend(n));
    }
    case 'show':
      return show(ctx, await dir.getBackend(needName()));
    case 'list': {
      const all = (await dir.listBackends()).map(publicView);
      return ctx.json ? printJson(all) : printTable(all, columns);
    }
    case 'del':
      await dir.delBackend(needName());
      if (ctx.json) printJson({ deleted: name });
      return;
    default:
      throw new CliError('ERR_USAGE', 'usage: gatehouse backend add|set|show|list|del|drain|undrain NAME [options]', 2);
  }
}

function show(ctx: CommandContext, rec: BackendRecord | null): void {
  if (rec === null) throw new CliError('ERR_NOT_FOUND', 'no such back-end');
  const view = publicView(rec);
  if (ctx.json) printJson(view);
  else printRecord(view);
}

/** The master password never leaves the directory through the CLI. */
function publicView(rec: BackendRecord): Record<string, unknown> {
  const { masterPassword, ...rest } = rec;
  return { ...rest, masterPassword: masterPassword ? '(set)' : undefined };
}

function withoutNulls(patch: BackendPatch): Omit<NewBackend, 'name' | 'host' | 'login'> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) if (v !== null && v !== undefined && k !== 'host' && k !== 'login') out[k] = v;
  return out;
}

function patchFrom(values: { [K in keyof typeof options]?: string }): Mutable<BackendPatch> {
  const patch: Mutable<BackendPatch> = {};
  if (values.host !== undefined) patch.host = values.host;
  if (values['imap-port'] !== undefined) patch.imapPort = port(values['imap-port'], '--imap-port');
  if (values['pop3-port'] !== undefined) patch.pop3Port = port(values['pop3-port'], '--pop3-port');
  // `--lmtp-port none` removes delivery to the back-end.
  if (values['lmtp-port'] !== undefined) patch.lmtpPort = values['lmtp-port'] === 'none' ? null : port(values['lmtp-port'], '--lmtp-port');
  if (values.tls !== undefined) {
    if (!['none', 'starttls', 'implicit'].includes(values.tls)) throw new CliError('ERR_USAGE', '--tls must be none, starttls or implicit', 2);
    patch.tls = values.tls as BackendRecord['tls'];
  }
  if (values['tls-verify'] !== undefined) {
    if (!['yes', 'no'].includes(values['tls-verify'])) throw new CliError('ERR_USAGE', '--tls-verify must be yes or no', 2);
    patch.tlsVerify = values['tls-verify'] === 'yes';
  }
  if (values.login !== undefined) {
    if (!['master', 'user'].includes(values.login)) throw new CliError('ERR_USAGE', '--login must be master or user', 2);
    patch.login = values.login as BackendRecord['login'];
  }
  if (values['master-user'] !== undefined) patch.masterUser = values['master-user'];
  if (values['master-password-file'] !== undefined) {
    let secret: string;
    try {
      secret = readFileSync(values['master-password-file'], 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new CliError('ERR_USAGE', `cannot read --master-password-file: ${(err as Error).message}`, 2);
    }
    if (secret === '' || /[\r\n\0]/.test(secret)) throw new CliError('ERR_USAGE', 'the master password file must hold one non-empty line', 2);
    patch.masterPassword = secret;
  }
  return patch;
}

function port(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535) throw new CliError('ERR_USAGE', `${flag} must be a port number 1..65535`, 2);
  return n;
}
