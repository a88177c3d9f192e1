// The table of commands Gatehouse answers before login. Anything else gets a BAD.
import type { PreAuthCommand } from './command.ts';
import { authenticateCommand } from './authenticate.ts';
import { loginCommand } from './login.ts';
import { capabilityCommand, idCommand, logoutCommand, noopCommand } from './simple.ts';
import { starttlsCommand } from './starttls.ts';

export const preAuthCommands: ReadonlyMap<string, PreAuthCommand> = new Map(
  [capabilityCommand, noopCommand, logoutCommand, idCommand, starttlsCommand, loginCommand, authenticateCommand].map((c) => [c.name, c]),
);
export { saslMechanisms } from '../sasl-exchange.ts';
export type { PreAuthCommand } from './command.ts';
