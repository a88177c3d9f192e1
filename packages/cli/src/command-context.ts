// What every verb receives: its own arguments, the global options and a way to parse
// its flags strictly (an unknown flag is a usage error, not silently ignored).
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { CliError } from './cli-error.ts';

export interface CommandContext {
  args: string[];
  json: boolean;
  redisUrl: string | undefined;
  /** Key prefix given with --prefix or GATEHOUSE_KEY_PREFIX, if any. */
  prefix: string | undefined;
  parse<T extends ParseArgsOptionsConfig>(options: T): { values: { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string }; positionals: string[] };
  readStdin(): Promise<string>;
}

export function makeContext(args: string[], json: boolean, redisUrl: string | undefined, prefix: string | undefined): CommandContext {
  return {
    args,
    json,
    redisUrl,
    prefix,
    parse(options) {
      try {
        const r = parseArgs({ args, options, allowPositionals: true, strict: true });
        return { values: r.values as never, positionals: r.positionals };
      } catch (err) {
        throw new CliError('ERR_USAGE', (err as Error).message, 2);
      }
    },
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}
