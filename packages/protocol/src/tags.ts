/**
 * Validation of IMAP command tags.
 *
 * The tag is the one client-chosen string that a server echoes verbatim in its tagged
 * reply, so a proxy that accepts any bytes there lets a client smuggle CR/LF or format
 * directives into replies and logs (Perdition CVE-2007-5740 was a format-string bug
 * through the tag). RFC 9051 §9 (formal syntax):
 *
 *   tag          = 1*<any ASTRING-CHAR except "+">
 *   ASTRING-CHAR = ATOM-CHAR / resp-specials
 *   ATOM-CHAR    = <any CHAR except atom-specials>
 *   atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
 *
 * so a tag is 1 or more bytes in %x21-7E other than ( ) { % * " \ + — "]" is allowed.
 */

/** Byte classes for RFC 9051 §9, indexed by byte value (0–255). */
const ATOM_CHAR = new Uint8Array(256);
const TAG_CHAR = new Uint8Array(256);
for (let byte = 0x21; byte <= 0x7e; byte++) {
  ATOM_CHAR[byte] = 1;
}
// atom-specials that are printable: ( ) { SP is already out, % * (list-wildcards),
// " \ (quoted-specials), ] (resp-specials).
for (const ch of '(){%*"\\]') {
  ATOM_CHAR[ch.charCodeAt(0)] = 0;
}
TAG_CHAR.set(ATOM_CHAR);
TAG_CHAR[0x5d] = 1; // "]": ASTRING-CHAR includes resp-specials
TAG_CHAR[0x2b] = 0; // "+": excluded from tags (it would look like a continuation)

/** True when `byte` is an RFC 9051 ATOM-CHAR. */
export function isAtomByte(byte: number): boolean {
  return ATOM_CHAR[byte] === 1;
}

/** True when `byte` may appear in a tag (ASTRING-CHAR except "+"). */
export function isTagByte(byte: number): boolean {
  return TAG_CHAR[byte] === 1;
}

/** True when `tag` matches the RFC 9051 `tag` rule. */
export function isValidTag(tag: string): boolean {
  if (tag.length === 0) {
    return false;
  }
  for (let i = 0; i < tag.length; i++) {
    if (!isTagByte(tag.charCodeAt(i))) {
      return false;
    }
  }
  return true;
}
