// Deterministic bench messages: the same bytes on every run (headers, then 76-character
// lines drawn from a xorshift32 stream seeded by the message index), each exactly
// `bytes` long.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LINE = 76;

export function benchMessage(index: number, bytes: number, to: string): Buffer {
  const date = new Date(Date.UTC(2024, 0, 1, 0, index % 1440, 0)).toUTCString().replace('GMT', '+0000');
  const header =
    `From: Gatehouse Bench <bench-sender@example.com>\r\n` +
    `To: <${to}>\r\n` +
    `Subject: bench message ${index + 1}\r\n` +
    `Date: ${date}\r\n` +
    `Message-ID: <bench-${index + 1}@gatehouse.bench>\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n` +
    `Content-Transfer-Encoding: 7bit\r\n` +
    `\r\n`;
  const out = Buffer.alloc(bytes);
  let pos = out.write(header, 'latin1');
  if (pos + 2 > bytes) throw new Error(`message size ${bytes} is smaller than its header`);
  let state = (0x9e3779b9 ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0 || 1;
  const nextByte = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state >>> 24;
  };
  while (pos < bytes) {
    const room = bytes - pos;
    // Each line is text + CRLF; the last one takes whatever is left (at least CRLF).
    const len = room >= LINE + 2 + 2 ? LINE : room - 2;
    for (let i = 0; i < len; i++) out[pos++] = ALPHABET.charCodeAt(nextByte() & 63);
    out[pos++] = 13;
    out[pos++] = 10;
  }
  return out;
}
