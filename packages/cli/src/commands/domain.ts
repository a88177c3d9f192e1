// `gatehouse domain add|list|del|set`: the mail domains this tier serves, and their
// delivery switches (`--delivery yes|no`, `--tnef convert|keep|off|default`).
import type { Directory } from '@gatehouse/directory';
import { tnefPolicy } from './user.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printTable } from '../output.ts';

export async function domainCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { positionals, values } = ctx.parse({ delivery: { type: 'string' }, tnef: { type: 'string' } });
  const [verb, name] = positionals;
  switch (verb) {
    case 'add':
    case 'del': {
      if (name === undefined) throw new CliError('ERR_USAGE', `domain ${verb} needs a DOMAIN`, 2);
      if (verb === 'add') await dir.addDomain(name);
      else await dir.delDomain(name);
      if (ctx.json) printJson({ [verb === 'add' ? 'added' : 'deleted']: name.toLowerCase() });
      return;
    }
    case 'list': {
      const all = await dir.listDomains();
      return ctx.json ? printJson(all) : printTable(all as unknown as Array<Record<string, unknown>>, ['name', 'delivery', 'tnef', 'created']);
    }
    case 'set': {
      if (name === undefined) throw new CliError('ERR_USAGE', 'domain set needs a DOMAIN', 2);
      if (values.delivery !== undefined && values.delivery !== 'yes' && values.delivery !== 'no') throw new CliError('ERR_USAGE', '--delivery must be yes or no', 2);
      const tnef = tnefPolicy(values.tnef);
      if (values.delivery === undefined && tnef === undefined) throw new CliError('ERR_USAGE', 'domain set needs --delivery yes|no or --tnef POLICY', 2);
      const rec = await dir.setDomain(name, { ...(values.delivery !== undefined ? { delivery: values.delivery === 'yes' } : {}), ...(tnef !== undefined ? { tnef } : {}) });
      if (ctx.json) printJson(rec);
      else printTable([rec as unknown as Record<string, unknown>], ['name', 'delivery', 'tnef', 'created']);
      return;
    }
    default:
      throw new CliError('ERR_USAGE', 'usage: gatehouse domain add|list|del DOMAIN | domain set DOMAIN [--delivery yes|no] [--tnef convert|keep|off|default]', 2);
  }
}
