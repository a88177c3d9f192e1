// AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959): the exchange is sasl-exchange.ts;
// here is its IMAP framing. A client that cancels with "*" gets a tagged BAD; other
// mechanisms are refused with NO (anchors-proxy.md §8.5: the store login needs the
// cleartext password).
import type { PreAuthCommand } from './command.ts';
import { argText } from './arg-text.ts';
import { saslExchange } from '../sasl-exchange.ts';

export const authenticateCommand: PreAuthCommand = {
  name: 'AUTHENTICATE',
  sendsCredentials: true,
  plaintextOnly: false,
  async handle(ctx, tag, args) {
    const [mechArg, irArg] = args;
    const mech = mechArg && mechArg.kind === 'atom' ? mechArg.value.toUpperCase() : null;
    const initial = irArg ? argText(irArg) : null;
    if (mech === null || args.length > 2 || (irArg && initial === null)) {
      return ctx.write(`${tag} BAD AUTHENTICATE expects a mechanism and an optional initial response.\r\n`);
    }
    const outcome = await saslExchange(ctx, mech, initial);
    switch (outcome.kind) {
      case 'credentials':
        return ctx.login(tag, outcome.user, outcome.password);
      case 'authzid-refused':
        return ctx.refuseLogin(tag, 'authzid-refused', 'AUTHORIZATIONFAILED', 'Authorization identity not permitted.');
      case 'cancelled':
        return ctx.write(`${tag} BAD Authentication cancelled.\r\n`);
      case 'invalid':
        return ctx.write(`${tag} BAD Invalid SASL response.\r\n`);
      case 'unsupported':
        return ctx.write(`${tag} NO Unsupported authentication mechanism.\r\n`);
      case 'closed':
        return;
    }
  },
};
