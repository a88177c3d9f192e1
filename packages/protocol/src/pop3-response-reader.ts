/**
 * Incremental reader of POP3 responses from a back-end store, used until the session
 * becomes a byte pipe.
 *
 * Gatehouse talks to the store itself before the pipe: it reads the greeting, asks CAPA,
 * may STLS and XCLIENT, and logs in. POP3 responses cannot be framed without knowing the
 * command they answer (RFC 1939 §3): a `+OK` to CAPA starts a multi-line response ended
 * by a line holding a single "." (RFC 2449 §5), a `+OK` to USER does not. So the caller
 * says which it expects: `next(true)` for a multi-line response, `next(false)` (the
 * default) for a single line. `-ERR` is always one line; `+ text` is a SASL challenge
 * (RFC 5034 §4), one line too.
 *
 * Status lines (RFC 2449 §8): `("+OK" / "-ERR") [SP [resp-code SP] text]`, where
 * `resp-code = "[" resp-level *("/" resp-level) "]"` (`[IN-USE]`, `[SYS/TEMP]`, `[AUTH]`);
 * Dovecot also puts `[XCLIENT]` in its greeting when it trusts the peer. Body lines of a
 * multi-line response are returned dot-unstuffed (RFC 1939 §3: a leading "." of a line
 * was doubled). The raw bytes are kept as received.
 *
 * A response over maxResponseBytes, or a first line that is not a POP3 status or
 * challenge, is GatehouseError ERR_BACKEND_PROTOCOL, thrown again on every later call: a
 * broken store cannot make a node buffer without bound or misread a login result.
 * Nothing is read ahead of the response returned, so takeBuffered() after the login's
 * `+OK` returns exactly the bytes that belong to the client's side of the pipe. A lone
 * LF is accepted as a line ending.
 */
import { ByteQueue } from './byte-queue.ts';
import { GatehouseError } from './gatehouse-error.ts';
import { BACKEND_PROTOCOL_ERROR } from './imap-response-reader.ts';

export interface Pop3ResponseReaderLimits {
  /** Bytes of one response, line endings (and a multi-line body) included. */
  maxResponseBytes: number;
}

/** 1 MiB: far above any greeting, CAPA list or login reply. */
export const DEFAULT_POP3_RESPONSE_READER_LIMITS: Readonly<Pop3ResponseReaderLimits> = Object.freeze({
  maxResponseBytes: 1048576,
});

export interface Pop3Response {
  /** The whole response including line endings (may share memory with pushed chunks). */
  raw: Buffer;
  /** `+OK` / `-ERR`, or null for a SASL challenge (`+ …`). */
  status: 'OK' | 'ERR' | null;
  /** The resp-code without brackets (`IN-USE`, `SYS/TEMP`), or null. */
  code: string | null;
  /** The text after status and code (for a challenge: its base64), UTF-8, without line ending. */
  text: string;
  /** The body lines of a multi-line `+OK`, dot-unstuffed, without line endings; else null. */
  lines: string[] | null;
}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
/** resp-level characters (RFC 2449 §8 rchar) plus "/" between levels. */
const RESP_CODE = /^[\x21-\x5c\x5e-\x7e]+$/;

export class Pop3ResponseReader {
  readonly limits: Readonly<Pop3ResponseReaderLimits>;
  #queue = new ByteQueue();
  /** While a multi-line body is read: the position after the last complete line. */
  #pos = 0;
  /** The first line of the multi-line response being read, parsed; null when none. */
  #head: Pop3Response | null = null;
  #lines: string[] = [];
  #failure: GatehouseError | null = null;

  constructor(limits?: Partial<Pop3ResponseReaderLimits>) {
    const merged = { ...DEFAULT_POP3_RESPONSE_READER_LIMITS, ...limits };
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
   * The next whole response, or null when more bytes are needed; `multiline` says whether
   * a `+OK` starts a multi-line response. Throws GatehouseError(ERR_BACKEND_PROTOCOL) for
   * a response over the limit or malformed, and the same error on every later call.
   */
  next(multiline = false): Pop3Response | null {
    if (this.#failure !== null) {
      throw this.#failure;
    }
    if (this.#head === null) {
      const lf = this.#findLine(0);
      if (lf === -1) {
        return null;
      }
      const head = parseStatusLine(this.#queue.peek(0, lf + 1));
      if (head === null) {
        this.#fail('not a POP3 response');
      }
      if (!multiline || head.status !== 'OK') {
        head.raw = this.#queue.consume(lf + 1);
        return head;
      }
      this.#head = head;
      this.#pos = lf + 1;
    }
    for (;;) {
      const lf = this.#findLine(this.#pos);
      if (lf === -1) {
        return null;
      }
      const line = this.#queue.peek(this.#pos, lf + 1);
      this.#pos = lf + 1;
      const end = lineEnd(line);
      if (end === 1 && line[0] === DOT) {
        const done = this.#head as Pop3Response;
        done.raw = this.#queue.consume(this.#pos);
        done.lines = this.#lines;
        this.#reset();
        return done;
      }
      const start = line[0] === DOT ? 1 : 0;
      this.#lines.push(line.toString('utf8', start, end));
    }
  }

  /** Removes and returns every unread byte, including a partly received response. */
  takeBuffered(): Buffer {
    this.#reset();
    return this.#queue.takeAll();
  }

  /** The position of the LF ending the line that starts at `from`, or -1; enforces the limit. */
  #findLine(from: number): number {
    const lf = this.#queue.indexOf(LF, from);
    if ((lf === -1 ? this.#queue.length : lf + 1) > this.limits.maxResponseBytes) {
      this.#fail('response exceeds maxResponseBytes');
    }
    return lf;
  }

  #reset(): void {
    this.#head = null;
    this.#pos = 0;
    this.#lines = [];
  }

  #fail(reason: string): never {
    this.#failure = new GatehouseError(BACKEND_PROTOCOL_ERROR, `back-end protocol error: ${reason}`);
    this.#queue.clear();
    this.#reset();
    throw this.#failure;
  }
}

/** The end of a line's content (before CRLF or LF). */
function lineEnd(line: Buffer): number {
  const lf = line.length - 1;
  return lf > 0 && line[lf - 1] === CR ? lf - 1 : lf;
}

/** Parses a status line or a SASL challenge, or returns null when it is neither. */
function parseStatusLine(line: Buffer): Pop3Response | null {
  const text = line.toString('utf8', 0, lineEnd(line));
  const match = /^(\+OK|-ERR)(?: (.*))?$/i.exec(text);
  if (match === null) {
    if (text === '+' || text.startsWith('+ ')) {
      return { raw: line, status: null, code: null, text: text.slice(2), lines: null };
    }
    return null;
  }
  const status = (match[1] as string).toUpperCase() === '+OK' ? 'OK' : 'ERR';
  const rest = match[2] ?? '';
  const close = rest.startsWith('[') ? rest.indexOf(']') : -1;
  const code = close === -1 ? '' : rest.slice(1, close);
  if (!RESP_CODE.test(code)) {
    return { raw: line, status, code: null, text: rest, lines: null };
  }
  const after = rest.slice(close + 1);
  return { raw: line, status, code, text: after.startsWith(' ') ? after.slice(1) : after, lines: null };
}

/** One capability line of a CAPA response (RFC 2449 §5): its upper-cased name and arguments. */
export interface Pop3Capability {
  name: string;
  args: string[];
}

/**
 * The capabilities in CAPA body lines. A line whose words are not all printable ASCII is
 * dropped (a store cannot smuggle odd bytes into decisions or logs).
 */
export function parsePop3Capabilities(lines: readonly string[]): Pop3Capability[] {
  const caps: Pop3Capability[] = [];
  for (const line of lines) {
    const words = line.split(' ').filter((word) => word.length > 0);
    const [name, ...args] = words;
    if (name !== undefined && words.every((word) => /^[\x21-\x7e]+$/.test(word))) {
      caps.push({ name: name.toUpperCase(), args });
    }
  }
  return caps;
}
