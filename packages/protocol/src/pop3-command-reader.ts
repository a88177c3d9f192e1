/**
 * Incremental reader of POP3 commands from a client that has not logged in yet.
 *
 * Before login Gatehouse answers every POP3 command itself (CAPA, STLS, USER, PASS, AUTH,
 * QUIT), so it frames lines exactly as a store would, with bounded memory, from bytes
 * that arrive in any split. After login the session is a byte pipe and this reader is no
 * longer used; `takeBuffered()` hands over whatever was pipelined (RFC 2449 §6.6
 * PIPELINING lets a client send PASS and STAT together).
 *
 * Grammar (RFC 1939 §3, RFC 2449 §3): `keyword [SP argument] CRLF`. The keyword is
 * case-insensitive and returned upper-cased; the argument is returned as the raw bytes
 * after the first space, undecoded, because PASS takes the rest of the line as the
 * password, spaces included (RFC 1939 §7, USER and PASS), and a password may be UTF-8.
 * Commands that take words split the argument themselves.
 *
 * Line lengths: RFC 2449 §4 caps a command line at 255 octets including CRLF
 * (maxCommandBytes, 253 without the line ending). An AUTH command with its initial
 * response, and the client's SASL responses read after expectLine() (RFC 5034 §4), are
 * bounded by maxLineBytes instead: a SASL response is base64 and may be longer. A line
 * over its limit is fatal, as for the IMAP reader: the client gets a final -ERR and the
 * connection closes, nothing after it is read.
 *
 * Like ImapCommandReader, `next()` returns one event at a time and never parses ahead of
 * it, so after a `command` event every later byte is still unread — what takeBuffered()
 * must return at STLS (discarded: RFC 2595 §4, CVE-2011-0411 plaintext injection) and at
 * the switch to the pipe (forwarded).
 *
 * Decisions beyond the RFC:
 * - A lone LF ends a line like CRLF (lenient like Dovecot's pop3-login); a CR anywhere
 *   else in a line is a syntax error.
 * - A keyword is 1 to 16 ASCII letters or digits; anything else before the first space
 *   is a syntax error (the keyword is never echoed).
 * - The argument may hold any byte but NUL, CR, LF and the other C0 controls except TAB:
 *   nothing a client types can smuggle a line break or a NUL into what is built from it.
 */
import { ByteQueue } from './byte-queue.ts';
import { GatehouseError } from './gatehouse-error.ts';

export interface Pop3ReaderLimits {
  /** Bytes of one command line, line ending excluded (RFC 2449 §4: 255 with CRLF). */
  maxCommandBytes: number;
  /** Bytes of an AUTH command line and of one SASL response line, line ending excluded. */
  maxLineBytes: number;
}

/** RFC 2449 §4 for commands; 8 KiB for SASL lines, the IMAP reader's line limit. */
export const DEFAULT_POP3_READER_LIMITS: Readonly<Pop3ReaderLimits> = Object.freeze({
  maxCommandBytes: 253,
  maxLineBytes: 8192,
});

export const Pop3ReaderErrorCode = {
  LINE_TOO_LONG: 'ERR_LINE_TOO_LONG',
  SYNTAX: 'ERR_SYNTAX',
} as const;
export type Pop3ReaderErrorCode = (typeof Pop3ReaderErrorCode)[keyof typeof Pop3ReaderErrorCode];

export type Pop3ReaderEvent =
  | { type: 'command'; name: string; argument: Buffer | null }
  | { type: 'line'; line: Buffer }
  | { type: 'error'; code: Pop3ReaderErrorCode; fatal: boolean };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const MAX_KEYWORD_BYTES = 16;
/** "AUTH " in lower case: the one command whose line may be longer than maxCommandBytes. */
const AUTH_PREFIX = Buffer.from('auth ', 'latin1');

const State = {
  /** Waiting for a command line. */
  COMMAND: 0,
  /** After expectLine(): waiting for one raw line. */
  RAW_LINE: 1,
  /** After a fatal error. */
  DESTROYED: 2,
} as const;
type State = (typeof State)[keyof typeof State];

export class Pop3CommandReader {
  readonly limits: Readonly<Pop3ReaderLimits>;
  #queue = new ByteQueue();
  #state: State = State.COMMAND;
  /** Bytes at the front of the queue already known to hold no LF. */
  #scanned = 0;

  constructor(limits?: Partial<Pop3ReaderLimits>) {
    this.limits = validateLimits({ ...DEFAULT_POP3_READER_LIMITS, ...limits });
  }

  /** Unread bytes. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /** True after a fatal error: push() ignores its input and next() returns null. */
  get destroyed(): boolean {
    return this.#state === State.DESTROYED;
  }

  push(chunk: Buffer): void {
    if (this.#state !== State.DESTROYED) {
      this.#queue.push(chunk);
    }
  }

  /** The next event, or null when more bytes are needed. Call it until it returns null. */
  next(): Pop3ReaderEvent | null {
    if (this.#state === State.DESTROYED) {
      return null;
    }
    const raw = this.#state === State.RAW_LINE;
    const lf = this.#queue.indexOf(LF, this.#scanned);
    if (lf === -1) {
      this.#scanned = this.#queue.length;
      // The line holds at least this many content bytes (a final CR may yet be the CR of
      // CRLF): refuse as soon as that is over the limit, without waiting for its end.
      const atLeast = this.#queue.length - (this.#queue.lastByte === CR ? 1 : 0);
      const limit = raw || this.#startsWithAuth() ? this.limits.maxLineBytes : this.limits.maxCommandBytes;
      return atLeast > limit ? this.#fatal() : null;
    }
    const line = this.#queue.consume(lf + 1);
    this.#scanned = 0;
    const end = lf > 0 && line[lf - 1] === CR ? lf - 1 : lf;
    const limit = raw || isAuthLine(line) ? this.limits.maxLineBytes : this.limits.maxCommandBytes;
    if (end > limit) {
      return this.#fatal();
    }
    if (raw) {
      this.#state = State.COMMAND;
      return { type: 'line', line: Buffer.from(line.subarray(0, end)) };
    }
    return parseCommand(line, end);
  }

  /**
   * Makes the next event one raw `line` (a SASL client response, RFC 5034 §4), after
   * which commands are read again.
   */
  expectLine(): void {
    if (this.#state === State.COMMAND) {
      this.#state = State.RAW_LINE;
    }
  }

  /**
   * Removes and returns every unread byte; reading starts afresh at the next push. At
   * STLS the caller discards the result; at the switch to the pipe it forwards it.
   */
  takeBuffered(): Buffer {
    const rest = this.#queue.takeAll();
    this.#scanned = 0;
    if (this.#state !== State.DESTROYED) {
      this.#state = State.COMMAND;
    }
    return rest;
  }

  #startsWithAuth(): boolean {
    return this.#queue.length >= AUTH_PREFIX.length && isAuthLine(this.#queue.peek(0, AUTH_PREFIX.length));
  }

  #fatal(): Pop3ReaderEvent {
    this.#state = State.DESTROYED;
    this.#queue.clear();
    return { type: 'error', code: Pop3ReaderErrorCode.LINE_TOO_LONG, fatal: true };
  }
}

/** True when `line` starts with "AUTH " in any case. */
function isAuthLine(line: Buffer): boolean {
  if (line.length < AUTH_PREFIX.length) {
    return false;
  }
  for (let i = 0; i < AUTH_PREFIX.length; i++) {
    // ASCII letters fold to lower case with 0x20; the space is unchanged.
    if (((line[i] as number) | 0x20) !== AUTH_PREFIX[i]) {
      return false;
    }
  }
  return true;
}

function isKeywordByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

/** Parses `keyword [SP argument]` from line[0, end). */
function parseCommand(line: Buffer, end: number): Pop3ReaderEvent {
  let pos = 0;
  while (pos < end && isKeywordByte(line[pos] as number)) {
    pos++;
  }
  if (pos === 0 || pos > MAX_KEYWORD_BYTES || (pos < end && line[pos] !== SP)) {
    return { type: 'error', code: Pop3ReaderErrorCode.SYNTAX, fatal: false };
  }
  const name = line.toString('latin1', 0, pos).toUpperCase();
  if (pos === end) {
    return { type: 'command', name, argument: null };
  }
  for (let i = pos + 1; i < end; i++) {
    const byte = line[i] as number;
    if (byte < SP && byte !== TAB) {
      return { type: 'error', code: Pop3ReaderErrorCode.SYNTAX, fatal: false };
    }
  }
  return { type: 'command', name, argument: Buffer.from(line.subarray(pos + 1, end)) };
}

function validateLimits(limits: Pop3ReaderLimits): Readonly<Pop3ReaderLimits> {
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new GatehouseError('ERR_INVALID_LIMIT', `${key} must be an integer of at least 1`);
    }
  }
  if (limits.maxLineBytes < limits.maxCommandBytes) {
    throw new GatehouseError('ERR_INVALID_LIMIT', 'maxLineBytes must be at least maxCommandBytes');
  }
  return Object.freeze(limits);
}
