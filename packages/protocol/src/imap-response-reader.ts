/**
 * Incremental reader of IMAP responses from a back-end, used until the session becomes a
 * byte pipe.
 *
 * Gatehouse talks to the back-end itself before the pipe: it reads the greeting, may
 * STARTTLS, sends ID and logs in, and takes the back-end's capabilities for the client.
 * Each response is framed whole (RFC 9051 §2.2.2, §7): one line, or several when a line
 * ends in a literal announcement `{n}` whose n bytes belong to the response (RFC 9051
 * §4.3; `~{n}` literal8 of RFC 3516 ends the same way). The raw bytes are kept so a
 * response can be relayed unchanged. A back-end that sends more than maxResponseBytes in
 * one response, or a line that is not a response, is treated as broken
 * (GatehouseError ERR_BACKEND_PROTOCOL), so a misbehaving store cannot make a front-end
 * node buffer without bound or misread a login result.
 *
 * Like ImapCommandReader, nothing is read ahead of the response returned: after the
 * tagged reply to LOGIN, takeBuffered() returns exactly the bytes that belong to the
 * client's side of the pipe. A lone LF is accepted as a line ending.
 */
import { ByteQueue } from './byte-queue.ts';
import { GatehouseError } from './gatehouse-error.ts';
import { isAtomByte, isValidTag } from './tags.ts';

export interface ImapResponseReaderLimits {
  /** Bytes of one response, literals and line endings included. */
  maxResponseBytes: number;
}

/** 1 MiB: far above any greeting, capability or login reply. */
export const DEFAULT_IMAP_RESPONSE_READER_LIMITS: Readonly<ImapResponseReaderLimits> = Object.freeze({
  maxResponseBytes: 1048576,
});

export type ImapResponseStatus = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

export interface ImapResponse {
  /** The whole response including CRLF and any literal bytes (may share memory with pushed chunks). */
  raw: Buffer;
  kind: 'untagged' | 'tagged' | 'continuation';
  tag: string | null;
  /** The condition of a status response (RFC 9051 §7.1); null for data and continuations. */
  status: ImapResponseStatus | null;
  /** The response code between "[" and "]" (RFC 9051 §7.1), e.g. 'CAPABILITY IMAP4rev1 ...'. */
  code: string | null;
  /**
   * The human-readable text after status and code; for untagged data (`* CAPABILITY …`,
   * `* 3 EXISTS`) everything after "* "; for a continuation everything after "+ " and
   * any code. Decoded as UTF-8, without the final line ending.
   */
  text: string;
}

export const BACKEND_PROTOCOL_ERROR = 'ERR_BACKEND_PROTOCOL';

const LF = 0x0a;
const CR = 0x0d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const PLUS = 0x2b;

/** Longest tail examined for `{n}`: "{" + 15 digits + "+}" + CR, with room to spare. */
const LITERAL_TAIL_BYTES = 24;
const MAX_LITERAL_DIGITS = 15;

const STATUS_UNTAGGED: ReadonlySet<string> = new Set(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);
const STATUS_TAGGED: ReadonlySet<string> = new Set(['OK', 'NO', 'BAD']);

export class ImapResponseReader {
  readonly limits: Readonly<ImapResponseReaderLimits>;
  #queue = new ByteQueue();
  /** Where the current line of the response being read starts (after its last literal). */
  #lineStart = 0;
  /** Bytes from #lineStart on already known to hold no LF. */
  #scanFrom = 0;
  #failure: GatehouseError | null = null;

  constructor(limits?: Partial<ImapResponseReaderLimits>) {
    const merged = { ...DEFAULT_IMAP_RESPONSE_READER_LIMITS, ...limits };
    if (!Number.isSafeInteger(merged.maxResponseBytes) || merged.maxResponseBytes < 1) {
      throw new GatehouseError('ERR_INVALID_LIMIT', 'maxResponseBytes must be an integer of at least 1');
    }
    this.limits = Object.freeze(merged);
  }

  /** Unread bytes, including a partly received response. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  push(chunk: Buffer): void {
    if (this.#failure === null) {
      this.#queue.push(chunk);
    }
  }

  /**
   * The next whole response, or null when more bytes are needed. Throws
   * GatehouseError(ERR_BACKEND_PROTOCOL) for a response over the limit or malformed,
   * and the same error again on every later call.
   */
  next(): ImapResponse | null {
    if (this.#failure !== null) {
      throw this.#failure;
    }
    for (;;) {
      const lf = this.#queue.indexOf(LF, this.#scanFrom);
      if (lf === -1) {
        if (this.#queue.length > this.limits.maxResponseBytes) {
          this.#fail('response exceeds maxResponseBytes');
        }
        // Resume there; while a literal is still arriving #scanFrom is past its end.
        this.#scanFrom = Math.max(this.#scanFrom, this.#queue.length);
        return null;
      }
      const literal = this.#trailingLiteral(lf);
      const end = lf + 1 + literal;
      if (end > this.limits.maxResponseBytes) {
        this.#fail('response exceeds maxResponseBytes');
      }
      if (literal === 0) {
        this.#lineStart = 0;
        this.#scanFrom = 0;
        const raw = this.#queue.consume(end);
        const response = parseResponse(raw);
        if (typeof response === 'string') {
          this.#fail(response);
        }
        return response;
      }
      // The literal's bytes belong to the response: go on after them.
      this.#lineStart = end;
      this.#scanFrom = end;
    }
  }

  /** Removes and returns every unread byte, including a partly received response. */
  takeBuffered(): Buffer {
    this.#lineStart = 0;
    this.#scanFrom = 0;
    return this.#queue.takeAll();
  }

  /** The size of a literal announced at the end of the line ending at `lf`, or 0 (none). */
  #trailingLiteral(lf: number): number {
    const from = Math.max(this.#lineStart, lf - LITERAL_TAIL_BYTES);
    const tail = this.#queue.peek(from, lf);
    let pos = tail.length - 1;
    if (tail[pos] === CR) {
      pos--;
    }
    if (tail[pos] !== RBRACE) {
      return 0;
    }
    pos--;
    if (tail[pos] === PLUS) {
      pos--;
    }
    const digitsEnd = pos + 1;
    while (pos >= 0 && (tail[pos] as number) >= 0x30 && (tail[pos] as number) <= 0x39) {
      pos--;
    }
    const digits = digitsEnd - pos - 1;
    if (pos < 0 && from > this.#lineStart) {
      this.#fail('literal size too large');
    }
    if (digits === 0 || pos < 0 || tail[pos] !== LBRACE) {
      return 0;
    }
    if (digits > MAX_LITERAL_DIGITS) {
      this.#fail('literal size too large');
    }
    return Number(tail.toString('latin1', pos + 1, digitsEnd));
  }

  #fail(reason: string): never {
    this.#failure = new GatehouseError(BACKEND_PROTOCOL_ERROR, `back-end protocol error: ${reason}`);
    this.#queue.clear();
    throw this.#failure;
  }
}

/** Parses one framed response, or returns why it is malformed. */
function parseResponse(raw: Buffer): ImapResponse | string {
  let end = raw.length - 1;
  if (end > 0 && raw[end - 1] === CR) {
    end--;
  }
  const line = raw.toString('utf8', 0, end);
  if (line.startsWith('+')) {
    const rest = line.startsWith('+ ') ? line.slice(2) : line.slice(1);
    return { raw, kind: 'continuation', tag: null, status: null, ...parseRespText(rest) };
  }
  const space = line.indexOf(' ');
  if (space <= 0) {
    return 'response without a tag or status';
  }
  const tag = line.slice(0, space);
  const afterTag = line.slice(space + 1);
  const wordEnd = afterTag.indexOf(' ');
  const word = (wordEnd === -1 ? afterTag : afterTag.slice(0, wordEnd)).toUpperCase();
  const rest = wordEnd === -1 ? '' : afterTag.slice(wordEnd + 1);
  if (tag === '*') {
    if (STATUS_UNTAGGED.has(word)) {
      return { raw, kind: 'untagged', tag: null, status: word as ImapResponseStatus, ...parseRespText(rest) };
    }
    return { raw, kind: 'untagged', tag: null, status: null, code: null, text: afterTag };
  }
  if (!isValidTag(tag)) {
    return 'invalid tag in response';
  }
  if (!STATUS_TAGGED.has(word)) {
    return 'tagged response without OK, NO or BAD';
  }
  return { raw, kind: 'tagged', tag, status: word as ImapResponseStatus, ...parseRespText(rest) };
}

/** Splits RFC 9051 resp-text: `["[" resp-text-code "]" SP] text`. */
function parseRespText(rest: string): { code: string | null; text: string } {
  const close = rest.startsWith('[') ? rest.indexOf(']') : -1;
  if (close === -1) {
    return { code: null, text: rest };
  }
  const text = rest.slice(close + 1);
  return { code: rest.slice(1, close), text: text.startsWith(' ') ? text.slice(1) : text };
}

/**
 * The capability names in a CAPABILITY response code or `* CAPABILITY` data text
 * (RFC 9051 §7.2.2): the leading word CAPABILITY, if present, is dropped, and so is any
 * word that is not an atom (a back-end cannot smuggle odd bytes into what is relayed).
 */
export function parseCapabilities(text: string): string[] {
  const words = text.split(' ').filter((word) => word.length > 0 && isAtom(word));
  if (words[0]?.toUpperCase() === 'CAPABILITY') {
    words.shift();
  }
  return words;
}

function isAtom(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    if (!isAtomByte(word.charCodeAt(i))) {
      return false;
    }
  }
  return true;
}
