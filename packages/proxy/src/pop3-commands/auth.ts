// AUTH (RFC 5034) with an optional initial response: the exchange is sasl-exchange.ts;
// here is its POP3 framing. A client that cancels with "*" gets -ERR (RFC 5034 §4). AUTH
// without a mechanism lists the mechanisms, as RFC 1734 clients (Outlook) expect. Other
// mechanisms are refused (and APOP is not offered): the store login needs the cleartext
// password.
import { formatPop3MultiLine } from '@gatehouse/protocol';
import { saslExchange, saslMechanisms } from '../sasl-exchange.ts';
import type { Pop3Command } from './command.ts';

export const authCommand: Pop3Command = {
  name: 'AUTH',
  sendsCredentials: true,
  plaintextOnly: false,
  async handle(ctx, argument) {
    const words = argument === null ? [] : argument.toString('latin1').split(' ');
    if (words.length === 0 || (words.length === 1 && words[0] === '')) {
      return ctx.write(formatPop3MultiLine('SASL mechanisms follow', saslMechanisms));
    }
    const [mechWord, initial = null] = words;
    const mech = (mechWord as string).toUpperCase();
    if (words.length > 2 || mech === '' || initial === '') {
      return ctx.write('-ERR AUTH expects a mechanism and an optional initial response.\r\n');
    }
    const outcome = await saslExchange(ctx, mech, initial);
    switch (outcome.kind) {
      case 'credentials':
        return ctx.login(outcome.user, outcome.password);
      case 'authzid-refused':
        return ctx.refuseLogin('authzid-refused', '-ERR [AUTH] Authorization identity not permitted.\r\n');
      case 'cancelled':
        return ctx.write('-ERR Authentication cancelled.\r\n');
      case 'invalid':
        return ctx.write('-ERR Invalid SASL response.\r\n');
      case 'unsupported':
        return ctx.write('-ERR Unsupported authentication mechanism.\r\n');
      case 'closed':
        return;
    }
  },
};
