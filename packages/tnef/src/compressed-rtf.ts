/**
 * Compressed RTF (MS-OXRTFCP): the PR_RTF_COMPRESSED body of a MAPI message.
 *
 * Written here rather than taken from @kenjiuno/decompressrtf, which decompresses the
 * fixtures correctly but checks no CRC, does not trim to RAWSIZE, reads past the end of a
 * truncated input as zeros (garbage instead of an error) and grows a JS number array
 * without bound. This one checks COMPSIZE against the bytes present, verifies the CRC
 * (§2.1.3.2: CRC-32 table, no initial or final inversion, over the bytes after the
 * header), never writes more than RAWSIZE bytes, and refuses a RAWSIZE over the caller's
 * budget before allocating it.
 */
import { TnefError, TnefErrorCode } from './tnef-error.ts';

/** COMPTYPE "LZFu": LZ77 compressed with the pre-loaded dictionary (§2.1.3.1.1). */
const COMPTYPE_COMPRESSED = 0x75465a4c;
/** COMPTYPE "MELA": stored uncompressed; its CRC field is to be ignored (§2.1.3.1.1). */
const COMPTYPE_UNCOMPRESSED = 0x414c454d;
const HEADER_BYTES = 16;

/** The dictionary's first 207 bytes (§2.1.2.1); the rest of its 4096 bytes start as zeros. */
const INITIAL_DICTIONARY = new TextEncoder().encode(
  '{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript ' +
    '\\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n' +
    '\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx',
);
const DICTIONARY_SIZE = 4096;

const CRC_TABLE = ((): Uint32Array => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The MS-OXRTFCP CRC: CRC-32's table with a zero start value and no final XOR. */
export function rtfCrc32(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)) >>> 0;
  return crc;
}

export interface CompressedRtfHeader {
  /** COMPSIZE: bytes after this field (the header's other 12 bytes + the data). */
  readonly compressedSize: number;
  /** RAWSIZE: bytes of the decompressed RTF. */
  readonly rawSize: number;
  readonly compressed: boolean;
  readonly crc: number;
}

export function readCompressedRtfHeader(input: Uint8Array): CompressedRtfHeader {
  if (input.length < HEADER_BYTES) {
    throw new TnefError(TnefErrorCode.RTF_FORMAT, `compressed RTF: ${input.length} bytes, the header alone is 16`);
  }
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const compressedSize = view.getUint32(0, true);
  const rawSize = view.getUint32(4, true);
  const compType = view.getUint32(8, true);
  const crc = view.getUint32(12, true);
  if (compType !== COMPTYPE_COMPRESSED && compType !== COMPTYPE_UNCOMPRESSED) {
    throw new TnefError(TnefErrorCode.RTF_FORMAT, `compressed RTF: unknown COMPTYPE 0x${compType.toString(16)}`);
  }
  return { compressedSize, rawSize, compressed: compType === COMPTYPE_COMPRESSED, crc };
}

export interface DecompressRtfOptions {
  /** Refuse (ERR_TNEF_LIMIT) a RAWSIZE above this; default 64 MiB. */
  readonly maxOutputBytes?: number;
}

/**
 * Decompresses a PR_RTF_COMPRESSED value to the RTF bytes.
 *
 * Throws ERR_RTF_FORMAT (short header, unknown COMPTYPE, COMPSIZE past the input),
 * ERR_RTF_CRC (LZFu data whose CRC does not match), ERR_TNEF_LIMIT (RAWSIZE over budget).
 * The output is trimmed to RAWSIZE (LZFu may encode a few bytes more); bytes after
 * COMPSIZE (attribute padding) are ignored.
 */
export function decompressRtf(input: Uint8Array, options: DecompressRtfOptions = {}): Uint8Array {
  const header = readCompressedRtfHeader(input);
  const maxOutputBytes = options.maxOutputBytes ?? 64 * 1024 * 1024;
  if (header.rawSize > maxOutputBytes) {
    throw new TnefError(
      TnefErrorCode.LIMIT,
      `compressed RTF: RAWSIZE ${header.rawSize} is over the limit of ${maxOutputBytes} bytes`,
    );
  }
  // COMPSIZE counts from after its own field; MELA writers are sloppy with it, LZFu ones not.
  const dataEnd = header.compressedSize + 4;
  if (!header.compressed) {
    // No CRC to check (MELA's field is to be ignored): what is there, up to RAWSIZE.
    return input.slice(HEADER_BYTES, Math.min(input.length, HEADER_BYTES + header.rawSize));
  }
  if (dataEnd < HEADER_BYTES) {
    throw new TnefError(TnefErrorCode.RTF_FORMAT, `compressed RTF: COMPSIZE ${header.compressedSize} is below 12`);
  }
  // The CRC is checked over the bytes present first: data cut short fails it (as damage),
  // which is how MimeKit reports the MS-OXRTFCP header-only example.
  const data = input.subarray(HEADER_BYTES, Math.min(dataEnd, input.length));
  const crc = rtfCrc32(data);
  if (crc !== header.crc) {
    throw new TnefError(
      TnefErrorCode.RTF_CRC,
      `compressed RTF: CRC 0x${crc.toString(16).padStart(8, '0')} != header 0x${header.crc.toString(16).padStart(8, '0')}`,
    );
  }
  if (dataEnd > input.length) {
    throw new TnefError(
      TnefErrorCode.RTF_FORMAT,
      `compressed RTF: COMPSIZE ${header.compressedSize} but ${input.length - 4} bytes follow it`,
    );
  }
  return lzfuDecompress(data, header.rawSize);
}

/** The LZFu decoder of §2.1.3.1.4, writing at most `rawSize` bytes. */
function lzfuDecompress(data: Uint8Array, rawSize: number): Uint8Array {
  const output = new Uint8Array(rawSize);
  const dictionary = new Uint8Array(DICTIONARY_SIZE);
  dictionary.set(INITIAL_DICTIONARY);
  let writePos = INITIAL_DICTIONARY.length;
  let outPos = 0;
  let inPos = 0;
  decode: while (inPos < data.length && outPos < rawSize) {
    const control = data[inPos++] as number;
    for (let bit = 0; bit < 8; bit++) {
      if (inPos >= data.length || outPos >= rawSize) break decode;
      if ((control & (1 << bit)) === 0) {
        const byte = data[inPos++] as number;
        output[outPos++] = byte;
        dictionary[writePos] = byte;
        writePos = (writePos + 1) % DICTIONARY_SIZE;
        continue;
      }
      if (inPos + 2 > data.length) break decode;
      const reference = ((data[inPos] as number) << 8) | (data[inPos + 1] as number);
      inPos += 2;
      let readPos = reference >>> 4;
      const length = (reference & 0x0f) + 2;
      // A reference to the write position itself marks the end of the data (§2.1.3.1.4).
      if (readPos === writePos) break decode;
      for (let i = 0; i < length && outPos < rawSize; i++) {
        const byte = dictionary[readPos] as number;
        readPos = (readPos + 1) % DICTIONARY_SIZE;
        output[outPos++] = byte;
        dictionary[writePos] = byte;
        writePos = (writePos + 1) % DICTIONARY_SIZE;
      }
    }
  }
  // The CRC matched, so a short output is how the writer made it, not damage: keep it.
  return outPos === rawSize ? output : output.slice(0, outPos);
}
