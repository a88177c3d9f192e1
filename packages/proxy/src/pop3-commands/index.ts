// The table of POP3 commands Gatehouse answers before login. Anything else (STAT, RETR,
// APOP, XCLIENT …) gets -ERR: APOP is not offered and XCLIENT is never taken from clients.
import type { Pop3Command } from './command.ts';
import { authCommand } from './auth.ts';
import { capaCommand, noopCommand, quitCommand, stlsCommand } from './simple.ts';
import { passCommand, userCommand } from './user-pass.ts';

export const pop3PreAuthCommands: ReadonlyMap<string, Pop3Command> = new Map(
  [capaCommand, quitCommand, noopCommand, stlsCommand, userCommand, passCommand, authCommand].map((c) => [c.name, c]),
);
export { saslMechanisms } from '../sasl-exchange.ts';
export { Pop3Reply, type Pop3Command, type Pop3Context } from './command.ts';
