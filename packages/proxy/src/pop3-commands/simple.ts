// CAPA (RFC 2449 §5), QUIT (RFC 1939 §4), NOOP (RFC 1939 §5: a TRANSACTION-state command,
// refused politely before login) and STLS (RFC 2595 §4). The bytes a client pipelined
// behind STLS are discarded by the session before the handshake (CVE-2011-0411 class):
// they were never protected, so they are never executed.
import { formatPop3MultiLine } from '@gatehouse/protocol';
import { noArgument, type Pop3Command } from './command.ts';

export const capaCommand: Pop3Command = {
  name: 'CAPA',
  sendsCredentials: false,
  plaintextOnly: false,
  handle(ctx, argument) {
    if (!noArgument(argument)) return ctx.write('-ERR CAPA takes no arguments.\r\n');
    ctx.write(formatPop3MultiLine('Capability list follows', ctx.capabilities()));
  },
};

export const quitCommand: Pop3Command = {
  name: 'QUIT',
  sendsCredentials: false,
  plaintextOnly: false,
  handle(ctx, argument) {
    if (!noArgument(argument)) return ctx.write('-ERR QUIT takes no arguments.\r\n');
    ctx.quit();
  },
};

export const noopCommand: Pop3Command = {
  name: 'NOOP',
  sendsCredentials: false,
  plaintextOnly: false,
  handle(ctx) {
    ctx.write('-ERR NOOP is valid only after login.\r\n');
  },
};

export const stlsCommand: Pop3Command = {
  name: 'STLS',
  sendsCredentials: false,
  plaintextOnly: true,
  async handle(ctx, argument) {
    if (!noArgument(argument)) return ctx.write('-ERR STLS takes no arguments.\r\n');
    await ctx.startTls();
  },
};
