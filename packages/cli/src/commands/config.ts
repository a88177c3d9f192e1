// `gatehouse config check|print --config FILE`: validate a config file without starting a
// node, and show the effective configuration (defaults filled in) with secrets redacted.
import { redactRedisAddress } from '@gatehouse/directory';
import { loadConfig } from '../config-load.ts';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson } from '../output.ts';
import { stringify } from 'yaml';

export async function configCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = ctx.parse({ config: { type: 'string' } });
  const [verb] = positionals;
  if ((verb !== 'check' && verb !== 'print') || values.config === undefined) {
    throw new CliError('ERR_USAGE', 'usage: gatehouse config check|print --config FILE', 2);
  }
  const config = loadConfig(values.config);
  if (verb === 'check') {
    if (ctx.json) printJson({ ok: true });
    else process.stdout.write(`${values.config}: ok\n`);
    return;
  }
  // The address may carry passwords (the user's, sentinelPassword): never print them.
  const shown = {
    ...config,
    ...(config.redis ? { redis: redactRedisAddress(config.redis) } : {}),
    ...(config.admin.token !== undefined ? { admin: { ...config.admin, token: 'redacted' } } : {}),
  };
  if (ctx.json) printJson(shown);
  else process.stdout.write(stringify(shown));
}

