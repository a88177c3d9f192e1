// `gatehouse cert self-signed|show`: a certificate for a test or local tier, and a check
// that a PEM pair loads (the key matches, the dates and names are what was meant).
import { readFileSync, writeFileSync } from 'node:fs';
import { generateSelfSigned, loadPemPair } from '@gatehouse/certs';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printRecord } from '../output.ts';

export async function certCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = ctx.parse({
    cert: { type: 'string' },
    key: { type: 'string' },
    name: { type: 'string', multiple: true } as never,
    days: { type: 'string' },
  });
  const [verb] = positionals;
  const certFile = values.cert;
  const keyFile = values.key;
  if (certFile === undefined || keyFile === undefined) throw new CliError('ERR_USAGE', `usage: gatehouse cert ${verb ?? 'self-signed|show'} --cert FILE --key FILE`, 2);
  switch (verb) {
    case 'self-signed': {
      const names = (values.name as unknown as string[] | undefined) ?? ['localhost', '127.0.0.1'];
      const [commonName = 'localhost', ...rest] = names;
      const days = Number(values.days ?? 825);
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new CliError('ERR_USAGE', '--days must be a whole number of days, 1..3650', 2);
      const pair = generateSelfSigned({ commonName, altNames: [commonName, ...rest], days });
      writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
      writeFileSync(certFile, pair.certPem);
      return describe(ctx, pair.certPem, pair.keyPem);
    }
    case 'show': {
      let certPem: string;
      let keyPem: string;
      try {
        certPem = readFileSync(certFile, 'utf8');
        keyPem = readFileSync(keyFile, 'utf8');
      } catch (err) {
        throw new CliError('ERR_USAGE', (err as Error).message, 2);
      }
      return describe(ctx, certPem, keyPem);
    }
    default:
      throw new CliError('ERR_USAGE', 'usage: gatehouse cert self-signed|show --cert FILE --key FILE [--name DNS-OR-IP ...]', 2);
  }
}

function describe(ctx: CommandContext, certPem: string, keyPem: string): void {
  const info = loadPemPair(certPem, keyPem);
  const view = { subject: info.subjectCN, names: info.altNames.join(', '), notAfter: info.notAfter.toISOString() };
  if (ctx.json) printJson(view);
  else printRecord(view);
}
