// The SASL exchanges Gatehouse runs itself before login, the same for IMAP AUTHENTICATE
// (RFC 9051 §6.2.2, SASL-IR RFC 4959) and POP3 AUTH (RFC 5034): PLAIN (RFC 4616) and the
// de-facto LOGIN mechanism. Both protocols send a challenge as `+ base64` and take the
// client's response as one base64 line, `*` cancelling (RFC 9051 §6.2.2, RFC 5034 §4);
// how the outcome is answered (tagged BAD/NO, -ERR) stays with each protocol's command.
//
// Only mechanisms that yield the cleartext password: a front-end that logs in at the
// store again needs it, so challenge-response mechanisms cannot work.
import { decodeBase64Strict, encodeBase64, parseSaslPlain } from '@gatehouse/protocol';
import { utf8Text } from './utf8-text.ts';

export const saslMechanisms = ['PLAIN', 'LOGIN'] as const;

/** What the exchange needs of the session: its pre-login line I/O. */
export interface SaslChannel {
  write(line: string): void;
  /** One raw line from the client; null when the connection ended. */
  readLine(): Promise<Buffer | null>;
}

export type SaslOutcome =
  | { kind: 'credentials'; user: string; password: string }
  /** PLAIN with an authorization identity other than the user's own. */
  | { kind: 'authzid-refused' }
  /** The client answered a challenge with `*`. */
  | { kind: 'cancelled' }
  /** Not base64, not a PLAIN message, or not text. */
  | { kind: 'invalid' }
  | { kind: 'unsupported' }
  /** The connection ended during the exchange: nothing is left to answer. */
  | { kind: 'closed' };

type Step = { kind: 'data'; data: Buffer } | { kind: 'cancelled' } | { kind: 'invalid' } | { kind: 'closed' };

/** Runs mechanism `mech` (upper case) with the client's initial response, if it gave one. */
export async function saslExchange(ch: SaslChannel, mech: string, initial: string | null): Promise<SaslOutcome> {
  if (mech === 'PLAIN') {
    const step = await respond(ch, '', initial);
    if (step.kind !== 'data') return step;
    const plain = parseSaslPlain(step.data);
    if (plain === null) return { kind: 'invalid' };
    // Acting as another user would need admin rights Gatehouse does not grant clients.
    if (plain.authzid !== '' && plain.authzid !== plain.authcid) return { kind: 'authzid-refused' };
    return { kind: 'credentials', user: plain.authcid, password: plain.password };
  }

  if (mech === 'LOGIN') {
    const userStep = await respond(ch, encodeBase64('Username:'), initial);
    if (userStep.kind !== 'data') return userStep;
    const passStep = await respond(ch, encodeBase64('Password:'), null);
    if (passStep.kind !== 'data') return passStep;
    const user = utf8Text(userStep.data);
    const password = utf8Text(passStep.data);
    if (user === null || password === null || user === '') return { kind: 'invalid' };
    return { kind: 'credentials', user, password };
  }

  return { kind: 'unsupported' };
}

/** One client response: the initial response if given, else a "+" challenge and a line. */
async function respond(ch: SaslChannel, challenge: string, initial: string | null): Promise<Step> {
  let text: string;
  if (initial !== null) {
    text = initial;
  } else {
    ch.write(`+ ${challenge}\r\n`);
    const line = await ch.readLine();
    if (line === null) return { kind: 'closed' };
    text = line.toString('latin1');
  }
  if (text === '*') return { kind: 'cancelled' };
  const data = decodeBase64Strict(text);
  return data === null ? { kind: 'invalid' } : { kind: 'data', data };
}
