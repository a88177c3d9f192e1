/**
 * Attachment names from a TNEF stream are the sender's strings: they may hold path
 * separators (`..\..\autoexec.bat`), control characters or nothing at all. safeFileName
 * makes one fit to label a MIME part or to create a file in a directory of our choosing.
 */

/** The last path component, without control characters, reserved characters or leading dots. */
export function safeFileName(name: string, fallback = 'attachment.dat'): string {
  const base = name.split(/[\\/]/).pop() as string;
  const cleaned = Array.from(base, (c) => (c.charCodeAt(0) < 0x20 || c === '\u007f' || '<>:"|?*'.includes(c) ? '_' : c))
    .join('')
    .replace(/^[.\s]+/, '')
    .replace(/[.\s]+$/, '');
  // At most 200 code points (not UTF-16 units: a surrogate pair must not be cut).
  const limited = Array.from(cleaned).slice(0, 200).join('');
  return limited === '' ? fallback : limited;
}
