// `gatehouse vserver list|show|set|del`: the policy of a virtual server kept in the
// directory (gh:vserver:<name>, docs/access.md#virtual-server-policy): mail domains,
// default domain, banner, connection limits, timeouts, protocol defaults. Every running
// node re-reads it within a second; listeners and certificates stay in the config file.
import type { Directory, VserverPolicy, VserverPolicyPatch } from '@gatehouse/directory';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printRecord, printTable } from '../output.ts';
import { flag } from './user.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const USAGE = `usage: gatehouse vserver list | vserver show NAME | vserver del NAME
       vserver set NAME [--domains D,D...|any] [--default-domain D|none] [--banner TEXT|none]
                        [--max-connections N|none] [--max-per-client N|none]
                        [--auth-timeout DURATION|none] [--idle-timeout DURATION|none]
                        [--imap on|off|default] [--pop3 on|off|default]
  (DURATION: 90, 90s, 30m, 2h or 1500ms; "none"/"any"/"default" remove the setting: the config file decides)`;

const options = {
  domains: { type: 'string' },
  'default-domain': { type: 'string' },
  banner: { type: 'string' },
  'max-connections': { type: 'string' },
  'max-per-client': { type: 'string' },
  'auth-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  imap: { type: 'string' },
  pop3: { type: 'string' },
} as const;

const columns = ['name', 'domains', 'defaultDomain', 'banner', 'maxConnections', 'maxConnectionsPerClient', 'authTimeoutMs', 'idleTimeoutMs', 'imap', 'pop3'];

function usage(): CliError {
  return new CliError('ERR_USAGE', USAGE, 2);
}

const UNSET = new Set(['none', 'any', 'default', '']);

function count(v: string, name: string): number {
  if (!/^\d{1,10}$/.test(v)) throw new CliError('ERR_USAGE', `${name} must be a whole number or none`, 2);
  return Number(v);
}

/** Milliseconds of `90`, `90s`, `30m`, `2h` or `1500ms` (a bare number is seconds). */
export function durationMs(v: string, name: string): number {
  const m = /^(\d{1,9})(ms|s|m|h)?$/.exec(v);
  if (m === null) throw new CliError('ERR_USAGE', `${name} must be a duration such as 90s, 30m, 2h or 1500ms`, 2);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

function patchOf(values: Record<string, string | undefined>): VserverPolicyPatch {
  const patch: Mutable<VserverPolicyPatch> = {};
  const each = <K extends keyof VserverPolicyPatch>(opt: string, key: K, parse: (v: string) => NonNullable<VserverPolicyPatch[K]>): void => {
    const v = values[opt];
    if (v === undefined) return;
    patch[key] = (UNSET.has(v) ? null : parse(v)) as Mutable<VserverPolicyPatch>[K];
  };
  each('domains', 'domains', (v) => v.split(',').map((d) => d.trim()));
  each('default-domain', 'defaultDomain', (v) => v);
  if (values['banner'] !== undefined) patch.banner = values['banner'] === 'none' ? null : values['banner'];
  each('max-connections', 'maxConnections', (v) => count(v, '--max-connections'));
  each('max-per-client', 'maxConnectionsPerClient', (v) => count(v, '--max-per-client'));
  each('auth-timeout', 'authTimeoutMs', (v) => durationMs(v, '--auth-timeout'));
  each('idle-timeout', 'idleTimeoutMs', (v) => durationMs(v, '--idle-timeout'));
  each('imap', 'imap', (v) => flag(v, '--imap') as boolean);
  each('pop3', 'pop3', (v) => flag(v, '--pop3') as boolean);
  return patch;
}

/** What a person reads: unset fields say who decides instead. */
function view(p: VserverPolicy): Record<string, unknown> {
  return {
    name: p.name,
    domains: p.domains?.join(',') ?? '(any)',
    defaultDomain: p.defaultDomain ?? '(config)',
    banner: p.banner ?? '(config)',
    maxConnections: p.maxConnections ?? '(config)',
    maxConnectionsPerClient: p.maxConnectionsPerClient ?? '(config)',
    authTimeoutMs: p.authTimeoutMs ?? '(config)',
    idleTimeoutMs: p.idleTimeoutMs ?? '(config)',
    imap: p.imap ?? true,
    pop3: p.pop3 ?? true,
    ...(p.updated !== undefined ? { updated: p.updated } : {}),
  };
}

export async function vserverCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { values, positionals } = ctx.parse(options);
  const [verb, name, ...rest] = positionals;
  if (rest.length > 0) throw usage();
  switch (verb) {
    case 'list': {
      if (name !== undefined) throw usage();
      const all = await dir.listVserverPolicies();
      return ctx.json ? printJson(all) : printTable(all.map(view), columns);
    }
    case 'show': {
      if (name === undefined) throw usage();
      const p = (await dir.getVserverPolicy(name)) ?? { name };
      return ctx.json ? printJson(p) : printRecord(view(p));
    }
    case 'set': {
      if (name === undefined) throw usage();
      const patch = patchOf(values);
      if (Object.keys(patch).length === 0) throw new CliError('ERR_USAGE', `vserver set needs something to change\n${USAGE}`, 2);
      const p = await dir.setVserverPolicy(name, patch);
      return ctx.json ? printJson(p) : printRecord(view(p));
    }
    case 'del': {
      if (name === undefined) throw usage();
      await dir.delVserverPolicy(name);
      if (ctx.json) printJson({ deleted: name });
      return;
    }
    default:
      throw usage();
  }
}
