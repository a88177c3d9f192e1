// SMTP/LMTP replies (RFC 5321 §4.2): a three-digit code and text, possibly over several
// lines. Gatehouse relays store replies exactly, so a reply keeps its text as the store
// wrote it (enhanced status code included, RFC 3463).

export interface SmtpReply {
  readonly code: number;
  /** The text of every line, without the code and separator. */
  readonly lines: readonly string[];
}

/** The text after the code of the last line: what is relayed for a one-line answer. */
export function replyText(reply: SmtpReply): string {
  return reply.lines[reply.lines.length - 1] ?? '';
}

export function formatReply(reply: SmtpReply): string {
  return `${reply.code} ${replyText(reply)}`;
}

export function isPositive(reply: SmtpReply): boolean {
  return reply.code >= 200 && reply.code < 400;
}

export function isPermanent(reply: SmtpReply): boolean {
  return reply.code >= 500;
}

/** Builds a reply of our own: `code enhanced text`. */
export function reply(code: number, enhanced: string, text: string): SmtpReply {
  return { code, lines: [`${enhanced} ${text}`] };
}

/** One parsed line, or a protocol error. */
type LineResult = { code: number; last: boolean; text: string } | null;

const REPLY_LINE = /^([2-5][0-9][0-9])([ -]|$)(.*)$/;

function parseLine(line: string): LineResult {
  const m = REPLY_LINE.exec(line);
  if (m === null) return null;
  return { code: Number(m[1]), last: m[2] !== '-', text: m[3] ?? '' };
}

/**
 * Incremental reader of replies from a byte stream: feed() chunks, take complete replies
 * from the queue. Lines are capped (RFC 5321 §4.5.3.1.5: 512 octets; stores send longer
 * texts at times, so 8 KiB), replies at 100 lines; over either is a protocol error.
 */
export class ReplyReader {
  readonly replies: SmtpReply[] = [];
  #buffer = '';
  #pending: { code: number; lines: string[] } | null = null;
  error: string | null = null;

  static readonly MAX_LINE_CHARS = 8192;
  static readonly MAX_LINES = 100;

  feed(chunk: Buffer): void {
    if (this.error !== null) return;
    this.#buffer += chunk.toString('latin1');
    for (;;) {
      const nl = this.#buffer.indexOf('\n');
      if (nl < 0) break;
      const line = this.#buffer.slice(0, nl).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(nl + 1);
      this.#line(line);
      if (this.error !== null) return;
    }
    if (this.#buffer.length > ReplyReader.MAX_LINE_CHARS) this.error = 'reply line too long';
  }

  #line(line: string): void {
    const parsed = parseLine(line);
    if (parsed === null) {
      this.error = `not a reply line: ${JSON.stringify(line.slice(0, 80))}`;
      return;
    }
    if (this.#pending !== null && this.#pending.code !== parsed.code) {
      this.error = 'reply code changed within a multi-line reply';
      return;
    }
    this.#pending ??= { code: parsed.code, lines: [] };
    this.#pending.lines.push(parsed.text);
    if (this.#pending.lines.length > ReplyReader.MAX_LINES) {
      this.error = 'reply has too many lines';
      return;
    }
    if (parsed.last) {
      this.replies.push(this.#pending);
      this.#pending = null;
    }
  }
}
