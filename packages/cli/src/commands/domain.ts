// `gatehouse domain add|list|del`: the mail domains this tier serves.
import type { Directory } from '@gatehouse/directory';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printTable } from '../output.ts';

export async function domainCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { positionals } = ctx.parse({});
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
      return ctx.json ? printJson(all) : printTable(all as unknown as Array<Record<string, unknown>>, ['name', 'created']);
    }
    default:
      throw new CliError('ERR_USAGE', 'usage: gatehouse domain add|list|del DOMAIN', 2);
  }
}
