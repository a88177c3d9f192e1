// STARTTLS (RFC 9051 §6.2.1). Bytes the client pipelined behind the command in
// cleartext are discarded by the session before the handshake (CVE-2011-0411 class,
// the NO STARTTLS study): they were never protected, so they are never executed.
import type { PreAuthCommand } from './command.ts';

export const starttlsCommand: PreAuthCommand = {
  name: 'STARTTLS',
  sendsCredentials: false,
  plaintextOnly: true,
  async handle(ctx, tag, args) {
    if (args.length > 0) return ctx.write(`${tag} BAD STARTTLS takes no arguments.\r\n`);
    await ctx.startTls(tag);
  },
};
