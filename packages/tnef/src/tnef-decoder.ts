/**
 * decodeTnef: a TNEF stream (application/ms-tnef, winmail.dat) → TnefMessage.
 *
 * MS-OXTNEF §2.1.3: a signature, a 16-bit key, then attributes, each a level (message or
 * attachment), a 32-bit id, a length, the data and a 16-bit checksum (the sum of the data
 * bytes). attAttachRendData starts an attachment and the attachment-level attributes that
 * follow describe it. The content of a message lives in two places at once: in TNEF
 * attributes (attSubject, attBody, attAttachData, the 8.3 attAttachTitle…) and in MAPI
 * properties carried by attMsgProps and attAttachment (PR_BODY_HTML, PR_RTF_COMPRESSED,
 * PR_ATTACH_LONG_FILENAME, PR_ATTACH_DATA_BIN/OBJ…); the decoder reads both and prefers
 * the richer one (see TnefMessage for the order of each field).
 *
 * Tolerated, because real writers do it (each noted in `warnings`): attribute checksums
 * that do not match (IPM-DistList.tnef; `strict` refuses them), a few bytes after the last
 * attribute (garbage-at-end.tnef), attachment attributes before any attAttachRendData or
 * with zero type bits (minimal_attachment.tnef), attachment data before its name, an RTF
 * body that does not decompress (the body then comes from the other properties), an
 * embedded message whose stream is broken (kept as a file). Everything else that does
 * not fit throws TnefError, before anything is allocated for the claimed size.
 */
import { ByteReader } from './byte-reader.ts';
import { codePageLabel, normalizeCharset } from './code-pages.ts';
import { decompressRtf } from './compressed-rtf.ts';
import { DEFAULT_TNEF_LIMITS, type TnefLimits } from './limits.ts';
import {
  decodeString8Values,
  decodeString8z,
  getBytes,
  getDate,
  getNumber,
  getProperty,
  getString,
  parsePropertyList,
  rawString8,
  rawNumber,
  type MapiProperty,
  type PropertyBudget,
  type RawProperty,
} from './mapi-properties.ts';
import { mimeTypeForFileName, validMimeType } from './mime-types.ts';
import { readRtfBody } from './rtf-reader.ts';
import {
  AttachMethod,
  Attribute,
  AttributeLevel,
  IID_IMESSAGE,
  PropertyId,
  TNEF_SIGNATURE,
} from './tnef-constants.ts';
import { TnefError, TnefErrorCode } from './tnef-error.ts';
import type {
  TnefAddress,
  TnefAttachment,
  TnefBody,
  TnefMessage,
  TnefRecipient,
} from './tnef-message.ts';

export interface DecodeTnefOptions {
  /** Limits (each defaults to DEFAULT_TNEF_LIMITS). */
  readonly limits?: Partial<TnefLimits>;
  /**
   * Refuse what is otherwise tolerated with a warning: attribute checksum mismatches
   * (ERR_TNEF_CHECKSUM) and RTF bodies that do not decompress (ERR_RTF_*). Default false.
   */
  readonly strict?: boolean;
}

/** Level + id + length + checksum: the smallest attribute is 11 bytes. */
const MIN_ATTRIBUTE_BYTES = 11;

interface DecodeContext {
  readonly limits: TnefLimits;
  readonly strict: boolean;
  readonly properties: PropertyBudget;
  attachmentsLeft: number;
  decompressedLeft: number;
}

interface AttachmentDraft {
  title?: Uint8Array;
  data?: Uint8Array;
  created?: Date | undefined;
  modified?: Date | undefined;
  properties: RawProperty[];
}

interface MessageDraft {
  subject?: Uint8Array;
  messageClass?: Uint8Array;
  body?: Uint8Array;
  from?: Uint8Array;
  sent?: Date | undefined;
  received?: Date | undefined;
  modified?: Date | undefined;
  oemCodePage?: number;
  properties: RawProperty[];
  recipientRows: RawProperty[][];
  attachments: AttachmentDraft[];
  warnings: string[];
}

/**
 * Decodes a TNEF stream. Throws TnefError (ERR_TNEF_SIGNATURE, ERR_TNEF_TRUNCATED,
 * ERR_TNEF_FORMAT, ERR_TNEF_LIMIT; with `strict` also ERR_TNEF_CHECKSUM, ERR_RTF_*) and
 * nothing else. Attachment data are views of `bytes`.
 */
export function decodeTnef(bytes: Uint8Array, options: DecodeTnefOptions = {}): TnefMessage {
  const limits: TnefLimits = { ...DEFAULT_TNEF_LIMITS, ...options.limits };
  if (bytes.length > limits.maxInputBytes) {
    throw new TnefError(TnefErrorCode.LIMIT, `TNEF stream of ${bytes.length} bytes is over the limit of ${limits.maxInputBytes}`);
  }
  const context: DecodeContext = {
    limits,
    strict: options.strict ?? false,
    properties: { properties: limits.maxProperties, maxValuesPerProperty: limits.maxValuesPerProperty },
    attachmentsLeft: limits.maxAttachments,
    decompressedLeft: limits.maxDecompressedBytes,
  };
  return decodeStream(bytes, context, 0);
}

/** True when `bytes` starts with the TNEF signature. */
export function isTnef(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === TNEF_SIGNATURE;
}

function decodeStream(bytes: Uint8Array, context: DecodeContext, depth: number): TnefMessage {
  if (!isTnef(bytes)) {
    const signatureSoFar = bytes.length < 4 && Buffer.from(Uint32Array.of(TNEF_SIGNATURE).buffer).subarray(0, bytes.length).equals(bytes);
    throw signatureSoFar
      ? new TnefError(TnefErrorCode.TRUNCATED, `TNEF stream of ${bytes.length} bytes ends inside the signature`)
      : new TnefError(TnefErrorCode.SIGNATURE, 'not a TNEF stream (no 0x223E9F78 signature)');
  }
  const reader = new ByteReader(bytes, 'TNEF');
  reader.u32('signature');
  const key = reader.u16('key');
  const draft: MessageDraft = { properties: [], recipientRows: [], attachments: [], warnings: [] };
  let attributes = 0;
  while (reader.remaining > 0) {
    const start = reader.pos;
    if (reader.remaining < MIN_ATTRIBUTE_BYTES && attributes > 0) {
      draft.warnings.push(`WARN_TNEF_TRAILING: ${reader.remaining} bytes after the last attribute at offset ${start}`);
      break;
    }
    const level = reader.u8('attribute level');
    if (level !== AttributeLevel.MESSAGE && level !== AttributeLevel.ATTACHMENT) {
      if (attributes === 0) {
        throw new TnefError(TnefErrorCode.FORMAT, `attribute level 0x${level.toString(16)} at offset ${start}`);
      }
      // Each attribute before it was whole and checked: what follows is not an attribute.
      draft.warnings.push(`WARN_TNEF_TRAILING: ${reader.end - start} bytes that are not an attribute at offset ${start}`);
      break;
    }
    const id = reader.u32('attribute id');
    const length = reader.u32('attribute length');
    const data = reader.take(length, `attribute 0x${id.toString(16)} data`);
    const checksum = reader.u16('attribute checksum');
    if (++attributes > context.limits.maxAttributes) {
      throw new TnefError(TnefErrorCode.LIMIT, `more than ${context.limits.maxAttributes} attributes`);
    }
    let sum = 0;
    for (const byte of data) sum += byte;
    if ((sum & 0xffff) !== checksum) {
      const detail = `attribute 0x${id.toString(16).padStart(8, '0')} at offset ${start}: checksum 0x${checksum.toString(16)}, data sums to 0x${(sum & 0xffff).toString(16)}`;
      if (context.strict) throw new TnefError(TnefErrorCode.CHECKSUM, detail);
      draft.warnings.push(`WARN_TNEF_CHECKSUM: ${detail}`);
    }
    if (level === AttributeLevel.MESSAGE) {
      messageAttribute(draft, id, data, context);
    } else {
      attachmentAttribute(draft, id, data, context);
    }
  }
  if (attributes === 0) {
    throw new TnefError(TnefErrorCode.TRUNCATED, 'TNEF stream without a single attribute');
  }
  return finishMessage(draft, key, context, depth);
}

/** atpDate (MS-OXTNEF §2.1.3.3.5): seven 16-bit fields, taken as UTC; invalid → undefined. */
function readDate(data: Uint8Array): Date | undefined {
  if (data.length < 12) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const field = (i: number): number => view.getUint16(i * 2, true);
  const [year, month, day, hour, minute, second] = [field(0), field(1), field(2), field(3), field(4), field(5)];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

function messageAttribute(draft: MessageDraft, id: number, data: Uint8Array, context: DecodeContext): void {
  switch (id) {
    case Attribute.SUBJECT:
      draft.subject = data;
      return;
    case Attribute.MESSAGE_CLASS:
      draft.messageClass = data;
      return;
    case Attribute.BODY:
      draft.body = data;
      return;
    case Attribute.FROM:
      draft.from = data;
      return;
    case Attribute.DATE_SENT:
      draft.sent = readDate(data);
      return;
    case Attribute.DATE_RECEIVED:
      draft.received = readDate(data);
      return;
    case Attribute.DATE_MODIFIED:
      draft.modified = readDate(data);
      return;
    case Attribute.OEM_CODEPAGE:
      if (data.length >= 4) draft.oemCodePage = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
      return;
    case Attribute.MAPI_PROPS:
      draft.properties.push(...parsePropertyList(new ByteReader(data, 'attMsgProps'), context.properties));
      return;
    case Attribute.RECIPIENT_TABLE: {
      const reader = new ByteReader(data, 'attRecipTable');
      const rows = reader.u32('recipient count');
      reader.need(rows * 4, `${rows} recipient rows`);
      for (let i = 0; i < rows; i++) draft.recipientRows.push(parsePropertyList(reader, context.properties));
      return;
    }
    default:
      return;
  }
}

function attachmentAttribute(draft: MessageDraft, id: number, data: Uint8Array, context: DecodeContext): void {
  // Hand-made streams set the atp type bits to zero: the low 16 bits name the attribute.
  const attribute = id & 0xffff;
  let current = draft.attachments.at(-1);
  if (attribute === (Attribute.ATTACH_REND_DATA & 0xffff) || current === undefined) {
    if (--context.attachmentsLeft < 0) {
      throw new TnefError(TnefErrorCode.LIMIT, `more than ${context.limits.maxAttachments} attachments`);
    }
    current = { properties: [] };
    draft.attachments.push(current);
  }
  switch (attribute) {
    case Attribute.ATTACH_DATA & 0xffff:
      current.data = data;
      return;
    case Attribute.ATTACH_TITLE & 0xffff:
      current.title = data;
      return;
    case Attribute.ATTACH_CREATE_DATE & 0xffff:
      current.created = readDate(data);
      return;
    case Attribute.ATTACH_MODIFY_DATE & 0xffff:
      current.modified = readDate(data);
      return;
    case Attribute.ATTACHMENT & 0xffff:
      current.properties.push(...parsePropertyList(new ByteReader(data, 'attAttachment'), context.properties));
      return;
    default:
      return;
  }
}

/** The text of an attribute string (NUL-terminated, in the OEM code page), blank → undefined. */
function attributeString(bytes: Uint8Array | undefined, codePage: number): string | undefined {
  if (bytes === undefined) return undefined;
  const text = decodeString8z(bytes, codePage).trim();
  return text === '' ? undefined : text;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** attFrom: a TRP triple (MS-OXTNEF §2.1.3.3.2) — type, sizes, then name and address. */
function readTriple(bytes: Uint8Array, codePage: number): TnefAddress | undefined {
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nameLength = view.getUint16(4, true);
  const addressLength = view.getUint16(6, true);
  if (8 + nameLength + addressLength > bytes.length) return undefined;
  const name = attributeString(bytes.subarray(8, 8 + nameLength), codePage);
  const raw = attributeString(bytes.subarray(8 + nameLength, 8 + nameLength + addressLength), codePage);
  const address = raw?.replace(/^SMTP:/i, '');
  if (name === undefined && address === undefined) return undefined;
  return { ...(name === undefined ? {} : { name }), ...(address === undefined ? {} : { address }) };
}

function addressFrom(name: string | undefined, address: string | undefined): TnefAddress | undefined {
  const n = nonEmpty(name);
  const a = nonEmpty(address);
  if (n === undefined && a === undefined) return undefined;
  return { ...(n === undefined ? {} : { name: n }), ...(a === undefined ? {} : { address: a }) };
}

function sniffHtmlCharset(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 2048));
  const match = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head);
  return match?.[1] === undefined ? undefined : normalizeCharset(match[1]);
}

function finishMessage(draft: MessageDraft, key: number, context: DecodeContext, depth: number): TnefMessage {
  const oemCodePage = draft.oemCodePage !== undefined && draft.oemCodePage > 0 ? draft.oemCodePage : undefined;
  const codePage = rawNumber(draft.properties, PropertyId.MESSAGE_CODEPAGE) ?? oemCodePage ?? 1252;
  const attributeCodePage = oemCodePage ?? codePage;
  const properties = decodeString8Values(draft.properties, codePage);
  const warnings = draft.warnings;

  const body = finishBody(draft, properties, codePage, attributeCodePage, context, warnings);
  const attachments: TnefAttachment[] = [];
  for (const attachment of draft.attachments) {
    attachments.push(finishAttachment(attachment, attachments.length + 1, codePage, attributeCodePage, context, depth, warnings));
  }

  const recipients: TnefRecipient[] = [];
  for (const row of draft.recipientRows) {
    const props = decodeString8Values(row, codePage);
    const address = addressFrom(
      getString(props, PropertyId.DISPLAY_NAME),
      getString(props, PropertyId.SMTP_ADDRESS) ?? getString(props, PropertyId.EMAIL_ADDRESS),
    );
    const type = getNumber(props, PropertyId.RECIPIENT_TYPE);
    if (address !== undefined) recipients.push(type === undefined ? address : { ...address, type });
  }

  const normalized = nonEmpty(getString(properties, PropertyId.NORMALIZED_SUBJECT));
  const subject =
    nonEmpty(getString(properties, PropertyId.SUBJECT)) ??
    attributeString(draft.subject, attributeCodePage) ??
    (normalized === undefined ? undefined : (getString(properties, PropertyId.SUBJECT_PREFIX) ?? '') + normalized) ??
    nonEmpty(getString(properties, PropertyId.CONVERSATION_TOPIC));
  const messageClass =
    attributeString(draft.messageClass, attributeCodePage) ?? nonEmpty(getString(properties, PropertyId.MESSAGE_CLASS));
  const from =
    addressFrom(
      getString(properties, PropertyId.SENT_REPRESENTING_NAME) ?? getString(properties, PropertyId.SENDER_NAME),
      getString(properties, PropertyId.SENT_REPRESENTING_SMTP_ADDRESS) ??
        getString(properties, PropertyId.SENDER_SMTP_ADDRESS) ??
        getString(properties, PropertyId.SENT_REPRESENTING_EMAIL_ADDRESS) ??
        getString(properties, PropertyId.SENDER_EMAIL_ADDRESS),
    ) ?? (draft.from === undefined ? undefined : readTriple(draft.from, attributeCodePage));
  const sent = getDate(properties, PropertyId.CLIENT_SUBMIT_TIME) ?? draft.sent;
  const received = getDate(properties, PropertyId.MESSAGE_DELIVERY_TIME) ?? draft.received;
  const modified = getDate(properties, PropertyId.LAST_MODIFICATION_TIME) ?? draft.modified;
  const messageId = nonEmpty(getString(properties, PropertyId.INTERNET_MESSAGE_ID));

  return {
    key,
    ...(messageClass === undefined ? {} : { messageClass }),
    ...(subject === undefined ? {} : { subject }),
    ...(from === undefined ? {} : { from }),
    recipients,
    ...(sent === undefined ? {} : { sent }),
    ...(received === undefined ? {} : { received }),
    ...(modified === undefined ? {} : { modified }),
    ...(messageId === undefined ? {} : { messageId }),
    codePage,
    body,
    attachments,
    properties,
    warnings,
  };
}

function finishBody(
  draft: MessageDraft,
  properties: readonly MapiProperty[],
  codePage: number,
  attributeCodePage: number,
  context: DecodeContext,
  warnings: string[],
): TnefBody {
  let text: string | undefined;
  let textSource: TnefBody['textSource'];
  let html: string | undefined;
  let htmlSource: TnefBody['htmlSource'];
  let htmlBytes: Uint8Array | undefined;
  let htmlCharset: string | undefined;
  let rtf: Uint8Array | undefined;

  const plain = getString(properties, PropertyId.BODY) ?? (draft.body === undefined ? undefined : decodeString8z(draft.body, attributeCodePage));
  if (plain !== undefined && plain !== '') {
    text = plain;
    textSource = 'body';
  }

  const htmlValue = getProperty(properties, PropertyId.BODY_HTML);
  if (typeof htmlValue === 'string') {
    // PT_UNICODE HTML is text already; PT_STRING8 HTML is in PR_INTERNET_CPID, not the message code page.
    const raw = rawString8(draft.properties, PropertyId.BODY_HTML);
    if (raw === undefined) {
      html = htmlValue;
    } else {
      htmlBytes = raw.indexOf(0) === -1 ? raw : raw.subarray(0, raw.indexOf(0));
    }
  } else if (htmlValue instanceof Uint8Array) {
    htmlBytes = htmlValue;
  }
  if (htmlBytes !== undefined) {
    const cpid = getNumber(properties, PropertyId.INTERNET_CPID);
    htmlCharset =
      (cpid === undefined ? undefined : codePageLabel(cpid)) ?? sniffHtmlCharset(htmlBytes) ?? codePageLabel(codePage) ?? 'windows-1252';
    html = new TextDecoder(htmlCharset).decode(htmlBytes);
  }
  if (html !== undefined) htmlSource = 'body-html';

  const compressed = getBytes(properties, PropertyId.RTF_COMPRESSED);
  if (compressed !== undefined) {
    try {
      rtf = decompressRtf(compressed, { maxOutputBytes: context.decompressedLeft });
      context.decompressedLeft -= rtf.length;
    } catch (error) {
      const code = (error as TnefError).code;
      if (context.strict || code === TnefErrorCode.LIMIT) throw error;
      warnings.push(`WARN_RTF: ${code}: ${(error as Error).message}`);
    }
  }
  if (rtf !== undefined && (html === undefined || text === undefined)) {
    const fromRtf = readRtfBody(rtf);
    if (fromRtf.kind === 'html' && html === undefined) {
      html = fromRtf.content;
      htmlSource = 'rtf-fromhtml';
    } else if (fromRtf.kind === 'text' && text === undefined) {
      text = fromRtf.content;
      textSource = 'rtf-fromtext';
    } else if (fromRtf.kind === 'rtf' && text === undefined && html === undefined && fromRtf.content.trim() !== '') {
      text = fromRtf.content;
      textSource = 'rtf';
    }
  }
  const preview = nonEmpty(getString(properties, PropertyId.PREVIEW));
  return {
    ...(text === undefined || textSource === undefined ? {} : { text, textSource }),
    ...(html === undefined || htmlSource === undefined ? {} : { html, htmlSource }),
    ...(htmlBytes === undefined || htmlCharset === undefined ? {} : { htmlBytes, htmlCharset }),
    ...(preview === undefined ? {} : { preview }),
    ...(rtf === undefined ? {} : { rtf }),
  };
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}

function finishAttachment(
  draft: AttachmentDraft,
  index: number,
  codePage: number,
  attributeCodePage: number,
  context: DecodeContext,
  depth: number,
  warnings: string[],
): TnefAttachment {
  const properties = decodeString8Values(draft.properties, codePage);
  const method = getNumber(properties, PropertyId.ATTACH_METHOD) ?? AttachMethod.BY_VALUE;
  const title = attributeString(draft.title, attributeCodePage);
  const dataProperty = getBytes(properties, PropertyId.ATTACH_DATA);

  let embedded: TnefMessage | undefined;
  let embeddedStream: Uint8Array | undefined;
  if (method === AttachMethod.EMBEDDED_MESSAGE && dataProperty !== undefined) {
    // PR_ATTACH_DATA_OBJ: the 16-byte IID_IMessage, then the embedded message as TNEF.
    const stream = startsWith(dataProperty, IID_IMESSAGE) ? dataProperty.subarray(16) : dataProperty;
    if (depth + 1 > context.limits.maxNestingDepth) {
      throw new TnefError(TnefErrorCode.LIMIT, `embedded messages nested deeper than ${context.limits.maxNestingDepth}`);
    }
    try {
      embedded = decodeStream(stream, context, depth + 1);
      embeddedStream = stream;
    } catch (error) {
      if (context.strict || (error as TnefError).code === TnefErrorCode.LIMIT) throw error;
      warnings.push(`WARN_TNEF_EMBEDDED: attachment ${index}: ${(error as TnefError).code}: ${(error as Error).message}`);
    }
  }

  const longName = nonEmpty(getString(properties, PropertyId.ATTACH_LONG_FILENAME));
  const displayName = nonEmpty(getString(properties, PropertyId.DISPLAY_NAME));
  // An embedded message's title is a placeholder ("Untitled Attachment"); its display name is the subject.
  const fileName =
    embedded === undefined
      ? (longName ?? title ?? nonEmpty(getString(properties, PropertyId.ATTACH_FILENAME)) ?? displayName ?? `attachment-${index}.dat`)
      : (longName ?? displayName ?? embedded.subject ?? title ?? `attachment-${index}.eml`);
  const contentId = nonEmpty(getString(properties, PropertyId.ATTACH_CONTENT_ID)?.replace(/^\s*<|>\s*$/g, ''));
  const contentLocation = nonEmpty(getString(properties, PropertyId.ATTACH_CONTENT_LOCATION));
  const created = getDate(properties, PropertyId.CREATION_TIME) ?? draft.created;
  const modified = getDate(properties, PropertyId.LAST_MODIFICATION_TIME) ?? draft.modified;
  const common = {
    fileName,
    ...(title === undefined ? {} : { title }),
    ...(contentId === undefined ? {} : { contentId }),
    ...(contentLocation === undefined ? {} : { contentLocation }),
    ...(created === undefined ? {} : { created }),
    ...(modified === undefined ? {} : { modified }),
    method,
    hidden: getProperty(properties, PropertyId.ATTACH_HIDDEN) === true,
    properties,
  };
  if (embedded !== undefined && embeddedStream !== undefined) {
    return { kind: 'message', ...common, mimeType: 'message/rfc822', embedded, data: embeddedStream };
  }
  const mimeType = validMimeType(getString(properties, PropertyId.ATTACH_MIME_TAG)) ?? mimeTypeForFileName(fileName);
  return { kind: 'file', ...common, mimeType, data: draft.data ?? dataProperty ?? new Uint8Array(0) };
}
