// `gatehouse throttle list|clear`: the tier-wide failed-login counters per client address
// (IPv6: per /64) that every node reads before a login (docs/security.md). `clear` is an
// operator unblocking an office whose users mistyped once too often.
import { AuthFailures, authFailureClient, authFailureKeyPart, type Directory } from '@gatehouse/directory';
import { parseClientAddress, parseNetwork, type IpAddress } from '@gatehouse/policy';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printTable } from '../output.ts';

const USAGE = 'usage: gatehouse throttle list | throttle clear ADDR|IPV6-PREFIX/64';

function usage(): CliError {
  return new CliError('ERR_USAGE', USAGE, 2);
}

/** The counter an argument names: an address, or an IPv6 /64 written as a network. */
function clientArg(text: string): IpAddress {
  const ip = parseClientAddress(text);
  if (ip !== null) return ip;
  const net = parseNetwork(text);
  if (net !== null && net.family === 6 && net.prefixLength === 64) return { family: 6, value: net.value };
  throw new CliError('ERR_USAGE', `"${text}" is not an IP address or an IPv6 /64\n${USAGE}`, 2);
}

export async function throttleCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { positionals } = ctx.parse({});
  const [verb, ...rest] = positionals;
  const counters = new AuthFailures({ redis: dir.redis, keys: dir.keys });
  switch (verb) {
    case 'list': {
      if (rest.length > 0) throw usage();
      const entries = await counters.list();
      if (ctx.json) return printJson({ counters: entries });
      return printTable(
        entries.map((e) => ({ ...e, expiresIn: `${Math.ceil(e.expiresInMs / 1000)}s` })),
        ['client', 'failures', 'expiresIn'],
      );
    }
    case 'clear': {
      const [address, ...extra] = rest;
      if (address === undefined || extra.length > 0) throw usage();
      const ip = clientArg(address);
      const client = authFailureClient(authFailureKeyPart(ip)) as string;
      const cleared = await counters.clear(ip);
      if (ctx.json) return printJson({ client, cleared });
      process.stdout.write(cleared ? `cleared the failed logins of ${client}\n` : `no failed logins counted for ${client}\n`);
      return;
    }
    default:
      throw usage();
  }
}
