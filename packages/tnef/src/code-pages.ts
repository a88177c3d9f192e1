/**
 * Windows code pages → text, through the WHATWG TextDecoder (Node ships full ICU).
 *
 * TNEF strings carry no charset of their own: PT_STRING8 values are in the message code
 * page (PR_MESSAGE_CODEPAGE, else attOemCodepage), the HTML body in PR_INTERNET_CPID, RTF
 * runs in \ansicpg or their font's \fcharset. Decoding never throws: an unknown code page
 * falls back to windows-1252, and bytes a code page does not map become U+FFFD.
 */

/** Windows code page number → WHATWG encoding label. */
const CODE_PAGE_LABELS: ReadonlyMap<number, string> = new Map([
  [437, 'windows-1252'], // no cp437 in WHATWG; 1252 keeps ASCII and most Latin-1 letters
  [850, 'windows-1252'],
  [866, 'ibm866'],
  [874, 'windows-874'],
  [932, 'shift_jis'],
  [936, 'gbk'],
  [949, 'euc-kr'],
  [950, 'big5'],
  [1200, 'utf-16le'],
  [1201, 'utf-16be'],
  [1250, 'windows-1250'],
  [1251, 'windows-1251'],
  [1252, 'windows-1252'],
  [1253, 'windows-1253'],
  [1254, 'windows-1254'],
  [1255, 'windows-1255'],
  [1256, 'windows-1256'],
  [1257, 'windows-1257'],
  [1258, 'windows-1258'],
  [10000, 'macintosh'],
  [10007, 'x-mac-cyrillic'],
  [20127, 'us-ascii'],
  [20866, 'koi8-r'],
  [21866, 'koi8-u'],
  [28591, 'iso-8859-1'],
  [28592, 'iso-8859-2'],
  [28593, 'iso-8859-3'],
  [28594, 'iso-8859-4'],
  [28595, 'iso-8859-5'],
  [28596, 'iso-8859-6'],
  [28597, 'iso-8859-7'],
  [28598, 'iso-8859-8'],
  [28599, 'iso-8859-9'],
  [28603, 'iso-8859-13'],
  [28605, 'iso-8859-15'],
  [38598, 'iso-8859-8-i'],
  [50220, 'iso-2022-jp'],
  [50221, 'iso-2022-jp'],
  [50222, 'iso-2022-jp'],
  [51932, 'euc-jp'],
  [51936, 'gbk'],
  [51949, 'euc-kr'],
  [54936, 'gb18030'],
  [65001, 'utf-8'],
]);

/** RTF \fcharsetN → Windows code page (MSFT-RTF font table); 0 means "the \ansicpg". */
const RTF_CHARSET_CODE_PAGES: ReadonlyMap<number, number> = new Map([
  [0, 0],
  [1, 0],
  [2, 1252], // Symbol: bytes are font code points; 1252 at least keeps them visible
  [77, 10000],
  [128, 932],
  [129, 949],
  [130, 1361],
  [134, 936],
  [136, 950],
  [161, 1253],
  [162, 1254],
  [163, 1258],
  [177, 1255],
  [178, 1256],
  [186, 1257],
  [204, 1251],
  [222, 874],
  [238, 1250],
  [254, 437],
  [255, 850],
]);

type Decoder = InstanceType<typeof TextDecoder>;

const decoders = new Map<string, Decoder>();

function decoderFor(label: string): Decoder {
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    decoder = new TextDecoder(label);
    decoders.set(label, decoder);
  }
  return decoder;
}

/** The WHATWG label for a code page, or undefined when TextDecoder cannot decode it. */
export function codePageLabel(codePage: number): string | undefined {
  return CODE_PAGE_LABELS.get(codePage);
}

/** The code page an RTF \fcharset selects; 0 when it defers to \ansicpg or is unknown. */
export function rtfCharsetCodePage(charset: number): number {
  return RTF_CHARSET_CODE_PAGES.get(charset) ?? 0;
}

/** A MIME charset name TextDecoder knows, normalised; undefined when unknown. */
export function normalizeCharset(name: string): string | undefined {
  try {
    return new TextDecoder(name.trim()).encoding;
  } catch {
    return undefined;
  }
}

/** Decodes bytes in a code page (windows-1252 when unknown). */
export function decodeCodePage(bytes: Uint8Array, codePage: number): string {
  return decoderFor(codePageLabel(codePage) ?? 'windows-1252').decode(bytes);
}
