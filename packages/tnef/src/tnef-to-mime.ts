/**
 * TnefMessage → MIME parts: the body as text/plain and/or text/html (multipart/alternative),
 * inline images the HTML refers to by cid: beside it in multipart/related (RFC 2387), every
 * other attachment as an ordinary base64 part, embedded messages as message/rfc822
 * (RFC 2046 §5.2.1) built the same way.
 *
 * Attachment parts carry Content-Type from PR_ATTACH_MIME_TAG or the extension, with a
 * `name` parameter (RFC 2047 words when not ASCII: not standard there, but what most
 * clients read), and Content-Disposition with the file name (RFC 2231 when not ASCII or
 * long, RFC 2183 dates and size). File names are sanitised (no paths, no controls).
 */
import {
  encodeBase64Lines,
  encodeParameter,
  encodeQuotedPrintable,
  encodeWords,
  formatHeader,
  quoteString,
} from './mime-encoding.ts';
import { MimeWriter, type MimeLeaf, type MimeNode } from './mime-builder.ts';
import { safeFileName } from './file-names.ts';
import type { TnefAddress, TnefAttachment, TnefMessage } from './tnef-message.ts';

const encoder = new TextEncoder();

export interface TnefMimeBody {
  /** The body node: text/plain, text/html, multipart/alternative or multipart/related; none when the message has no body. */
  readonly body?: MimeNode;
  /** The HTML part alone (with its related images), to pair with a plain text part found elsewhere. */
  readonly html?: MimeNode;
  /** The plain text the body node carries, if any. */
  readonly text?: string;
  /** Attachments as parts (related images excluded). */
  readonly attachments: readonly MimeNode[];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An RFC 5322 §3.3 date-time in UTC. */
export function formatRfc5322Date(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

function validDate(date: Date | undefined): date is Date {
  return date !== undefined && !Number.isNaN(date.getTime()) && date.getUTCFullYear() >= 1900 && date.getUTCFullYear() <= 9999;
}

/** HTML text to bytes in UTF-8, with `<meta … charset=…>` declarations saying so. */
function htmlAsUtf8(html: string): Uint8Array {
  const fixed = html.replace(/(<meta\b[^>]*?\bcharset\s*=\s*["']?)([\w.:-]+)/gi, '$1utf-8');
  return encoder.encode(fixed);
}

function textLeaf(mediaType: string, charset: string, bytes: Uint8Array, eol: string): MimeLeaf {
  return {
    kind: 'leaf',
    fields: [
      ['Content-Type', [mediaType, ...encodeParameter('charset', charset)]],
      ['Content-Transfer-Encoding', ['quoted-printable']],
    ],
    body: encodeQuotedPrintable(bytes, eol),
  };
}

/** The parameters naming a file: Content-Type `name`, Content-Disposition `filename` and dates. */
function dispositionTokens(kind: 'attachment' | 'inline', attachment: TnefAttachment, fileName: string): string[] {
  const tokens = [kind, ...encodeParameter('filename', fileName)];
  if (validDate(attachment.created)) tokens.push(`creation-date=${quoteString(formatRfc5322Date(attachment.created))}`);
  if (validDate(attachment.modified)) tokens.push(`modification-date=${quoteString(formatRfc5322Date(attachment.modified))}`);
  if (attachment.kind === 'file') tokens.push(`size=${attachment.data.length}`);
  return tokens;
}

function nameToken(fileName: string): string {
  const encoded = encodeWords(fileName);
  return `name=${quoteString(encoded)}`;
}

function fileNameOf(attachment: TnefAttachment, index: number): string {
  const fallback = attachment.kind === 'message' ? `message-${index}.eml` : `attachment-${index}.dat`;
  const name = safeFileName(attachment.fileName, fallback);
  return attachment.kind === 'message' && !/\.(eml|msg)$/i.test(name) ? `${name}.eml` : name;
}

function attachmentNode(attachment: TnefAttachment, index: number, writer: MimeWriter, inline: boolean, depth: number): MimeNode {
  const fileName = fileNameOf(attachment, index);
  const fields: Array<readonly [string, readonly string[]]> = [];
  if (attachment.kind === 'message') {
    const eml = messageToRfc822(attachment.embedded, writer, depth + 1);
    fields.push(['Content-Type', ['message/rfc822', nameToken(fileName)]]);
    fields.push(['Content-Disposition', dispositionTokens('attachment', attachment, fileName)]);
    // The generated message is 7-bit; RFC 2046 §5.2.1 allows no other encoding than 7bit/8bit/binary.
    fields.push(['Content-Transfer-Encoding', ['7bit']]);
    return { kind: 'leaf', fields, body: new TextDecoder('latin1').decode(eml) };
  }
  fields.push(['Content-Type', [attachment.mimeType, nameToken(fileName)]]);
  fields.push(['Content-Disposition', dispositionTokens(inline ? 'inline' : 'attachment', attachment, fileName)]);
  if (attachment.contentId !== undefined && /^[\x21-\x7e]+$/.test(attachment.contentId)) {
    fields.push(['Content-ID', [`<${attachment.contentId.replace(/[<>]/g, '')}>`]]);
  }
  if (attachment.contentLocation !== undefined && /^[\x21-\x7e]+$/.test(attachment.contentLocation)) {
    fields.push(['Content-Location', [attachment.contentLocation]]);
  }
  fields.push(['Content-Transfer-Encoding', ['base64']]);
  return { kind: 'leaf', fields, body: encodeBase64Lines(attachment.data, writer.eol) };
}

/** True when the HTML refers to the attachment's Content-ID (`cid:` URL, RFC 2392). */
function referencedByHtml(html: string | undefined, attachment: TnefAttachment): boolean {
  if (html === undefined || attachment.contentId === undefined || attachment.kind !== 'file') return false;
  return html.toLowerCase().includes(`cid:${attachment.contentId.toLowerCase()}`);
}

/** The body and attachment parts for a decoded TNEF message. */
export function tnefBodyAndAttachments(message: TnefMessage, writer: MimeWriter, depth = 0): TnefMimeBody {
  const { body: tnefBody } = message;
  const related = message.attachments.filter((a) => referencedByHtml(tnefBody.html, a));
  let html: MimeNode | undefined;
  if (tnefBody.html !== undefined) {
    html =
      tnefBody.htmlBytes !== undefined && tnefBody.htmlCharset !== undefined
        ? textLeaf('text/html', tnefBody.htmlCharset, tnefBody.htmlBytes, writer.eol)
        : textLeaf('text/html', 'utf-8', htmlAsUtf8(tnefBody.html), writer.eol);
    if (related.length > 0) {
      html = {
        kind: 'multipart',
        subtype: 'related',
        params: ['type="text/html"'],
        children: [html, ...related.map((a) => attachmentNode(a, message.attachments.indexOf(a) + 1, writer, true, depth))],
      };
    }
  }
  const text = tnefBody.text !== undefined ? textLeaf('text/plain', 'utf-8', encoder.encode(tnefBody.text), writer.eol) : undefined;
  let body: MimeNode | undefined;
  if (html !== undefined && text !== undefined) {
    body = { kind: 'multipart', subtype: 'alternative', children: [text, html] };
  } else {
    body = html ?? text;
  }
  const attachments = message.attachments
    .filter((a) => !related.includes(a))
    .map((a) => attachmentNode(a, message.attachments.indexOf(a) + 1, writer, false, depth));
  return {
    ...(body === undefined ? {} : { body }),
    ...(html === undefined ? {} : { html }),
    ...(tnefBody.text === undefined ? {} : { text: tnefBody.text }),
    attachments,
  };
}

function formatAddress(address: TnefAddress): string | undefined {
  const email = address.address !== undefined && /^[^\s@<>()",;:]+@[^\s@<>()",;:]+$/.test(address.address) ? address.address : undefined;
  const name = address.name === undefined ? undefined : /^[\x20-\x7e]*$/.test(address.name) ? quoteString(address.name) : encodeWords(address.name);
  if (email === undefined) return name === undefined ? undefined : `${name}:;`;
  return name === undefined ? email : `${name} <${email}>`;
}

/**
 * A whole RFC 5322 message for a decoded TNEF message (an embedded one, or a winmail.dat
 * on its own): From, To, Cc, Subject, Date and Message-ID from its properties, the
 * message class in X-MS-Message-Class, the body and attachments as MIME.
 */
export function messageToRfc822(message: TnefMessage, writer: MimeWriter, depth = 0): Uint8Array {
  const fields: Array<readonly [string, readonly string[]]> = [];
  const from = message.from === undefined ? undefined : formatAddress(message.from);
  if (from !== undefined) fields.push(['From', [from]]);
  for (const [type, name] of [
    [1, 'To'],
    [2, 'Cc'],
  ] as const) {
    const list = message.recipients.filter((r) => (r.type ?? 1) === type).map(formatAddress).filter((a) => a !== undefined && !a.endsWith(':;'));
    if (list.length > 0) fields.push([name, [list.join(', ')]]);
  }
  if (message.subject !== undefined) fields.push(['Subject', [encodeWords(message.subject)]]);
  const date = [message.sent, message.received, message.modified].find(validDate);
  if (date !== undefined) fields.push(['Date', [formatRfc5322Date(date)]]);
  if (message.messageId !== undefined && /^<[\x21-\x7e]+>$/.test(message.messageId)) fields.push(['Message-ID', [message.messageId]]);
  if (message.messageClass !== undefined && /^[\x20-\x7e]+$/.test(message.messageClass)) {
    fields.push(['X-MS-Message-Class', [message.messageClass]]);
  }
  fields.push(['MIME-Version', ['1.0']]);
  const { body, attachments } = tnefBodyAndAttachments(message, writer, depth);
  const parts = [...(body === undefined ? [] : [body]), ...attachments];
  const content: MimeNode =
    parts.length === 0
      ? textLeaf('text/plain', 'utf-8', new Uint8Array(0), writer.eol)
      : parts.length === 1
        ? (parts[0] as MimeNode)
        : { kind: 'multipart', subtype: 'mixed', children: parts };
  const { head, body: bytes } = writer.entity(content);
  const top = fields.map(([name, tokens]) => formatHeader(name, tokens, writer.eol)).join('');
  return concat([encoder.encode(top + head + writer.eol), bytes]);
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

export interface TnefToMimeOptions {
  /** Add the original winmail.dat as a last part (application/ms-tnef, base64). */
  readonly keepOriginal?: boolean;
  /** The original TNEF bytes, for keepOriginal. */
  readonly original?: Uint8Array;
  /** Line ending of the generated parts (default CRLF). */
  readonly eol?: '\r\n' | '\n';
}

export interface MimePart {
  /** The part's media type. */
  readonly contentType: string;
  /** The whole entity: header fields, blank line, body. */
  readonly bytes: Uint8Array;
}

/** The MIME parts for a decoded TNEF message: body part (if any), then attachments, then the original. */
export function tnefToMime(message: TnefMessage, options: TnefToMimeOptions = {}): { parts: MimePart[] } {
  const writer = new MimeWriter(options.eol ?? '\r\n', 'standalone');
  const { body, attachments } = tnefBodyAndAttachments(message, writer);
  const nodes = [...(body === undefined ? [] : [body]), ...attachments];
  if (options.keepOriginal === true && options.original !== undefined) nodes.push(originalTnefNode(options.original, writer.eol));
  return {
    parts: nodes.map((node) => ({ contentType: mediaTypeOf(node), bytes: writer.bytes(node) })),
  };
}

/** The original TNEF as an attachment part named winmail.dat. */
export function originalTnefNode(original: Uint8Array, eol: string): MimeLeaf {
  return {
    kind: 'leaf',
    fields: [
      ['Content-Type', ['application/ms-tnef', 'name="winmail.dat"']],
      ['Content-Disposition', ['attachment', 'filename="winmail.dat"']],
      ['Content-Transfer-Encoding', ['base64']],
    ],
    body: encodeBase64Lines(original, eol),
  };
}

/** The media type of a generated node (leaves always start with their Content-Type). */
function mediaTypeOf(node: MimeNode): string {
  return node.kind === 'multipart' ? `multipart/${node.subtype}` : ((node as MimeLeaf).fields[0]?.[1][0] as string);
}

/** A decoded TNEF message as a whole RFC 5322 message (for a winmail.dat on its own). */
export function tnefToEml(message: TnefMessage, options: { readonly eol?: '\r\n' | '\n' } = {}): Uint8Array {
  return messageToRfc822(message, new MimeWriter(options.eol ?? '\r\n', 'standalone'));
}
