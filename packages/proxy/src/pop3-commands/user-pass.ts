// USER and PASS (RFC 1939 §7). USER only remembers the name: its reply never says whether
// the user exists (no account oracle). PASS takes the whole rest of its line as the
// password, spaces included, as RFC 1939 §7 allows, decoded as UTF-8.
import { utf8Text } from '../utf8-text.ts';
import { Pop3Reply, type Pop3Command } from './command.ts';

export const userCommand: Pop3Command = {
  name: 'USER',
  sendsCredentials: true,
  plaintextOnly: false,
  handle(ctx, argument) {
    const name = argument === null ? null : utf8Text(argument);
    if (name === null || name === '') {
      ctx.pendingUser = null;
      return ctx.write('-ERR USER expects a user name.\r\n');
    }
    ctx.pendingUser = name;
    ctx.write('+OK Send the password.\r\n');
  },
};

export const passCommand: Pop3Command = {
  name: 'PASS',
  sendsCredentials: true,
  plaintextOnly: false,
  async handle(ctx, argument) {
    const user = ctx.pendingUser;
    ctx.pendingUser = null;
    if (user === null) return ctx.write('-ERR No user name given; send USER first.\r\n');
    const password = argument === null ? '' : utf8Text(argument);
    // Bytes that are not UTF-8 can match no stored password: a wrong password, answered as one.
    if (password === null) return ctx.refuseLogin('bad-password', Pop3Reply.AUTH_FAILED);
    await ctx.login(user, password);
  },
};
