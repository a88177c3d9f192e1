// Decides one RCPT TO from the directory: which local user and store the mail goes to,
// or the reply that refuses it. Order: syntax → local domain (else "relay denied": the
// front door is never an open relay) → domain switch → user, else alias, else the
// address without its +detail → user switch → store (record, drain, LMTP port).
// Unknown and switched-off recipients are permanent (5xx); everything a retry can fix
// (directory down, store in drain, store without LMTP) is temporary (4xx).
import { DirectoryError, normalizeDomain, normalizeUserName, type BackendRecord, type Directory, type TnefPolicy, type UserRecord } from '@gatehouse/directory';
import { reply, type SmtpReply } from './smtp-reply.ts';

export type RecipientDecision =
  | { readonly ok: true; readonly user: UserRecord; readonly backend: BackendRecord & { readonly lmtpPort: number }; readonly tnef: TnefPolicy; readonly via: 'user' | 'alias' | 'detail' }
  | { readonly ok: false; readonly reply: SmtpReply; readonly reason: RecipientRefusal };

export type RecipientRefusal =
  | 'bad-address'
  | 'relay-denied'
  | 'domain-disabled'
  | 'unknown-user'
  | 'user-disabled'
  | 'no-backend'
  | 'backend-drain'
  | 'backend-no-lmtp'
  | 'directory-unavailable';

const refuse = (reason: RecipientRefusal, code: number, enhanced: string, text: string): RecipientDecision => ({ ok: false, reason, reply: reply(code, enhanced, text) });

/** `address` is the RCPT TO mailbox as the client gave it (angle brackets removed). */
export async function resolveRecipient(directory: Directory, address: string): Promise<RecipientDecision> {
  const at = address.lastIndexOf('@');
  // Shown back to the client only after the checks below made it printable ASCII.
  const shown = `<${address}>`;
  if (at <= 0 || at === address.length - 1) return refuse('bad-address', 550, '5.1.3', `${shown.replace(/[^\x21-\x7e]/g, '?')}: Recipient address rejected: need a fully qualified address`);
  let domain: string;
  let name: string;
  try {
    domain = normalizeDomain(address.slice(at + 1));
    name = normalizeUserName(address);
  } catch (err) {
    if (!(err instanceof DirectoryError)) throw err;
    // Not a name any local mailbox can have: for a local domain "unknown", else a relay.
    return refuse('bad-address', 550, '5.1.1', `${shown.replace(/[^\x21-\x7e]/g, '?')}: Recipient address rejected: User unknown`);
  }
  try {
    const d = await directory.getDomain(domain);
    if (d === null) return refuse('relay-denied', 550, '5.7.1', `${shown}: Relay access denied`);
    if (d.delivery === false) return refuse('domain-disabled', 550, '5.7.1', `${shown}: Delivery to this domain is disabled`);
    let via: 'user' | 'alias' | 'detail' = 'user';
    let user = await directory.getUser(name);
    if (user === null) {
      const alias = await directory.getAlias(name);
      if (alias !== null) {
        via = 'alias';
        user = await directory.getUser(alias.target);
      }
    }
    if (user === null) {
      // RFC 5233 subaddress: alice+lists@example.com → alice@example.com.
      const local = name.slice(0, name.lastIndexOf('@'));
      const plus = local.indexOf('+');
      if (plus > 0) {
        via = 'detail';
        user = await directory.getUser(`${local.slice(0, plus)}@${domain}`);
      }
    }
    if (user === null) return refuse('unknown-user', 550, '5.1.1', `${shown}: Recipient address rejected: User unknown`);
    if (!user.delivery) return refuse('user-disabled', 550, '5.7.1', `${shown}: Delivery to this mailbox is disabled`);
    let backend: BackendRecord | null = null;
    try {
      backend = await directory.getBackend(user.backend);
    } catch (err) {
      if (!(err instanceof DirectoryError) || err.code !== 'ERR_BAD_NAME') throw err;
    }
    if (backend === null) return refuse('no-backend', 451, '4.3.0', `${shown}: No mail store is assigned to this mailbox; try again later`);
    if (backend.state === 'drain') return refuse('backend-drain', 451, '4.3.2', `${shown}: Mailbox store under maintenance; try again later`);
    if (backend.lmtpPort === undefined) return refuse('backend-no-lmtp', 451, '4.3.5', `${shown}: Mailbox store does not take deliveries; try again later`);
    return { ok: true, user, backend: { ...backend, lmtpPort: backend.lmtpPort }, tnef: user.tnef ?? d.tnef ?? 'convert', via };
  } catch (err) {
    if (!(err instanceof DirectoryError)) throw err;
    // ERR_DIRECTORY_UNAVAILABLE, ERR_BAD_RECORD: nothing the sender did; retry later.
    return refuse('directory-unavailable', 451, '4.3.0', `${shown}: Directory temporarily unavailable; try again later`);
  }
}
