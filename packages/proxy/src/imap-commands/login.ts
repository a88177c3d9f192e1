// LOGIN (RFC 9051 §6.2.3): user name and password as quoted strings or literals; the
// reader has already unescaped them. Both must be valid UTF-8 text without NUL.
import type { PreAuthCommand } from './command.ts';
import { argText } from './arg-text.ts';

export const loginCommand: PreAuthCommand = {
  name: 'LOGIN',
  sendsCredentials: true,
  plaintextOnly: false,
  async handle(ctx, tag, args) {
    const [userArg, passArg] = args;
    const user = args.length === 2 && userArg ? argText(userArg) : null;
    const pass = args.length === 2 && passArg ? argText(passArg) : null;
    if (user === null || pass === null) return ctx.write(`${tag} BAD LOGIN expects a user name and a password.\r\n`);
    await ctx.login(tag, user, pass);
  },
};
