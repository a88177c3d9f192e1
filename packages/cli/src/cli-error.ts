// Errors the command reports to its user: a stable code, a message for stderr and a
// non-zero exit. Errors from the packages (directory, proxy) carry their own codes.
import { GatehouseError } from '@gatehouse/protocol';

export class CliError extends GatehouseError {
  details: unknown = undefined;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode = 1) {
    super(code, message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
