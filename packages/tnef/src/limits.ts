/**
 * Limits for decoding TNEF from strangers.
 *
 * A winmail.dat arrives from the Internet, so every count and length in it is hostile
 * until checked: POI's oom.tnef is 53 bytes that declare a multi-valued property with
 * billions of values. The decoder checks each declared size against the bytes that are
 * really there before it allocates anything, and these limits bound what the remaining
 * structure can still cost: attachment data and property values are views of the input
 * (no copies), so memory is the input plus the decompressed RTF bodies (capped by
 * `maxDecompressedBytes`, shared by a message and all messages embedded in it) plus the
 * text decoded from them. Breaking a limit throws TnefError ERR_TNEF_LIMIT.
 */
export interface TnefLimits {
  /** Largest TNEF stream accepted (the decoded winmail.dat, not the base64 around it). */
  readonly maxInputBytes: number;
  /** Attributes in one stream, nested streams counted separately. */
  readonly maxAttributes: number;
  /** Attachments in all streams together (embedded messages' attachments included). */
  readonly maxAttachments: number;
  /** MAPI properties in all property lists together. */
  readonly maxProperties: number;
  /** Values of one multi-valued MAPI property. */
  readonly maxValuesPerProperty: number;
  /** Embedded messages inside embedded messages: 1 = an attached message, no deeper. */
  readonly maxNestingDepth: number;
  /** Decompressed RTF bytes in all bodies together (each body's declared RAWSIZE counts). */
  readonly maxDecompressedBytes: number;
}

/** Defaults sized for mail a store accepts (tens of MiB), not for arbitrary archives. */
export const DEFAULT_TNEF_LIMITS: TnefLimits = Object.freeze({
  maxInputBytes: 100 * 1024 * 1024,
  maxAttributes: 10_000,
  maxAttachments: 1_000,
  maxProperties: 100_000,
  maxValuesPerProperty: 65_536,
  maxNestingDepth: 8,
  maxDecompressedBytes: 64 * 1024 * 1024,
});
