// Entry point of the `gatehouse` command: global options, then one verb. Admin verbs act
// on the directory, so every node sees a change at once without a restart.
import { Directory } from '@gatehouse/directory';
import { GatehouseError } from '@gatehouse/protocol';
import { CliError } from './cli-error.ts';
import { makeContext, type CommandContext } from './command-context.ts';
import { backendCommand } from './commands/backend.ts';
import { certCommand } from './commands/cert.ts';
import { configCommand } from './commands/config.ts';
import { domainCommand } from './commands/domain.ts';
import { aliasCommand } from './commands/alias.ts';
import { accessCommand } from './commands/access.ts';
import { vserverCommand } from './commands/vserver.ts';
import { tnefCommand } from './commands/tnef.ts';
import { serveCommand } from './commands/serve.ts';
import { userCommand } from './commands/user.ts';
import { kickCommand, whoCommand } from './commands/who.ts';
import { throttleCommand } from './commands/throttle.ts';

const usage = `usage: gatehouse [--redis URL] [--json] [--prefix P] VERB ...
  serve --config FILE [--admin [ADDR:]PORT] | serve [--imaps ADDR:PORT] [--imap ADDR:PORT] [--pop3s ADDR:PORT] [--pop3 ADDR:PORT] [--lmtp ADDR:PORT] [--smtp ADDR:PORT] --cert FILE --key FILE [--domain D]
  user add|set|passwd|show|list|del USER [--backend NAME] [--password-stdin] [--disabled|--enabled] [--imap on|off|default] [--pop3 on|off|default]
          [--delivery yes|no] [--tnef convert|keep|off|default] [--networks CIDR,...|any]
  user import FILE --backend NAME
  backend add|set|show|list|del|drain|undrain NAME --host H --imap-port P [--pop3-port P] [--lmtp-port P|none] [--tls none|starttls|implicit]
          [--login master|user] [--master-user U --master-password-file F]
  domain add|list|del DOMAIN | domain set DOMAIN [--delivery yes|no] [--tnef convert|keep|off|default]
  alias add ADDRESS USER | alias del ADDRESS | alias list
  vserver list | vserver show|del NAME | vserver set NAME [--domains D,...|any] [--default-domain D] [--banner TEXT]
          [--max-connections N] [--max-per-client N] [--auth-timeout DUR] [--idle-timeout DUR] [--imap on|off|default] [--pop3 on|off|default]
  access list VSERVER | access add VSERVER grant|deny ADDR[/LEN|/MASK] [--default grant|deny] | access add VSERVER --default grant|deny
          | access del VSERVER [grant|deny] ADDR[/LEN|/MASK]
  tnef FILE [--out DIR] [--keep-original]
  cert self-signed|show --cert FILE --key FILE [--name DNS-OR-IP ...]
  config check|print --config FILE
  who [--user U] [--vserver V] [--node N] [--backend B]
  kick SESSION_ID | kick --user U [--text TEXT] [--wait-ms MS]
  throttle list | throttle clear ADDR|IPV6-PREFIX/64
The directory is --redis URL or GATEHOUSE_REDIS_URL.`;

type AdminVerb = (ctx: CommandContext, dir: Directory) => Promise<void>;
const adminVerbs: Record<string, AdminVerb> = { user: userCommand, backend: backendCommand, domain: domainCommand, alias: aliasCommand, access: accessCommand, vserver: vserverCommand, who: whoCommand, kick: kickCommand, throttle: throttleCommand };

async function main(argv: string[]): Promise<void> {
  let json = false;
  let redisUrl = process.env['GATEHOUSE_REDIS_URL'] || undefined;
  let prefix = process.env['GATEHOUSE_KEY_PREFIX'] || undefined;
  const rest = [...argv];
  // Global options may come before the verb or anywhere after it.
  for (let i = 0; i < rest.length; ) {
    const a = rest[i];
    if (a === '--json') {
      json = true;
      rest.splice(i, 1);
    } else if (a === '--redis' || a === '--prefix') {
      const v = rest[i + 1];
      if (v === undefined) throw new CliError('ERR_USAGE', `${a} needs a value`, 2);
      if (a === '--redis') redisUrl = v;
      else prefix = v;
      rest.splice(i, 2);
    } else if (a?.startsWith('--redis=')) {
      redisUrl = a.slice(8);
      rest.splice(i, 1);
    } else i++;
  }
  const [verb, ...args] = rest;
  if (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const ctx = makeContext(args, json, redisUrl, prefix);
  if (verb === 'serve') return serveCommand(ctx);
  if (verb === 'cert') return certCommand(ctx);
  if (verb === 'config') return configCommand(ctx);
  if (verb === 'tnef') return tnefCommand(ctx);
  const admin = adminVerbs[verb];
  if (admin === undefined) throw new CliError('ERR_USAGE', `unknown verb "${verb}"\n${usage}`, 2);
  if (redisUrl === undefined) throw new CliError('ERR_USAGE', 'no directory: give --redis URL or set GATEHOUSE_REDIS_URL', 2);
  const dir = await Directory.connect(redisUrl, { prefix: prefix ?? 'gh:' });
  try {
    await admin(ctx, dir);
  } finally {
    await dir.close();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Every package's errors are GatehouseErrors with a stable ERR_* code; anything else is a bug.
  const code = err instanceof GatehouseError ? err.code : 'ERR_INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  if (process.argv.includes('--json')) {
    process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  } else {
    process.stderr.write(`gatehouse: ${code}: ${message}\n`);
  }
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
});
