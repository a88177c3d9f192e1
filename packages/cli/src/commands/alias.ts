// `gatehouse alias add|del|list`: extra addresses that deliver to a local user
// (gh:alias:<address>, one level, local users only; docs/directory.md).
import type { Directory } from '@gatehouse/directory';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printRecord, printTable } from '../output.ts';

export async function aliasCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { positionals } = ctx.parse({});
  const [verb, address, target] = positionals;
  switch (verb) {
    case 'add': {
      if (address === undefined || target === undefined) throw new CliError('ERR_USAGE', 'usage: gatehouse alias add ADDRESS USER', 2);
      const rec = await dir.addAlias(address, target);
      if (ctx.json) printJson(rec);
      else printRecord({ ...rec });
      return;
    }
    case 'del': {
      if (address === undefined) throw new CliError('ERR_USAGE', 'usage: gatehouse alias del ADDRESS', 2);
      await dir.delAlias(address);
      if (ctx.json) printJson({ deleted: address.toLowerCase() });
      return;
    }
    case 'list': {
      const all = await dir.listAliases();
      return ctx.json ? printJson(all) : printTable(all as unknown as Array<Record<string, unknown>>, ['name', 'target', 'created']);
    }
    default:
      throw new CliError('ERR_USAGE', 'usage: gatehouse alias add ADDRESS USER | alias del ADDRESS | alias list', 2);
  }
}
