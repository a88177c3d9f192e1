// A user name or password as the client sent it: strict UTF-8 text, or null. NUL is
// refused outright: it must never reach a directory key or a back-end command.
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function utf8Text(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}
