// CAPABILITY, NOOP, LOGOUT, ID (RFC 9051 §6.1, RFC 2971): answered by Gatehouse itself.
import { formatIdParams, parseIdParams } from '@gatehouse/protocol';
import type { PreAuthCommand } from './command.ts';

export const capabilityCommand: PreAuthCommand = {
  name: 'CAPABILITY',
  sendsCredentials: false,
  plaintextOnly: false,
  handle(ctx, tag, args) {
    if (args.length > 0) return ctx.write(`${tag} BAD CAPABILITY takes no arguments.\r\n`);
    ctx.write(`* CAPABILITY ${ctx.capabilities().join(' ')}\r\n${tag} OK Capability completed.\r\n`);
  },
};

export const noopCommand: PreAuthCommand = {
  name: 'NOOP',
  sendsCredentials: false,
  plaintextOnly: false,
  handle(ctx, tag, args) {
    if (args.length > 0) return ctx.write(`${tag} BAD NOOP takes no arguments.\r\n`);
    ctx.write(`${tag} OK NOOP completed.\r\n`);
  },
};

export const logoutCommand: PreAuthCommand = {
  name: 'LOGOUT',
  sendsCredentials: false,
  plaintextOnly: false,
  handle(ctx, tag, args) {
    if (args.length > 0) return ctx.write(`${tag} BAD LOGOUT takes no arguments.\r\n`);
    ctx.logout(tag);
  },
};

const serverId = formatIdParams({ name: 'Gatehouse', vendor: 'Gatehouse' });

export const idCommand: PreAuthCommand = {
  name: 'ID',
  sendsCredentials: false,
  plaintextOnly: false,
  handle(ctx, tag, args) {
    const first = args[0];
    const params = args.length === 1 && first !== undefined ? parseIdParams(first) : null;
    if (params === null) return ctx.write(`${tag} BAD Invalid ID parameters.\r\n`);
    ctx.setClientId(params);
    ctx.write(`* ID ${serverId}\r\n${tag} OK ID completed.\r\n`);
  },
};
