/**
 * @gatehouse/tnef: TNEF (application/ms-tnef, winmail.dat) to MIME, with no I/O (enforced
 * by a lint rule). Decodes TNEF attributes and MAPI properties (MS-OXTNEF), compressed RTF
 * (MS-OXRTFCP), HTML and text encapsulated in RTF (MS-OXRTFEX), and rewrites the TNEF parts
 * of a message as ordinary MIME parts. The delivery path and the CLI own the bytes' origin.
 */
export { TnefError, TnefErrorCode } from './tnef-error.ts';
export { DEFAULT_TNEF_LIMITS, type TnefLimits } from './limits.ts';
export { decodeTnef, isTnef, type DecodeTnefOptions } from './tnef-decoder.ts';
export type {
  TnefAddress,
  TnefAttachment,
  TnefBody,
  TnefEmbeddedAttachment,
  TnefFileAttachment,
  TnefMessage,
  TnefRecipient,
} from './tnef-message.ts';
export { getProperty, type MapiProperty, type MapiPropertyName, type MapiValue } from './mapi-properties.ts';
export { AttachMethod, PropertyId, PropertyType } from './tnef-constants.ts';
export { decompressRtf, rtfCrc32, type DecompressRtfOptions } from './compressed-rtf.ts';
export { readRtfBody, type RtfBody, type RtfBodyKind } from './rtf-reader.ts';
export { safeFileName } from './file-names.ts';
export { tnefToMime, tnefToEml, type MimePart, type TnefToMimeOptions } from './tnef-to-mime.ts';
export { convertTnefInMessage, type ConvertTnefOptions, type ConvertTnefResult } from './convert-message.ts';
