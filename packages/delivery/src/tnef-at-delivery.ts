// TNEF (winmail.dat) to MIME at delivery, by the recipient's policy (directory field
// `tnef` of the user, else of the domain, else `convert`). The conversion never throws
// and returns the input unchanged on any failure; this wrapper adds the last guard: if
// anything at all goes wrong here, the original bytes are delivered. Nothing is lost.
import { convertTnefInMessage, type TnefLimits } from '@gatehouse/tnef';
import type { TnefPolicy } from '@gatehouse/directory';

export interface TnefOutcome {
  readonly message: Buffer;
  readonly changed: boolean;
  readonly tnefParts: number;
  readonly warnings: readonly string[];
}

export function applyTnefPolicy(raw: Buffer, policy: TnefPolicy, limits?: Partial<TnefLimits>): TnefOutcome {
  if (policy === 'off') return { message: raw, changed: false, tnefParts: 0, warnings: [] };
  try {
    const r = convertTnefInMessage(raw, { keepOriginal: policy === 'keep', ...(limits === undefined ? {} : { limits }) });
    if (!r.changed) return { message: raw, changed: false, tnefParts: r.tnefParts, warnings: r.warnings };
    const message = Buffer.from(r.message.buffer, r.message.byteOffset, r.message.byteLength);
    return { message, changed: true, tnefParts: r.tnefParts, warnings: r.warnings };
  } catch (err) {
    return { message: raw, changed: false, tnefParts: 0, warnings: [`WARN_TNEF_INTERNAL: ${(err as Error).message}`] };
  }
}
