/**
 * The one base error of Gatehouse.
 *
 * Every error the project throws on purpose carries a stable `code` (`ERR_*`), so callers
 * and tests branch on the code and never on message prose, and docs/errors.md can list
 * each code with what the client sees and what the operator does. The original error is
 * kept as `cause` (ES2022 error cause). Other packages subclass it for their own codes.
 *
 * Expected outcomes are not errors: a failed login is a result value, and a client's
 * protocol mistake is a parser event (see ImapCommandReader), not an exception.
 */
export class GatehouseError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
