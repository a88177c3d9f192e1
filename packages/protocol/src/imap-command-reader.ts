/**
 * Incremental reader of IMAP commands from a client that has not logged in yet.
 *
 * Before login Gatehouse answers every command itself (CAPABILITY, ID, STARTTLS, LOGIN,
 * AUTHENTICATE …), so it must frame commands exactly as the back-end would, with bounded
 * memory, from bytes that arrive in any split. After login the session is a byte pipe and
 * this reader is no longer used; `takeBuffered()` hands over whatever was pipelined.
 *
 * Grammar (RFC 9051 §2.2.1, §4.3, §9): `tag SP name *(SP arg) CRLF`, where an argument is
 * an atom, a quoted string, a literal `{n}` (synchronising: the client waits for a `+`
 * continuation, RFC 9051 §7.5) or `{n+}` (non-synchronising, RFC 7888 LITERAL+/LITERAL-),
 * or a parenthesised list of those. Lines are bytes: only tags, names and atoms, which
 * must be ASCII, are turned into strings.
 *
 * It is a small explicit state machine (like ws's Receiver): bytes are searched for LF
 * where they lie in a ByteQueue; a line is copied out once, when complete, and parsed in
 * one pass; literal bodies are taken as they arrive. `next()` returns one event at a time
 * and never parses ahead of the event it returns, so after a `command` event every byte
 * after that command is still unread — what `takeBuffered()` must return at STARTTLS
 * (discard: CVE-2011-0411 plaintext injection) and at the switch to the pipe (forward).
 *
 * Decisions beyond the RFC:
 * - A lone LF ends a line like CRLF (lenient like Dovecot's imap-login); a CR anywhere
 *   else in a line is a syntax error.
 * - `~{n}` (literal8, RFC 3516) is refused as a syntax error: nothing before login takes
 *   binary data. A `~{n+}` still has its bytes skipped so the stream stays framed.
 * - Atoms are read leniently (any of %x21-7E except `(` `)` `{` `"`), so flags (`\Seen`),
 *   wildcards and sequence sets are atoms; `BODY[...]` section syntax with embedded
 *   spaces is not supported (no pre-auth command uses it). Trailing spaces are errors.
 * - Quoted strings may hold 8-bit bytes (RFC 9051 allows UTF-8 there); like literals
 *   they are returned as bytes, undecoded.
 * - NUL is refused in literals as well as quoted strings (RFC 9051 CHAR8 is %x01-ff), so a
 *   password can never carry a NUL into a SASL PLAIN message built from it.
 * - When a command is refused mid-line and the refused line ends in a non-synchronising
 *   literal announcement, that literal's bytes are skipped too (they are on their way),
 *   so they are never read as commands.
 * - Too-deep list nesting (Dovecot CVE-2026-27857 was nesting blow-up in imap-login) is
 *   reported as TOO_MANY_ARGS.
 */
import { ByteQueue } from './byte-queue.ts';
import { GatehouseError } from './gatehouse-error.ts';
import { isAtomByte, isTagByte } from './tags.ts';

export interface ImapReaderLimits {
  /** Bytes of one command excluding literal bodies and the final line ending. */
  maxLineBytes: number;
  /** Bytes of one literal body. */
  maxLiteralBytes: number;
  /** Arguments of one command, counting every list and every item inside lists. */
  maxArgs: number;
  /** Nesting of parenthesised lists (a list at the top level is depth 1). */
  maxListDepth: number;
  /**
   * Bytes of one command including literal bodies: bounds a command with many literals.
   * Optional (default 262144) so code written against the four original limits compiles.
   */
  maxCommandBytes?: number;
}

/**
 * Defaults for a client that has not logged in. 8 KiB lines are what Dovecot's imap-login
 * allows; 64 KiB literals hold any real user name or password; 64 arguments fit an ID list
 * of its maximum 30 pairs (RFC 2971 §3.3); 256 KiB per command fits LOGIN with two
 * maximal literals while keeping the worst case per connection far below maxArgs × 64 KiB.
 */
export const DEFAULT_IMAP_READER_LIMITS: Readonly<Required<ImapReaderLimits>> = Object.freeze({
  maxLineBytes: 8192,
  maxLiteralBytes: 65536,
  maxArgs: 64,
  maxListDepth: 4,
  maxCommandBytes: 262144,
});

export type ImapArg =
  | { kind: 'atom'; value: string }
  | { kind: 'string'; value: Buffer }
  | { kind: 'list'; items: ImapArg[] };

export const ImapReaderErrorCode = {
  LINE_TOO_LONG: 'ERR_LINE_TOO_LONG',
  LITERAL_TOO_LARGE: 'ERR_LITERAL_TOO_LARGE',
  SYNTAX: 'ERR_SYNTAX',
  BAD_TAG: 'ERR_BAD_TAG',
  TOO_MANY_ARGS: 'ERR_TOO_MANY_ARGS',
} as const;
export type ImapReaderErrorCode = (typeof ImapReaderErrorCode)[keyof typeof ImapReaderErrorCode];

export type ImapReaderEvent =
  | { type: 'command'; tag: string; name: string; args: ImapArg[] }
  | { type: 'literal-wait'; tag: string; name: string; size: number }
  | { type: 'line'; line: Buffer }
  | { type: 'error'; code: ImapReaderErrorCode; tag: string | null; fatal: boolean };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const NUL = 0x00;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const PLUS = 0x2b;
const TILDE = 0x7e;

const State = {
  /** At a command boundary: waiting for the first line of a command. */
  COMMAND: 0,
  /** After a literal body: waiting for the rest of the command. */
  CONTINUATION: 1,
  /** Reading a literal body into the command. */
  LITERAL: 2,
  /** Discarding the rest of a refused command: waiting for its next line. */
  SKIP_LINE: 3,
  /** Discarding a non-synchronising literal of a refused command. */
  SKIP_LITERAL: 4,
  /** After expectLine(): waiting for one raw line. */
  RAW_LINE: 5,
  /** After a fatal error. */
  DESTROYED: 6,
} as const;
type State = (typeof State)[keyof typeof State];

/** What the argument parser expects next. */
const Expect = {
  /** SP, ")" closing a list, or the end of the command. */
  SEPARATOR: 0,
  /** An argument (after SP). */
  ITEM: 1,
  /** An argument or ")" (right after "("). */
  ITEM_OR_CLOSE: 2,
} as const;
type Expect = (typeof Expect)[keyof typeof Expect];

/** A literal announcement `{n}` / `{n+}` at the end of a line. */
interface LiteralAnnouncement {
  size: number;
  sync: boolean;
}

/** Returned by a state step that changed state without producing an event. */
const CONTINUE = 'continue';
type Step = ImapReaderEvent | typeof CONTINUE | null;

/** Literal sizes with more digits than this are treated as too large, never computed. */
const MAX_LITERAL_DIGITS = 15;

export class ImapCommandReader {
  readonly limits: Readonly<Required<ImapReaderLimits>>;
  #queue = new ByteQueue();
  #state: State = State.COMMAND;
  /** Bytes at the front of the queue already known to hold no LF. */
  #scanned = 0;

  // The command being read.
  #tag: string | null = null;
  #name = '';
  /** #lists[0] is the argument list of the command; the others are open "(" lists. */
  #lists: ImapArg[][] = [[]];
  #expect: Expect = Expect.SEPARATOR;
  #argCount = 0;
  /** Non-literal bytes of the command before the current line, line endings included. */
  #lineBytes = 0;
  #literalBytes = 0;
  #literalLeft = 0;
  #literalParts: Buffer[] = [];

  constructor(limits?: Partial<ImapReaderLimits>) {
    this.limits = validateLimits({ ...DEFAULT_IMAP_READER_LIMITS, ...limits });
  }

  /** Unread bytes (bytes of a literal being read are counted as read). */
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
  next(): ImapReaderEvent | null {
    for (;;) {
      const step = this.#step();
      if (step !== CONTINUE) {
        return step;
      }
    }
  }

  /**
   * Makes the next event one raw `line` (a SASL client response, RFC 9051 §6.2.2), after
   * which commands are read again. Only valid between commands.
   */
  expectLine(): void {
    if (this.#state === State.DESTROYED) {
      return;
    }
    if (this.#state !== State.COMMAND) {
      throw new GatehouseError('ERR_READER_STATE', 'expectLine() called in the middle of a command');
    }
    this.#state = State.RAW_LINE;
  }

  /**
   * Removes and returns every unread byte, and abandons a command being read (if any) so
   * reading starts afresh at the next push. At STARTTLS the caller discards the result;
   * at the switch to the pipe it forwards it to the back-end.
   */
  takeBuffered(): Buffer {
    const rest = this.#queue.takeAll();
    this.#scanned = 0;
    if (this.#state !== State.DESTROYED) {
      this.#resetCommand(State.COMMAND);
    }
    return rest;
  }

  #step(): Step {
    switch (this.#state) {
      case State.COMMAND:
      case State.CONTINUATION:
      case State.SKIP_LINE:
      case State.RAW_LINE:
        return this.#stepLine();
      case State.LITERAL:
        return this.#stepLiteral();
      case State.SKIP_LITERAL:
        return this.#stepSkipLiteral();
      case State.DESTROYED:
        return null;
    }
  }

  /** Reads one line (up to LF) and handles it according to the state. */
  #stepLine(): Step {
    const prior = this.#state === State.COMMAND || this.#state === State.RAW_LINE ? 0 : this.#lineBytes;
    const lf = this.#queue.indexOf(LF, this.#scanned);
    if (lf === -1) {
      this.#scanned = this.#queue.length;
      // The line so far holds at least this many content bytes (a final CR may yet turn
      // out to be the CR of CRLF): refuse as soon as that is over the limit.
      const atLeast = this.#queue.length - (this.#queue.lastByte === CR ? 1 : 0);
      if (prior + atLeast > this.limits.maxLineBytes) {
        return this.#fatal(ImapReaderErrorCode.LINE_TOO_LONG);
      }
      return null;
    }
    const line = this.#queue.consume(lf + 1);
    this.#scanned = 0;
    const end = lf > 0 && line[lf - 1] === CR ? lf - 1 : lf;
    if (prior + end > this.limits.maxLineBytes) {
      return this.#fatal(ImapReaderErrorCode.LINE_TOO_LONG);
    }
    if (this.#state === State.RAW_LINE) {
      this.#state = State.COMMAND;
      return { type: 'line', line: Buffer.from(line.subarray(0, end)) };
    }
    if (this.#state === State.COMMAND) {
      this.#lineBytes = line.length;
      return this.#parseFirstLine(line, end);
    }
    this.#lineBytes += line.length;
    if (this.#state === State.SKIP_LINE) {
      return this.#discardRest(line, end) ?? CONTINUE;
    }
    return this.#parseArgs(line, 0, end);
  }

  #stepLiteral(): Step {
    const available = Math.min(this.#literalLeft, this.#queue.length);
    if (available > 0) {
      this.#literalParts.push(this.#queue.consume(available));
      this.#literalLeft -= available;
    }
    if (this.#literalLeft > 0) {
      return null;
    }
    // Buffer.concat copies even a single part, so no pushed chunk is retained.
    const value = Buffer.concat(this.#literalParts);
    this.#literalParts = [];
    if (value.includes(NUL)) {
      const tag = this.#tag;
      this.#state = State.SKIP_LINE;
      return error(ImapReaderErrorCode.SYNTAX, tag);
    }
    this.#current().push({ kind: 'string', value });
    this.#expect = Expect.SEPARATOR;
    this.#state = State.CONTINUATION;
    return CONTINUE;
  }

  #stepSkipLiteral(): Step {
    const available = Math.min(this.#literalLeft, this.#queue.length);
    this.#queue.skip(available);
    this.#literalLeft -= available;
    if (this.#literalLeft > 0) {
      return null;
    }
    this.#state = State.SKIP_LINE;
    return CONTINUE;
  }

  /** Parses `tag SP name [SP args]` from the first line of a command. */
  #parseFirstLine(line: Buffer, end: number): Step {
    if (end === 0) {
      this.#resetCommand(State.COMMAND);
      return error(ImapReaderErrorCode.SYNTAX, null);
    }
    let pos = 0;
    while (pos < end && line[pos] !== SP) {
      if (!isTagByte(line[pos] as number)) {
        return this.#refuse(ImapReaderErrorCode.BAD_TAG, line, end);
      }
      pos++;
    }
    if (pos === 0) {
      return this.#refuse(ImapReaderErrorCode.BAD_TAG, line, end);
    }
    this.#tag = line.toString('latin1', 0, pos);
    if (pos === end) {
      return this.#refuse(ImapReaderErrorCode.SYNTAX, line, end);
    }
    const nameStart = ++pos;
    while (pos < end && isAtomByte(line[pos] as number)) {
      pos++;
    }
    if (pos === nameStart || (pos < end && line[pos] !== SP)) {
      return this.#refuse(ImapReaderErrorCode.SYNTAX, line, end);
    }
    this.#name = line.toString('latin1', nameStart, pos).toUpperCase();
    if (pos === end) {
      return this.#complete();
    }
    this.#expect = Expect.ITEM;
    return this.#parseArgs(line, pos + 1, end);
  }

  /** Parses arguments from `pos` to `end`, continuing the lists left open by a literal. */
  #parseArgs(line: Buffer, start: number, end: number): Step {
    let pos = start;
    for (;;) {
      if (pos === end) {
        if (this.#expect !== Expect.SEPARATOR || this.#lists.length > 1) {
          return this.#refuse(ImapReaderErrorCode.SYNTAX, line, end);
        }
        return this.#complete();
      }
      const byte = line[pos] as number;
      if (this.#expect === Expect.SEPARATOR) {
        if (byte === SP) {
          this.#expect = Expect.ITEM;
        } else if (byte === RPAREN && this.#lists.length > 1) {
          this.#lists.pop();
        } else {
          return this.#refuse(ImapReaderErrorCode.SYNTAX, line, end);
        }
        pos++;
        continue;
      }
      if (byte === RPAREN && this.#expect === Expect.ITEM_OR_CLOSE) {
        this.#lists.pop();
        this.#expect = Expect.SEPARATOR;
        pos++;
        continue;
      }
      if (byte === LBRACE) {
        return this.#announceLiteral(line, pos, end);
      }
      if (!this.#countArg()) {
        return this.#refuse(ImapReaderErrorCode.TOO_MANY_ARGS, line, end);
      }
      if (byte === LPAREN) {
        if (this.#lists.length > this.limits.maxListDepth) {
          return this.#refuse(ImapReaderErrorCode.TOO_MANY_ARGS, line, end);
        }
        const items: ImapArg[] = [];
        this.#current().push({ kind: 'list', items });
        this.#lists.push(items);
        this.#expect = Expect.ITEM_OR_CLOSE;
        pos++;
        continue;
      }
      const next = byte === DQUOTE ? this.#parseQuoted(line, pos, end) : this.#parseAtom(line, pos, end);
      if (next === -1) {
        return this.#refuse(ImapReaderErrorCode.SYNTAX, line, end);
      }
      this.#expect = Expect.SEPARATOR;
      pos = next;
    }
  }

  /** Adds an atom starting at `start`; returns the position after it, or -1. */
  #parseAtom(line: Buffer, start: number, end: number): number {
    let pos = start;
    while (pos < end && isArgAtomByte(line[pos] as number)) {
      pos++;
    }
    // "~{" opens a literal8 (RFC 3516), refused before login.
    if (pos === start || (line[pos - 1] === TILDE && line[pos] === LBRACE)) {
      return -1;
    }
    this.#current().push({ kind: 'atom', value: line.toString('latin1', start, pos) });
    return pos;
  }

  /** Adds a quoted string starting at the DQUOTE at `start`; returns the position after it, or -1. */
  #parseQuoted(line: Buffer, start: number, end: number): number {
    // First pass: find the closing quote and validate; second pass (only when there
    // are escapes): unescape. RFC 9051 §4.3: only \\ and \" are escapes.
    let pos = start + 1;
    let escapes = 0;
    for (;;) {
      if (pos >= end) {
        return -1;
      }
      const byte = line[pos] as number;
      if (byte === DQUOTE) {
        break;
      }
      if (byte === BACKSLASH) {
        const escaped = line[pos + 1];
        if (pos + 1 >= end || (escaped !== BACKSLASH && escaped !== DQUOTE)) {
          return -1;
        }
        escapes++;
        pos += 2;
        continue;
      }
      if (byte === CR || byte === NUL) {
        return -1;
      }
      pos++;
    }
    let value: Buffer;
    if (escapes === 0) {
      value = Buffer.from(line.subarray(start + 1, pos));
    } else {
      value = Buffer.allocUnsafe(pos - start - 1 - escapes);
      let out = 0;
      for (let i = start + 1; i < pos; i++) {
        if (line[i] === BACKSLASH) {
          i++;
        }
        value[out++] = line[i] as number;
      }
    }
    this.#current().push({ kind: 'string', value });
    return pos + 1;
  }

  /** Handles `{n}` / `{n+}` at `start`, which must end the line. */
  #announceLiteral(line: Buffer, start: number, end: number): Step {
    const literal = parseLiteralAt(line, start, end);
    if (literal === null) {
      return this.#refuse(ImapReaderErrorCode.SYNTAX, line, end);
    }
    if (!this.#countArg()) {
      return this.#refuse(ImapReaderErrorCode.TOO_MANY_ARGS, line, end);
    }
    if (!this.#literalFits(literal.size)) {
      return this.#literalTooLarge(literal);
    }
    this.#literalBytes += literal.size;
    this.#literalLeft = literal.size;
    this.#state = State.LITERAL;
    if (literal.sync) {
      return { type: 'literal-wait', tag: this.#tag as string, name: this.#name, size: literal.size };
    }
    return CONTINUE;
  }

  #literalFits(size: number): boolean {
    return (
      size <= this.limits.maxLiteralBytes &&
      this.#lineBytes + this.#literalBytes + size <= this.limits.maxCommandBytes
    );
  }

  /**
   * A synchronising literal over the limits is refused and the client, which never got
   * its "+", sends no bytes; a non-synchronising one is already on its way and cannot be
   * framed without reading it, so the stream is given up.
   */
  #literalTooLarge(literal: LiteralAnnouncement): ImapReaderEvent {
    if (!literal.sync) {
      return this.#fatal(ImapReaderErrorCode.LITERAL_TOO_LARGE);
    }
    const tag = this.#tag;
    this.#resetCommand(State.COMMAND);
    return error(ImapReaderErrorCode.LITERAL_TOO_LARGE, tag);
  }

  /** Refuses the command being read; `line` (ending at `end`) is its latest line. */
  #refuse(code: ImapReaderErrorCode, line: Buffer, end: number): ImapReaderEvent {
    const tag = this.#tag;
    return this.#discardRest(line, end) ?? error(code, tag);
  }

  /**
   * Goes on discarding a refused command after `line`: when the line ends in a
   * non-synchronising literal announcement, its bytes are on their way and are skipped,
   * then the line after them; otherwise the command is over. Returns a fatal error
   * event when that literal is too large to skip safely, else null.
   */
  #discardRest(line: Buffer, end: number): ImapReaderEvent | null {
    const literal = parseTrailingLiteral(line, end);
    if (literal === null || literal.sync) {
      this.#resetCommand(State.COMMAND);
      return null;
    }
    if (!this.#literalFits(literal.size)) {
      return this.#fatal(ImapReaderErrorCode.LITERAL_TOO_LARGE);
    }
    this.#literalBytes += literal.size;
    this.#literalLeft = literal.size;
    this.#state = State.SKIP_LITERAL;
    return null;
  }

  #complete(): ImapReaderEvent {
    const event: ImapReaderEvent = {
      type: 'command',
      tag: this.#tag as string,
      name: this.#name,
      args: this.#lists[0] as ImapArg[],
    };
    this.#resetCommand(State.COMMAND);
    return event;
  }

  #fatal(code: ImapReaderErrorCode): ImapReaderEvent {
    const tag = this.#tag;
    this.#resetCommand(State.DESTROYED);
    this.#queue.clear();
    return { type: 'error', code, tag, fatal: true };
  }

  #countArg(): boolean {
    return ++this.#argCount <= this.limits.maxArgs;
  }

  #current(): ImapArg[] {
    return this.#lists.at(-1) as ImapArg[];
  }

  #resetCommand(state: State): void {
    this.#state = state;
    this.#tag = null;
    this.#name = '';
    this.#lists = [[]];
    this.#expect = Expect.SEPARATOR;
    this.#argCount = 0;
    this.#lineBytes = 0;
    this.#literalBytes = 0;
    this.#literalLeft = 0;
    this.#literalParts = [];
  }
}

function error(code: ImapReaderErrorCode, tag: string | null): ImapReaderEvent {
  return { type: 'error', code, tag, fatal: false };
}

/** Atom bytes accepted in arguments: %x21-7E except ( ) { " (see the module header). */
function isArgAtomByte(byte: number): boolean {
  return byte > SP && byte < 0x7f && byte !== LPAREN && byte !== RPAREN && byte !== LBRACE && byte !== DQUOTE;
}

/** Parses `{digits[+]}` occupying exactly line[start, end) (line[start] is "{"), or returns null. */
function parseLiteralAt(line: Buffer, start: number, end: number): LiteralAnnouncement | null {
  if (end - start < 3 || line[end - 1] !== RBRACE) {
    return null;
  }
  const sync = line[end - 2] !== PLUS;
  const digitsEnd = sync ? end - 1 : end - 2;
  const digits = digitsEnd - start - 1;
  if (digits < 1) {
    return null;
  }
  let size = 0;
  for (let i = start + 1; i < digitsEnd; i++) {
    const digit = (line[i] as number) - 0x30;
    if (digit < 0 || digit > 9) {
      return null;
    }
    size = size * 10 + digit;
  }
  return { size: digits > MAX_LITERAL_DIGITS ? Number.POSITIVE_INFINITY : size, sync };
}

/** The literal announced at the end of line[0, end), if any. */
function parseTrailingLiteral(line: Buffer, end: number): LiteralAnnouncement | null {
  const open = end === 0 ? -1 : line.lastIndexOf(LBRACE, end - 1);
  return open === -1 ? null : parseLiteralAt(line, open, end);
}

function validateLimits(limits: Required<ImapReaderLimits>): Readonly<Required<ImapReaderLimits>> {
  for (const [key, value] of Object.entries(limits)) {
    const min = key === 'maxListDepth' ? 0 : 1;
    if (!Number.isSafeInteger(value) || (value as number) < min) {
      throw new GatehouseError('ERR_INVALID_LIMIT', `${key} must be an integer of at least ${min}`);
    }
  }
  return Object.freeze(limits);
}
