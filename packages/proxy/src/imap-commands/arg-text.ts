// An IMAP astring argument as text: atoms as they are, strings decoded as strict UTF-8.
// NUL is refused outright: it must never reach a directory key or a back-end command.
import type { ImapArg } from '@gatehouse/protocol';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function argText(arg: ImapArg): string | null {
  if (arg.kind === 'atom') return arg.value;
  if (arg.kind !== 'string') return null;
  if (arg.value.includes(0)) return null;
  try {
    return utf8.decode(arg.value);
  } catch {
    return null;
  }
}
