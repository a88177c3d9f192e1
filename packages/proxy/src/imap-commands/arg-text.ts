// An IMAP astring argument as text: atoms as they are, strings decoded as strict UTF-8
// without NUL (utf8-text.ts).
import type { ImapArg } from '@gatehouse/protocol';
import { utf8Text } from '../utf8-text.ts';

export function argText(arg: ImapArg): string | null {
  if (arg.kind === 'atom') return arg.value;
  if (arg.kind !== 'string') return null;
  return utf8Text(arg.value);
}
