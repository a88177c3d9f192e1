/**
 * convertTnefInMessage: rewrites the TNEF parts of an RFC 5322 message as plain MIME, so
 * that every IMAP client can read what Outlook sent as "rich text".
 *
 * Only the TNEF part's bytes (and, when its body pairs with it, the plain text part
 * before it) are replaced; the outer header and every other part stay byte-exact. A TNEF
 * part is a part of type application/ms-tnef (or vnd.ms-tnef), or one named winmail.dat
 * whose content starts with the TNEF signature. Parts inside multipart/signed or
 * multipart/encrypted are left alone (rewriting them would break the signature), and so
 * are attached messages (message/rfc822 is someone else's message, kept as it came).
 *
 * Where the content goes, for a TNEF part P inside multipart/mixed M:
 * - HTML body: when M starts with a text/plain part S (the plain version Outlook sends
 *   beside winmail.dat), S and the HTML become one multipart/alternative in S's place, S
 *   byte-exact; otherwise the body (alternative of TNEF text and HTML, or the HTML alone)
 *   takes P's place.
 * - Text only: takes P's place, unless S says the same (compared with whitespace collapsed).
 * - Attachments follow as siblings in M, the original winmail.dat last when kept.
 * When P is the whole message or sits in another multipart, one part (multipart/mixed
 * when there are several) replaces it.
 *
 * Nothing is lost: when any TNEF part fails to decode the message is returned unchanged
 * (changed: false) with the error's code in `warnings`; when the decoder had to tolerate
 * damage (a bad checksum, an RTF body it could not read, a broken embedded message) the
 * original winmail.dat is kept as an extra part whatever `keepOriginal` says; a TNEF part
 * with no body and no attachment (a read receipt) is left as it is.
 */
import { createHash } from 'node:crypto';
import { normalizeCharset } from './code-pages.ts';
import { MimeWriter, type MimeNode } from './mime-builder.ts';
import { decodeTransferEncoding } from './mime-encoding.ts';
import { headerValue, parseMime, parseParameterized, type MimeEntity, type MimeParseLimits } from './mime-parser.ts';
import type { TnefLimits } from './limits.ts';
import { decodeTnef, isTnef } from './tnef-decoder.ts';
import { TnefError } from './tnef-error.ts';
import type { TnefMessage } from './tnef-message.ts';
import { originalTnefNode, tnefBodyAndAttachments } from './tnef-to-mime.ts';

export interface ConvertTnefOptions {
  /** Keep the original winmail.dat as an extra part (a per-domain/per-user policy). Default false. */
  readonly keepOriginal?: boolean;
  /** Limits for each TNEF stream. */
  readonly limits?: Partial<TnefLimits>;
  /** Passed to decodeTnef: refuse tolerated damage, so such messages stay unchanged. */
  readonly strict?: boolean;
  /** Limits for the MIME structure (default: 32 levels, 10,000 parts). */
  readonly mimeLimits?: MimeParseLimits;
}

export interface ConvertTnefResult {
  /** False when the message is returned as it came (no TNEF part, or one failed to decode). */
  readonly changed: boolean;
  readonly message: Uint8Array;
  /** Why parts were not converted or what was tolerated; each starts with a stable code. */
  readonly warnings: readonly string[];
  /** The TNEF parts found (converted or not). */
  readonly tnefParts: number;
}

/** Warnings after which the original TNEF is kept: the decode may have dropped something. */
const LOSSY = ['WARN_TNEF_CHECKSUM', 'WARN_RTF', 'WARN_TNEF_EMBEDDED'];

const TNEF_TYPES = new Set(['application/ms-tnef', 'application/vnd.ms-tnef']);

const encoder = new TextEncoder();

interface Candidate {
  readonly entity: MimeEntity;
  readonly parent: MimeEntity | undefined;
  readonly index: number;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly bytes: Uint8Array;
}

function fileNameOf(entity: MimeEntity): string | undefined {
  const disposition = headerValue(entity.headers, 'content-disposition');
  const fromDisposition = disposition === undefined ? undefined : parseParameterized(disposition).params.get('filename');
  return fromDisposition ?? entity.contentType.params.get('name');
}

function isAttachmentDisposition(entity: MimeEntity): boolean {
  const disposition = headerValue(entity.headers, 'content-disposition');
  return disposition !== undefined && parseParameterized(disposition).value === 'attachment';
}

function lineEnding(bytes: Uint8Array): '\r\n' | '\n' {
  const lf = bytes.indexOf(0x0a);
  return lf > 0 && bytes[lf - 1] === 0x0d ? '\r\n' : lf === -1 ? '\r\n' : '\n';
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function entityText(bytes: Uint8Array, entity: MimeEntity): string {
  const body = decodeTransferEncoding(bytes.subarray(entity.bodyStart, entity.end), headerValue(entity.headers, 'content-transfer-encoding'));
  const charset = normalizeCharset(entity.contentType.params.get('charset') ?? 'us-ascii') ?? 'windows-1252';
  return new TextDecoder(charset).decode(body);
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const piece of pieces) {
    out.set(piece, pos);
    pos += piece.length;
  }
  return out;
}

/** Finds TNEF candidates, not entering signed or encrypted parts. */
function findCandidates(root: MimeEntity, warnings: string[]): Candidate[] {
  const found: Candidate[] = [];
  const walk = (entity: MimeEntity, parent: MimeEntity | undefined, index: number, sealed: boolean): void => {
    const mediaType = entity.contentType.mediaType;
    const isCandidate = TNEF_TYPES.has(mediaType) || fileNameOf(entity)?.trim().toLowerCase() === 'winmail.dat';
    if (isCandidate) {
      if (sealed) {
        warnings.push(`WARN_TNEF_SIGNED: TNEF part at offset ${entity.start} is inside a signed or encrypted part and is left as it is`);
      } else {
        found.push({ entity, parent, index });
      }
      return;
    }
    const seal = sealed || mediaType === 'multipart/signed' || mediaType === 'multipart/encrypted';
    entity.children.forEach((child, i) => walk(child, entity, i, seal));
  };
  walk(root, undefined, 0, false);
  return found;
}

/**
 * Rewrites the TNEF parts of `rawEml` into MIME. Never throws: anything that goes wrong
 * returns the message unchanged with a warning.
 */
export function convertTnefInMessage(rawEml: Uint8Array, options: ConvertTnefOptions = {}): ConvertTnefResult {
  const warnings: string[] = [];
  try {
    return convert(rawEml, options, warnings);
  } catch (error) {
    // Not expected (decode errors are handled below); still, never lose the message.
    warnings.push(`WARN_TNEF_INTERNAL: ${(error as Error).message}`);
    return { changed: false, message: rawEml, warnings, tnefParts: 0 };
  }
}

function convert(raw: Uint8Array, options: ConvertTnefOptions, warnings: string[]): ConvertTnefResult {
  const root = parseMime(raw, options.mimeLimits);
  const candidates = findCandidates(root, warnings);
  const unchanged = (): ConvertTnefResult => ({ changed: false, message: raw, warnings, tnefParts: candidates.length });
  if (candidates.length === 0) return unchanged();

  const boundaries: string[] = [];
  const collect = (entity: MimeEntity): void => {
    if (entity.boundary !== undefined) boundaries.push(entity.boundary);
    entity.children.forEach(collect);
  };
  collect(root);
  const seed = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  const writer = new MimeWriter(lineEnding(raw), seed, boundaries);

  const decoded: Array<{ candidate: Candidate; tnef: Uint8Array; message: TnefMessage }> = [];
  for (const candidate of candidates) {
    const { entity } = candidate;
    const tnef = decodeTransferEncoding(raw.subarray(entity.bodyStart, entity.end), headerValue(entity.headers, 'content-transfer-encoding'));
    if (!TNEF_TYPES.has(entity.contentType.mediaType) && !isTnef(tnef)) {
      warnings.push(`WARN_TNEF_NOT_TNEF: part at offset ${entity.start} is named winmail.dat but is not TNEF; left as it is`);
      continue;
    }
    try {
      const decodeOptions = { ...(options.limits === undefined ? {} : { limits: options.limits }), ...(options.strict === undefined ? {} : { strict: options.strict }) };
      const message = decodeTnef(tnef, decodeOptions);
      for (const warning of message.warnings) warnings.push(`${warning} (TNEF part at offset ${entity.start})`);
      decoded.push({ candidate, tnef, message });
    } catch (error) {
      if (!(error instanceof TnefError)) throw error;
      warnings.push(`${error.code}: TNEF part at offset ${entity.start}: ${error.message}; message left unchanged`);
      return unchanged();
    }
  }

  const edits: Edit[] = [];
  const usedPlain = new Set<MimeEntity>();
  for (const { candidate, tnef, message } of decoded) {
    const { entity, parent } = candidate;
    const parts = tnefBodyAndAttachments(message, writer);
    if (parts.body === undefined && parts.attachments.length === 0) {
      warnings.push(`WARN_TNEF_EMPTY: TNEF part at offset ${entity.start} has no body and no attachment; left as it is`);
      continue;
    }
    const keep = options.keepOriginal === true || message.warnings.some((w) => LOSSY.some((code) => w.startsWith(code)));
    const mixed = parent?.contentType.mediaType === 'multipart/mixed' && parent.boundary !== undefined;

    // The plain text part Outlook puts before winmail.dat, if it is there.
    const first = mixed ? parent.children[0] : undefined;
    const plain =
      first !== undefined &&
      first !== entity &&
      !usedPlain.has(first) &&
      first.contentType.mediaType === 'text/plain' &&
      !isAttachmentDisposition(first)
        ? first
        : undefined;

    const nodes: MimeNode[] = [];
    if (parts.html !== undefined && plain !== undefined) {
      usedPlain.add(plain);
      const alternative: MimeNode = {
        kind: 'multipart',
        subtype: 'alternative',
        children: [{ kind: 'raw', bytes: raw.subarray(plain.start, plain.end) }, parts.html],
      };
      edits.push({ start: plain.start, end: plain.end, bytes: writer.bytes(alternative) });
    } else if (parts.body !== undefined) {
      const duplicate =
        parts.html === undefined &&
        plain !== undefined &&
        parts.text !== undefined &&
        collapse(entityText(raw, plain)) === collapse(parts.text);
      if (!duplicate) nodes.push(parts.body);
    }
    nodes.push(...parts.attachments);
    if (keep) {
      nodes.push(entity === root ? originalTnefNode(tnef, writer.eol) : { kind: 'raw', bytes: raw.subarray(entity.start, entity.end) });
    }
    if (nodes.length === 0) {
      // Everything went into the alternative with the plain part: drop P with its delimiter line.
      edits.push(removal(raw, parent as MimeEntity, entity));
    } else if (mixed) {
      edits.push({ start: entity.start, end: entity.end, bytes: writer.siblings(nodes, parent.boundary as string) });
    } else {
      const node: MimeNode = nodes.length === 1 ? (nodes[0] as MimeNode) : { kind: 'multipart', subtype: 'mixed', children: nodes };
      edits.push(entity === root ? rootReplacement(raw, root, writer, node) : { start: entity.start, end: entity.end, bytes: writer.bytes(node) });
    }
  }
  if (edits.length === 0) return unchanged();

  edits.sort((a, b) => a.start - b.start);
  const pieces: Uint8Array[] = [];
  let cursor = 0;
  for (const edit of edits) {
    pieces.push(raw.subarray(cursor, edit.start), edit.bytes);
    cursor = edit.end;
  }
  pieces.push(raw.subarray(cursor));
  return { changed: true, message: concat(pieces), warnings, tnefParts: candidates.length };
}

/** Removes part `entity` of a multipart: from the line break before its delimiter line to its end. */
function removal(raw: Uint8Array, parent: MimeEntity, entity: MimeEntity): Edit {
  // The delimiter line ends right at entity.start; it starts after the line break before it.
  let lineStart = entity.start - 1;
  while (lineStart > parent.bodyStart && raw[lineStart - 1] !== 0x0a) lineStart--;
  let start = lineStart;
  if (start > parent.bodyStart && raw[start - 1] === 0x0a) start--;
  if (start > parent.bodyStart && raw[start - 1] === 0x0d) start--;
  return { start, end: entity.end, bytes: new Uint8Array(0) };
}

const CONTENT_FIELDS = new Set(['content-type', 'content-transfer-encoding', 'content-disposition']);

/** The whole message was TNEF: its Content-* fields give way to the new part's, the rest stays. */
function rootReplacement(raw: Uint8Array, root: MimeEntity, writer: MimeWriter, node: MimeNode): Edit {
  const { head, body } = writer.entity(node);
  const pieces: Uint8Array[] = [];
  let cursor = root.start;
  let inserted = false;
  for (const header of root.headers) {
    pieces.push(raw.subarray(cursor, header.start));
    cursor = header.end;
    if (!CONTENT_FIELDS.has(header.name.toLowerCase())) {
      pieces.push(raw.subarray(header.start, header.end));
    } else if (!inserted) {
      pieces.push(encoder.encode(head));
      inserted = true;
    }
  }
  // A candidate root always has one of those fields (its type or its file name told us),
  // and a body (it decoded), so the new head went in and the blank line is there.
  pieces.push(raw.subarray(cursor, root.bodyStart), body);
  return { start: root.start, end: root.end, bytes: concat(pieces) };
}
