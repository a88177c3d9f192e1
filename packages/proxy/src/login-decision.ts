// The login decision before any store is contacted, shared by the protocols: directory
// lookup and password check, the account rules, the back-end's state. It returns what to
// do; the session turns that into its own protocol's reply (IMAP `NO [CODE]`, POP3
// `-ERR [CODE]`), so the rules and their order live in one place.
//
// The order is the anti-oracle rule of DESIGN.md: a wrong password, an unknown user and a
// bad user name look the same; the account's state, its per-protocol switch and a
// missing back-end are revealed only once the password is known good. For a back-end
// that checks passwords itself (`login: user`) that is after the store accepted them, so
// the session calls accountRefusal() again at that point.
//
// Before any of this the session asks the tier-wide failure limit (auth-throttle.ts): a
// throttled address is refused without a lookup, and only `bad-credentials` (and a
// `login: user` store's refusal of the password) count towards it.
import type { AuthResult, BackendRecord, Directory, UserRecord } from '@gatehouse/directory';
import { AccessPolicy } from '@gatehouse/policy';
import type { SessionLog } from './session-log.ts';
import type { VirtualServer } from './virtual-server.ts';

export type LoginProtocol = 'imap' | 'pop3';

/** A refusal that follows a right password: the account's own state or switches. */
export type AccountRefusal = 'disabled' | 'imap-disabled' | 'pop3-disabled' | 'network-refused';

/** How Gatehouse logs in at the store (same shape as the IMAP back-end's credentials). */
export type StoreCredentials =
  | { kind: 'master'; user: string; masterUser: string; masterPassword: string }
  | { kind: 'user'; user: string; password: string };

export type LoginDecision =
  /** Wrong credentials (unknown user, bad name, wrong or empty password): one generic reply. */
  | { kind: 'bad-credentials'; reason: string; user: string | undefined }
  /** Right password, but the account may not log in with this protocol. */
  | { kind: 'account-refused'; reason: AccountRefusal; user: string }
  /** The directory failed, the back-end record is missing, or it is being drained. */
  | { kind: 'unavailable'; cause: 'directory' | 'no-backend' | 'draining' }
  /** Go to the store; `verified` is false when the store must still check the password. */
  | { kind: 'proceed'; user: UserRecord; backend: BackendRecord; credentials: StoreCredentials; verified: boolean };

/**
 * The account rule that refuses `user` for `protocol` from `clientAddress`, or null (RFC
 * 5530 / RFC 3206 codes are the session's). A user with `networks` may log in only from
 * those (docs/access.md); a stored list that does not parse refuses (fails closed).
 */
export function accountRefusal(
  user: UserRecord,
  protocol: LoginProtocol,
  clientAddress: string,
  defaults: VirtualServer['protocolDefaults'] = { imap: true, pop3: true },
): AccountRefusal | null {
  if (user.state === 'disabled') return 'disabled';
  // The user's own switch overrides the virtual server's default for the protocol.
  if (protocol === 'imap' && !(user.imap ?? defaults.imap)) return 'imap-disabled';
  if (protocol === 'pop3' && !(user.pop3 ?? defaults.pop3)) return 'pop3-disabled';
  if (user.networks !== undefined && user.networks.length > 0) {
    try {
      const allowed = new AccessPolicy({ default: 'deny', rules: user.networks.map((network) => ({ network, action: 'grant' as const })) });
      if (allowed.evaluate(clientAddress).action !== 'grant') return 'network-refused';
    } catch {
      return 'network-refused';
    }
  }
  return null;
}

export async function decideLogin(
  directory: Directory,
  vserver: VirtualServer,
  protocol: LoginProtocol,
  rawUser: string,
  password: string,
  log: SessionLog,
  clientAddress: string,
): Promise<LoginDecision> {
  // An empty password can never be right (SASL PLAIN forbids it, RFC 4616 §2) and must
  // not reach a store that checks passwords itself.
  if (password === '') return { kind: 'bad-credentials', reason: 'bad-password', user: undefined };
  // Without the virtual server's policy the node cannot know which domains may log in here.
  if (vserver.policyLoaded === false) {
    log.error({}, 'auth.policy_unavailable');
    return { kind: 'unavailable', cause: 'directory' };
  }
  let result: AuthResult;
  try {
    // rehash: a legacy hash imported from a passwd-file becomes {SCRYPT} on its first good login.
    result = await directory.authenticate(rawUser, password, {
      rehash: true,
      ...(vserver.defaultDomain === undefined ? {} : { defaultDomain: vserver.defaultDomain }),
      ...(vserver.domains === undefined ? {} : { domains: vserver.domains }),
    });
  } catch (err) {
    log.error({ error: errInfo(err) }, 'auth.directory_unavailable');
    return { kind: 'unavailable', cause: 'directory' };
  }
  if (!result.ok && result.reason !== 'backend-checks-password') {
    if (result.reason === 'no-backend') {
      log.error({ user: result.user?.name }, 'auth.no_backend');
      return { kind: 'unavailable', cause: 'no-backend' };
    }
    if (result.reason === 'disabled' && result.user !== undefined) {
      return { kind: 'account-refused', reason: 'disabled', user: result.user.name };
    }
    return { kind: 'bad-credentials', reason: result.reason, user: undefined };
  }
  const { user, backend } = result;
  if (user === undefined || backend === undefined) return { kind: 'bad-credentials', reason: 'unknown-user', user: undefined };
  if (result.ok) {
    const refusal = accountRefusal(user, protocol, clientAddress, vserver.protocolDefaults);
    if (refusal !== null) return { kind: 'account-refused', reason: refusal, user: user.name };
  }
  if (backend.state === 'drain') {
    log.warn({ user: user.name, backend: backend.name }, 'auth.backend_draining');
    return { kind: 'unavailable', cause: 'draining' };
  }
  const credentials: StoreCredentials = result.ok
    ? { kind: 'master', user: user.name, masterUser: backend.masterUser ?? '', masterPassword: backend.masterPassword ?? '' }
    : { kind: 'user', user: user.name, password };
  return { kind: 'proceed', user, backend, credentials, verified: result.ok };
}

/** Error fields safe to log: never a command line, never a credential. */
export function errInfo(err: unknown): { code?: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: err.message } : { message: err.message };
  }
  return { message: String(err) };
}
