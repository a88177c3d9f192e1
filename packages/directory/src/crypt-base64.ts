/**
 * The crypt(3) base-64 ("./0-9A-Za-z", least significant 6 bits first) used by MD5-crypt
 * and SHA-crypt to print their final digests. It is not RFC 4648 base64: the alphabet
 * and the bit order differ, and bytes are taken in a per-algorithm permuted order.
 */
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `b64_from_24bit(B2, B1, B0, N)` of the SHA-crypt spec: N characters for 3 bytes. */
export function cryptB64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

/**
 * Encodes `digest` as groups of byte indexes: each group is [i2, i1, i0, nChars]; an
 * index of -1 stands for a zero byte (the short tail groups).
 */
export function cryptB64Permuted(digest: Uint8Array, groups: ReadonlyArray<readonly [number, number, number, number]>): string {
  const at = (i: number): number => (i < 0 ? 0 : (digest[i] ?? 0));
  let out = '';
  for (const [i2, i1, i0, n] of groups) out += cryptB64From24(at(i2), at(i1), at(i0), n);
  return out;
}

