// AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959): PLAIN (RFC 4616) and the
// de-facto LOGIN mechanism. A client cancels an exchange with "*" and gets a tagged BAD.
// Other mechanisms are refused with NO: a front-end that re-logs in at the store needs
// the cleartext password (anchors-proxy.md §8.5), so challenge-response ones cannot work.
import { decodeBase64Strict, encodeBase64, parseSaslPlain } from '@gatehouse/protocol';
import type { PreAuthContext } from '../pre-auth-context.ts';
import type { PreAuthCommand } from './command.ts';
import { argText } from './arg-text.ts';

export const saslMechanisms = ['PLAIN', 'LOGIN'] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

type Step = { kind: 'data'; data: Buffer } | { kind: 'cancel' } | { kind: 'bad' } | { kind: 'closed' };

/** One client response: the initial response if given, else a "+" challenge and a line. */
async function respond(ctx: PreAuthContext, challenge: string, initial: string | null): Promise<Step> {
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

function text(buf: Buffer): string | null {
  if (buf.includes(0)) return null;
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

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
    const cancelled = (): void => ctx.write(`${tag} BAD Authentication cancelled.\r\n`);
    const invalid = (): void => ctx.write(`${tag} BAD Invalid SASL response.\r\n`);

    if (mech === 'PLAIN') {
      const step = await respond(ctx, '', initial);
      if (step.kind === 'closed') return;
      if (step.kind === 'cancel') return cancelled();
      if (step.kind === 'bad') return invalid();
      const plain = parseSaslPlain(step.data);
      if (plain === null) return invalid();
      // Acting as another user would need admin rights Gatehouse does not grant clients.
      if (plain.authzid !== '' && plain.authzid !== plain.authcid) {
        return ctx.refuseLogin(tag, 'authzid-refused', 'AUTHORIZATIONFAILED', 'Authorization identity not permitted.');
      }
      return ctx.login(tag, plain.authcid, plain.password);
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
      const user = text(userStep.data);
      const pass = text(passStep.data);
      if (user === null || pass === null || user === '') return invalid();
      return ctx.login(tag, user, pass);
    }

    ctx.write(`${tag} NO Unsupported authentication mechanism.\r\n`);
  },
};
