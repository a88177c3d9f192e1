// AUTH (RFC 5034) with an optional initial response: PLAIN (RFC 4616) and the de-facto
// LOGIN mechanism. A client cancels an exchange with "*" and gets -ERR (RFC 5034 §4).
// AUTH without a mechanism lists the mechanisms, as RFC 1734 clients (Outlook) expect.
// Other mechanisms are refused: a front-end that logs in at the store again needs the
// cleartext password, so challenge-response mechanisms cannot work (and APOP neither).
import { decodeBase64Strict, encodeBase64, formatPop3MultiLine, parseSaslPlain } from '@gatehouse/protocol';
import { utf8Text, type Pop3Command, type Pop3Context } from './command.ts';

export const pop3SaslMechanisms = ['PLAIN', 'LOGIN'] as const;

type Step = { kind: 'data'; data: Buffer } | { kind: 'cancel' } | { kind: 'bad' } | { kind: 'closed' };

/** One client response: the initial response if given, else a "+" challenge and a line. */
async function respond(ctx: Pop3Context, challenge: string, initial: string | null): Promise<Step> {
  let text: string;
  if (initial !== null) {
    text = initial;
  } else {
    ctx.write(`+ ${challenge}\r\n`);
    const line = await ctx.readLine();
    if (line === null) return { kind: 'closed' };
    text = line.toString('latin1');
  }
  if (text === '*') return { kind: 'cancel' };
  const data = decodeBase64Strict(text);
  return data === null ? { kind: 'bad' } : { kind: 'data', data };
}

export const authCommand: Pop3Command = {
  name: 'AUTH',
  sendsCredentials: true,
  plaintextOnly: false,
  async handle(ctx, argument) {
    const words = argument === null ? [] : argument.toString('latin1').split(' ');
    if (words.length === 0 || (words.length === 1 && words[0] === '')) {
      return ctx.write(formatPop3MultiLine('SASL mechanisms follow', pop3SaslMechanisms));
    }
    const [mechWord, initial = null] = words;
    const mech = (mechWord as string).toUpperCase();
    if (words.length > 2 || mech === '' || initial === '') {
      return ctx.write('-ERR AUTH expects a mechanism and an optional initial response.\r\n');
    }
    const cancelled = (): void => ctx.write('-ERR Authentication cancelled.\r\n');
    const invalid = (): void => ctx.write('-ERR Invalid SASL response.\r\n');

    if (mech === 'PLAIN') {
      const step = await respond(ctx, '', initial);
      if (step.kind === 'closed') return;
      if (step.kind === 'cancel') return cancelled();
      if (step.kind === 'bad') return invalid();
      const plain = parseSaslPlain(step.data);
      if (plain === null) return invalid();
      // Acting as another user would need admin rights Gatehouse does not grant clients.
      if (plain.authzid !== '' && plain.authzid !== plain.authcid) {
        return ctx.refuseLogin('authzid-refused', '-ERR [AUTH] Authorization identity not permitted.\r\n');
      }
      return ctx.login(plain.authcid, plain.password);
    }

    if (mech === 'LOGIN') {
      const userStep = await respond(ctx, encodeBase64('Username:'), initial);
      if (userStep.kind === 'closed') return;
      if (userStep.kind === 'cancel') return cancelled();
      if (userStep.kind === 'bad') return invalid();
      const passStep = await respond(ctx, encodeBase64('Password:'), null);
      if (passStep.kind === 'closed') return;
      if (passStep.kind === 'cancel') return cancelled();
      if (passStep.kind === 'bad') return invalid();
      const user = utf8Text(userStep.data);
      const pass = utf8Text(passStep.data);
      if (user === null || pass === null || user === '') return invalid();
      return ctx.login(user, pass);
    }

    ctx.write('-ERR Unsupported authentication mechanism.\r\n');
  },
};
