// `gatehouse user add|set|show|list|del|import`: accounts, their password hashes,
// state and back-end. Passwords come from a prompt or stdin, never from argv.
import { readFileSync } from 'node:fs';
import { TNEF_POLICIES, hashPassword, normalizeUserName, parsePasswdFile, type Directory, type NewUser, type TnefPolicy, type UserPatch, type UserRecord } from '@gatehouse/directory';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
import { canonicalNetwork } from '@gatehouse/policy';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printRecord, printTable } from '../output.ts';
import { readNewPassword } from '../password-input.ts';

const options = {
  backend: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'no-password': { type: 'boolean' },
  disabled: { type: 'boolean' },
  enabled: { type: 'boolean' },
  imap: { type: 'string' },
  pop3: { type: 'string' },
  domain: { type: 'string' },
  delivery: { type: 'string' },
  tnef: { type: 'string' },
  networks: { type: 'string' },
} as const;

const columns = ['name', 'backend', 'state', 'imap', 'pop3', 'delivery', 'password'];

export async function userCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { values, positionals } = ctx.parse(options);
  const [verb, arg] = positionals;
  const userName = (): string => {
    if (arg === undefined) throw new CliError('ERR_USAGE', `user ${verb ?? ''} needs a USER`, 2);
    return normalizeUserName(arg, values.domain);
  };
  switch (verb) {
    case 'add': {
      const name = userName();
      if (values.backend === undefined) throw new CliError('ERR_USAGE', 'user add needs --backend NAME', 2);
      if (values.disabled && values.enabled) throw new CliError('ERR_USAGE', '--disabled and --enabled exclude each other', 2);
      const backend = await dir.getBackend(values.backend);
      if (backend === null) throw new CliError('ERR_NOT_FOUND', `no back-end named ${values.backend}`);
      // A store that checks passwords itself needs none here (--login user).
      const wantsPassword = backend.login !== 'user' && !values['no-password'];
      const password = wantsPassword ? await hashPassword(await readNewPassword(ctx, values['password-stdin'] === true)) : undefined;
      const rec: Mutable<NewUser> = {
        name,
        backend: values.backend,
        state: values.disabled ? 'disabled' : 'active',
      };
      // No --imap/--pop3: the user follows the virtual server's default.
      const imap = protocolSwitch(values.imap, '--imap');
      const pop3 = protocolSwitch(values.pop3, '--pop3');
      if (imap !== undefined && imap !== null) rec.imap = imap;
      if (pop3 !== undefined && pop3 !== null) rec.pop3 = pop3;
      if (password !== undefined) rec.password = password;
      const delivery = flag(values.delivery, '--delivery');
      if (delivery !== undefined) rec.delivery = delivery;
      const tnef = tnefPolicy(values.tnef);
      if (tnef !== undefined && tnef !== null) rec.tnef = tnef;
      await dir.addUser(rec);
      return show(ctx, await dir.getUser(name));
    }
    case 'set': {
      const name = userName();
      if (values.disabled && values.enabled) throw new CliError('ERR_USAGE', '--disabled and --enabled exclude each other', 2);
      const patch: Mutable<UserPatch> = {};
      if (values.backend !== undefined) patch.backend = values.backend;
      if (values.disabled) patch.state = 'disabled';
      if (values.enabled) patch.state = 'active';
      const imap = protocolSwitch(values.imap, '--imap');
      const pop3 = protocolSwitch(values.pop3, '--pop3');
      if (imap !== undefined) patch.imap = imap;
      if (pop3 !== undefined) patch.pop3 = pop3;
      const delivery = flag(values.delivery, '--delivery');
      if (delivery !== undefined) patch.delivery = delivery;
      const tnef = tnefPolicy(values.tnef);
      if (tnef !== undefined) patch.tnef = tnef;
      if (values.networks !== undefined) patch.networks = userNetworks(values.networks);
      if (values['password-stdin']) patch.password = await hashPassword(await readNewPassword(ctx, true));
      if (Object.keys(patch).length === 0) throw new CliError('ERR_USAGE', 'user set needs something to change', 2);
      await dir.setUser(name, patch);
      return show(ctx, await dir.getUser(name));
    }
    case 'passwd': {
      const name = userName();
      await dir.setUser(name, { password: await hashPassword(await readNewPassword(ctx, values['password-stdin'] === true)) });
      if (ctx.json) printJson({ updated: name });
      return;
    }
    case 'show':
      return show(ctx, await dir.getUser(userName()));
    case 'list': {
      const filter = { ...(values.backend !== undefined ? { backend: values.backend } : {}), ...(values.domain !== undefined ? { domain: values.domain } : {}) };
      const all = (await dir.listUsers(filter)).map(publicView);
      return ctx.json ? printJson(all) : printTable(all, columns);
    }
    case 'del': {
      const name = userName();
      await dir.delUser(name);
      if (ctx.json) printJson({ deleted: name });
      return;
    }
    case 'import': {
      if (arg === undefined || values.backend === undefined) throw new CliError('ERR_USAGE', 'usage: gatehouse user import FILE --backend NAME', 2);
      let text: string;
      try {
        text = arg === '-' ? await ctx.readStdin() : readFileSync(arg, 'utf8');
      } catch (err) {
        throw new CliError('ERR_USAGE', `cannot read ${arg}: ${(err as Error).message}`, 2);
      }
      const parsed = parsePasswdFile(text, values.domain === undefined ? {} : { defaultDomain: values.domain });
      const started = performance.now();
      const result = await dir.importUsers(parsed.entries, { backend: values.backend });
      const seconds = (performance.now() - started) / 1000;
      const errors = [...parsed.errors, ...result.errors].sort((a, b) => a.line - b.line);
      for (const e of errors) process.stderr.write(`${arg}:${e.line}: ${e.code}: ${e.message}\n`);
      const summary = { added: result.added, updated: result.updated, unchanged: result.unchanged, errors: errors.length, seconds: Number(seconds.toFixed(3)) };
      if (ctx.json) printJson({ ...summary, errorLines: errors });
      else printRecord(summary);
      if (errors.length > 0) process.exitCode = 1;
      return;
    }
    default:
      throw new CliError('ERR_USAGE', 'usage: gatehouse user add|set|passwd|show|list|del USER [options] | user import FILE --backend NAME', 2);
  }
}

function show(ctx: CommandContext, rec: UserRecord | null): void {
  if (rec === null) throw new CliError('ERR_NOT_FOUND', 'no such user');
  const view = publicView(rec);
  if (ctx.json) printJson(view);
  else printRecord(view);
}

/** Shows which scheme protects a password, never the hash itself. */
function publicView(rec: UserRecord): Record<string, unknown> {
  const { password, ...rest } = rec;
  const scheme = password ? (/^\{([A-Z0-9.-]+)\}/i.exec(password)?.[1] ?? 'CRYPT') : undefined;
  // "default": no switch of its own; the virtual server's default decides at login.
  return { ...rest, imap: rec.imap ?? 'default', pop3: rec.pop3 ?? 'default', password: scheme ?? '(checked by back-end)' };
}

/** `--networks CIDR,...` (canonicalized by @gatehouse/policy), or `any` (null) to lift the restriction. */
function userNetworks(value: string): string[] | null {
  if (value === 'any' || value === '') return null;
  return value.split(',').map((n) => canonicalNetwork(n.trim()));
}

/** `--tnef convert|keep|off`, or `default` (null) to fall back to the domain's policy. */
export function tnefPolicy(value: string | undefined): TnefPolicy | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'default') return null;
  if ((TNEF_POLICIES as readonly string[]).includes(value)) return value as TnefPolicy;
  throw new CliError('ERR_USAGE', '--tnef must be convert, keep, off or default', 2);
}

/** A yes/no switch; `on`/`off` are accepted as the same (the issue and docs write on|off). */
export function flag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'yes' || value === 'on') return true;
  if (value === 'no' || value === 'off') return false;
  throw new CliError('ERR_USAGE', `${name} must be on or off (yes or no)`, 2);
}

/** `--imap/--pop3 on|off`, or `default` (null): follow the virtual server's default. */
function protocolSwitch(value: string | undefined, name: string): boolean | null | undefined {
  if (value === 'default') return null;
  try {
    return flag(value, name);
  } catch {
    throw new CliError('ERR_USAGE', `${name} must be on, off or default`, 2);
  }
}
