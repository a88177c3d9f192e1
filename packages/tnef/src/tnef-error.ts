/**
 * TnefError: the only exception the TNEF decoder throws on purpose.
 *
 * Every malformed, truncated or hostile input ends in one of these codes (the fuzz test
 * holds the decoder to that), so the delivery path can catch one class, log the code and
 * pass the message on untouched.
 */
import { GatehouseError } from '@gatehouse/protocol';

export const TnefErrorCode = {
  /** The stream does not start with the TNEF signature 0x223E9F78 (MS-OXTNEF §2.1.3.1). */
  SIGNATURE: 'ERR_TNEF_SIGNATURE',
  /** A length or count points past the end of the stream or of its attribute. */
  TRUNCATED: 'ERR_TNEF_TRUNCATED',
  /** An attribute checksum does not match its data (thrown only with `strict`). */
  CHECKSUM: 'ERR_TNEF_CHECKSUM',
  /** The stream breaks its own structure: bad attribute level, unknown MAPI property type. */
  FORMAT: 'ERR_TNEF_FORMAT',
  /** A configured limit was reached (size, attributes, attachments, nesting, decompressed bytes). */
  LIMIT: 'ERR_TNEF_LIMIT',
  /** Compressed RTF whose CRC does not match its data (MS-OXRTFCP §2.1.3.2). */
  RTF_CRC: 'ERR_RTF_CRC',
  /** Compressed RTF with a bad header, an unknown COMPTYPE, or data that ends early. */
  RTF_FORMAT: 'ERR_RTF_FORMAT',
} as const;

export type TnefErrorCode = (typeof TnefErrorCode)[keyof typeof TnefErrorCode];

export class TnefError extends GatehouseError {
  declare readonly code: TnefErrorCode;

  constructor(code: TnefErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
