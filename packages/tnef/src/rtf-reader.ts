/**
 * RTF bodies → HTML or text: de-encapsulation (MS-OXRTFEX) and a plain-text rendering.
 *
 * Outlook keeps an HTML or plain-text body inside RTF when it sends "rich text": a
 * `\fromhtml1` document carries the original HTML in `{\*\htmltagN …}` groups plus the
 * text between them, with `\htmlrtf … \htmlrtf0` marking RTF-only decoration to drop
 * (§2.1.3.1); a `\fromtext` document is plain text with the same markers. Either is
 * recognised only in the RTF header, before the first group or text (§2.2.3.1). Any other
 * RTF is rendered to plain text: paragraphs and line breaks as CRLF, tabs, special
 * characters, fields by their result, and every destination that is not document text
 * (font and colour tables, stylesheet, info, pictures, objects, `{\*…}`) skipped.
 *
 * rtf-stream-parser (deEncapsulateSync) gives the same output as this reader on the four
 * encapsulated bodies in the fixtures, but it only de-encapsulates: it throws on native
 * RTF, which 9 of the 13 RTF bodies there are, so a text rendering had to be written
 * anyway, and one tokenizer here serves all three modes without a dependency.
 *
 * Text bytes (`\'hh` and raw 8-bit) are decoded in the code page of the current font
 * (its `\fcharset`/`\cpg` in the font table), else `\ansicpg`; inside htmltag groups
 * always in `\ansicpg` (§2.1.3.1.4). `\uN` gives a UTF-16 unit and skips `\ucN` fallback
 * characters. Group state (font, \uc, \htmlrtf, hidden, skipping) is saved and restored
 * with `{` `}` on an explicit stack: no recursion, so nesting depth cannot crash it.
 */
import { decodeCodePage, rtfCharsetCodePage } from './code-pages.ts';

export type RtfBodyKind = 'html' | 'text' | 'rtf';

export interface RtfBody {
  /** html: `\fromhtml1`; text: `\fromtext`; rtf: native RTF rendered to text. */
  readonly kind: RtfBodyKind;
  /** The HTML (kind html) or the text (kind text and rtf). */
  readonly content: string;
  /** `\ansicpgN` (1252 when absent). */
  readonly codePage: number;
}

/** Destinations whose text is not document text (MSFT-RTF); all `{\*\…}` ones are skipped too. */
const SKIPPED_DESTINATIONS = new Set([
  'fonttbl',
  'colortbl',
  'stylesheet',
  'info',
  'pict',
  'objdata',
  'objclass',
  'objname',
  'fldinst',
  'header',
  'headerl',
  'headerr',
  'headerf',
  'footer',
  'footerl',
  'footerr',
  'footerf',
  'footnote',
  'annotation',
  'atnid',
  'atnauthor',
  'xe',
  'tc',
  'txe',
  'rxe',
  'bkmkstart',
  'bkmkend',
  'listtable',
  'listoverridetable',
  'revtbl',
  'rsidtbl',
  'filetbl',
  'themedata',
  'colorschememapping',
  'latentstyles',
  'datastore',
  'xmlnstbl',
  'generator',
  'nonshppict',
  'private',
  'pntext',
  'pntxta',
  'pntxtb',
  'template',
  'userprops',
  'docvar',
  'mmathPr',
  'pgdsctbl',
  'shpinst',
  'sp',
  'sn',
  'sv',
]);

/** Control words that stand for a character (outside skipped destinations). */
const SPECIAL_CHARACTERS: ReadonlyMap<string, string> = new Map([
  ['par', '\r\n'],
  ['line', '\r\n'],
  ['sect', '\r\n'],
  ['page', '\r\n'],
  ['row', '\r\n'],
  ['cell', '\t'],
  ['nestcell', '\t'],
  ['tab', '\t'],
  ['emdash', '\u2014'],
  ['endash', '\u2013'],
  ['emspace', '\u2003'],
  ['enspace', '\u2002'],
  ['qmspace', '\u2005'],
  ['bullet', '\u2022'],
  ['lquote', '\u2018'],
  ['rquote', '\u2019'],
  ['ldblquote', '\u201c'],
  ['rdblquote', '\u201d'],
  ['zwj', '\u200d'],
  ['zwnj', '\u200c'],
  ['ltrmark', '\u200e'],
  ['rtlmark', '\u200f'],
]);

const CONTROL_SYMBOLS: ReadonlyMap<number, string> = new Map([
  [0x5c, '\\'],
  [0x7b, '{'],
  [0x7d, '}'],
  [0x7e, '\u00a0'], // \~ non-breaking space
  [0x5f, '\u2011'], // \_ non-breaking hyphen
  [0x0a, '\r\n'], // \<LF> and \<CR> are \par
  [0x0d, '\r\n'],
  [0x09, '\t'],
]);

interface GroupState {
  /** Text here is not document text. */
  skip: boolean;
  /** Inside an htmltag destination (always copied in html mode). */
  htmlTag: boolean;
  /** Inside the font table: \fN and \fcharsetN describe fonts. */
  fontTable: boolean;
  htmlrtf: boolean;
  hidden: boolean;
  uc: number;
  font: number;
}

const BYTE = {
  LF: 0x0a,
  CR: 0x0d,
  BACKSLASH: 0x5c,
  OPEN: 0x7b,
  CLOSE: 0x7d,
  QUOTE: 0x27,
  STAR: 0x2a,
} as const;

function isLetter(byte: number): boolean {
  return (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a);
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function hexValue(byte: number): number {
  if (isDigit(byte)) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function escapeHtmlText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/**
 * Reads an RTF document: de-encapsulates HTML or text where the header says so, and
 * renders native RTF as text. Never throws; malformed RTF gives whatever text it holds.
 */
export function readRtfBody(rtf: Uint8Array): RtfBody {
  const reader = new RtfInterpreter(rtf);
  reader.run();
  return { kind: reader.kind, content: reader.finish(), codePage: reader.ansiCodePage };
}

class RtfInterpreter {
  kind: RtfBodyKind = 'rtf';
  ansiCodePage = 1252;

  private readonly input: Uint8Array;
  private readonly stack: GroupState[] = [];
  private state: GroupState = {
    skip: false,
    htmlTag: false,
    fontTable: false,
    htmlrtf: false,
    hidden: false,
    uc: 1,
    font: -1,
  };
  private readonly fontCodePages = new Map<number, number>();
  private fontEntry = -1;
  /** Tokens since the last `{`: a destination word must come first (or after `\*`). */
  private groupTokenIndex = 0;
  private starred = false;
  /** The RTF header is over once a nested group or text appears at the top level. */
  private headerOpen = true;
  /** Fallback characters still to skip after `\uN`. */
  private unicodeSkip = 0;
  private readonly out: string[] = [];
  /** Text bytes not decoded yet (one code page, one htmltag state); grows up to the input size. */
  private pending = new Uint8Array(256);
  private pendingLength = 0;
  private pendingCodePage = 0;
  private pendingInTag = false;

  constructor(input: Uint8Array) {
    this.input = input;
  }

  run(): void {
    const input = this.input;
    let pos = 0;
    while (pos < input.length) {
      const byte = input[pos] as number;
      if (byte === BYTE.OPEN) {
        pos++;
        this.openGroup();
      } else if (byte === BYTE.CLOSE) {
        pos++;
        if (!this.closeGroup()) break;
      } else if (byte === BYTE.BACKSLASH) {
        pos = this.control(pos + 1);
      } else if (byte === BYTE.CR || byte === BYTE.LF) {
        pos++;
      } else {
        pos++;
        this.textByte(byte);
      }
    }
  }

  finish(): string {
    this.flushBytes();
    return this.out.join('');
  }

  private openGroup(): void {
    this.unicodeSkip = 0;
    if (this.stack.length > 0) this.headerOpen = false;
    this.stack.push(this.state);
    this.state = { ...this.state };
    this.groupTokenIndex = 0;
    this.starred = false;
  }

  /** False when the document's outermost group closed (what follows is not RTF). */
  private closeGroup(): boolean {
    this.unicodeSkip = 0;
    const previous = this.stack.pop();
    if (previous === undefined) return true; // an unbalanced `}`: ignore it
    if (this.state.fontTable && !previous.fontTable) this.fontEntry = -1;
    this.state = previous;
    this.groupTokenIndex = 1;
    return this.stack.length > 0;
  }

  /** Handles what follows a backslash at `pos`; returns the position after it. */
  private control(pos: number): number {
    const input = this.input;
    if (pos >= input.length) return pos;
    const first = input[pos] as number;
    if (isLetter(first)) {
      let end = pos;
      while (end < input.length && isLetter(input[end] as number)) end++;
      const word = String.fromCharCode(...input.subarray(pos, Math.min(end, pos + 32)));
      let param: number | undefined;
      let p = end;
      if (p < input.length && (input[p] === 0x2d || isDigit(input[p] as number))) {
        const negative = input[p] === 0x2d;
        if (negative) p++;
        let value = 0;
        let digits = 0;
        while (p < input.length && isDigit(input[p] as number)) {
          if (digits < 10) value = value * 10 + ((input[p] as number) - 0x30);
          digits++;
          p++;
        }
        param = negative ? -value : value;
      }
      if (p < input.length && input[p] === 0x20) p++; // the delimiting space belongs to the word
      if (word === 'bin') {
        // \binN: N raw bytes follow; skip them without reading them as RTF.
        return Math.min(input.length, p + Math.max(0, param ?? 0));
      }
      this.controlWord(word, param);
      return p;
    }
    if (first === BYTE.QUOTE) {
      const high = hexValue(input[pos + 1] ?? 0);
      const low = hexValue(input[pos + 2] ?? 0);
      if (high >= 0 && low >= 0) {
        this.textByte(high * 16 + low, true);
        return pos + 3;
      }
      return pos + 1;
    }
    if (first === BYTE.STAR) {
      this.starred = this.groupTokenIndex === 0;
      this.groupTokenIndex++;
      return pos + 1;
    }
    this.groupTokenIndex++;
    if (this.skipFallback()) return pos + 1;
    const symbol = CONTROL_SYMBOLS.get(first);
    if (symbol !== undefined) this.emit(symbol);
    return pos + 1;
  }

  /** While \uN fallback characters remain, consumes one and says so. */
  private skipFallback(): boolean {
    if (this.unicodeSkip > 0) {
      this.unicodeSkip--;
      return true;
    }
    return false;
  }

  private controlWord(word: string, param: number | undefined): void {
    const index = this.groupTokenIndex++;
    const starred = this.starred;
    this.starred = false;
    // A destination word opens its group (directly or after \*).
    if (index === 0 || (index === 1 && starred)) {
      if (this.destination(word, starred)) return;
    }
    if (this.headerOpen && this.stack.length === 1) {
      if (word === 'fromhtml' && param === 1 && this.out.length === 0) {
        this.kind = 'html';
        return;
      }
      if (word === 'fromtext' && this.out.length === 0) {
        this.kind = 'text';
        return;
      }
    }
    if (this.unicodeSkip > 0 && word !== 'u') {
      this.unicodeSkip--;
      return;
    }
    switch (word) {
      case 'ansicpg':
        if (param !== undefined && param > 0) this.ansiCodePage = param;
        return;
      case 'mac':
        this.ansiCodePage = 10000;
        return;
      case 'pc':
        this.ansiCodePage = 437;
        return;
      case 'pca':
        this.ansiCodePage = 850;
        return;
      case 'uc':
        this.state.uc = Math.max(0, Math.min(param ?? 1, 16));
        return;
      case 'u': {
        const n = param ?? 0;
        this.emit(String.fromCharCode((n < 0 ? n + 65536 : n) & 0xffff));
        this.unicodeSkip = this.state.uc;
        return;
      }
      case 'deff':
        if (this.stack.length === 1 && this.state.font < 0) this.state.font = param ?? 0;
        return;
      case 'f':
        if (this.state.fontTable) {
          this.fontEntry = param ?? 0;
        } else {
          this.state.font = param ?? 0;
        }
        return;
      case 'fcharset':
        if (this.state.fontTable && this.fontEntry >= 0) {
          const codePage = rtfCharsetCodePage(param ?? 0);
          if (codePage !== 0 && !this.fontCodePages.has(this.fontEntry)) this.fontCodePages.set(this.fontEntry, codePage);
        }
        return;
      case 'cpg':
        if (this.state.fontTable && this.fontEntry >= 0 && param !== undefined && param > 0) {
          this.fontCodePages.set(this.fontEntry, param);
        }
        return;
      case 'htmlrtf':
        this.state.htmlrtf = param !== 0;
        return;
      case 'v':
        this.state.hidden = param !== 0;
        return;
      case 'plain':
        this.state.hidden = false;
        return;
      default: {
        const special = SPECIAL_CHARACTERS.get(word);
        if (special !== undefined) this.emit(special);
      }
    }
  }

  /** Starts destination `word` in the current group; true when the word was a destination. */
  private destination(word: string, starred: boolean): boolean {
    if (word === 'htmltag') {
      if (this.kind === 'html') {
        this.state.htmlTag = true;
        this.state.skip = false;
      } else {
        this.state.skip = true;
      }
      return true;
    }
    if (word === 'fonttbl') {
      this.state.fontTable = true;
      this.state.skip = true;
      return true;
    }
    if (starred || SKIPPED_DESTINATIONS.has(word)) {
      // Inside an htmltag, a nested destination is part of the tag text only if it is htmltag.
      this.state.skip = true;
      this.state.htmlTag = false;
      return true;
    }
    return false;
  }

  private textByte(byte: number, escaped = false): void {
    if (!escaped) this.groupTokenIndex++;
    if (this.stack.length === 1) this.headerOpen = false;
    if (this.skipFallback()) return;
    if (!this.visible()) return;
    const codePage = this.currentCodePage();
    const inTag = this.state.htmlTag;
    if (codePage !== this.pendingCodePage || inTag !== this.pendingInTag) this.flushBytes();
    this.pendingCodePage = codePage;
    this.pendingInTag = inTag;
    if (this.pendingLength === this.pending.length) {
      const grown = new Uint8Array(this.pending.length * 2);
      grown.set(this.pending);
      this.pending = grown;
    }
    this.pending[this.pendingLength++] = byte;
  }

  private currentCodePage(): number {
    if (this.state.htmlTag) return this.ansiCodePage;
    return this.fontCodePages.get(this.state.font) ?? this.ansiCodePage;
  }

  private visible(): boolean {
    if (this.state.htmlTag) return true;
    if (this.state.skip || this.stack.length === 0) return false;
    if (this.kind !== 'rtf' && this.state.htmlrtf) return false;
    if (this.kind === 'rtf' && this.state.hidden) return false;
    return true;
  }

  private emit(text: string): void {
    if (this.stack.length === 1) this.headerOpen = false;
    if (!this.visible()) return;
    this.flushBytes();
    this.out.push(this.kind === 'html' && !this.state.htmlTag ? escapeHtmlText(text) : text);
  }

  private flushBytes(): void {
    if (this.pendingLength === 0) return;
    const text = decodeCodePage(this.pending.subarray(0, this.pendingLength), this.pendingCodePage);
    this.pendingLength = 0;
    // Bytes from an htmltag group are HTML as it was; bytes of text between tags are text.
    this.out.push(this.kind === 'html' && !this.pendingInTag ? escapeHtmlText(text) : text);
  }
}
