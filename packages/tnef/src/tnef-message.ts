/**
 * The decoded form of a TNEF stream: what decodeTnef returns and tnefToMime consumes.
 */
import type { MapiProperty } from './mapi-properties.ts';

export interface TnefBody {
  /** Plain text: PR_BODY or attBody, else `\fromtext` RTF, else native RTF rendered. */
  readonly text?: string;
  readonly textSource?: 'body' | 'rtf-fromtext' | 'rtf';
  /** HTML: PR_BODY_HTML decoded, else `\fromhtml1` RTF de-encapsulated. */
  readonly html?: string;
  readonly htmlSource?: 'body-html' | 'rtf-fromhtml';
  /**
   * PR_BODY_HTML as stored, with the charset its bytes are in (PR_INTERNET_CPID, else a
   * `<meta charset>`, else the message code page), so the HTML can be passed on
   * byte-exact under its own charset instead of re-encoded.
   */
  readonly htmlBytes?: Uint8Array;
  readonly htmlCharset?: string;
  /** PR_PREVIEW: the first characters of the body as Outlook shows them in a list (not a body). */
  readonly preview?: string;
  /** The decompressed PR_RTF_COMPRESSED body (trimmed to its RAWSIZE). */
  readonly rtf?: Uint8Array;
}

export interface TnefAddress {
  readonly name?: string;
  /** An SMTP address when the stream has one, else whatever address it has (EX:, X.500). */
  readonly address?: string;
}

export interface TnefRecipient extends TnefAddress {
  /** PR_RECIPIENT_TYPE: 1 To, 2 Cc, 3 Bcc. */
  readonly type?: number;
}

interface TnefAttachmentBase {
  /**
   * The name to show: PR_ATTACH_LONG_FILENAME, else attAttachTitle, else
   * PR_ATTACH_FILENAME, else PR_DISPLAY_NAME, else the embedded message's subject,
   * else `attachment-N.dat`. As stored: sanitise it (safeFileName) before using it as a path.
   */
  readonly fileName: string;
  /** The 8.3 attAttachTitle when the stream has one. */
  readonly title?: string;
  /** PR_ATTACH_MIME_TAG when valid, else from the file name's extension, else application/octet-stream. */
  readonly mimeType: string;
  readonly contentId?: string;
  readonly contentLocation?: string;
  readonly created?: Date;
  readonly modified?: Date;
  /** PR_ATTACH_METHOD (AttachMethod): 1 by value, 5 embedded message, 6 OLE object… */
  readonly method: number;
  /** PR_ATTACHMENT_HIDDEN: not meant to be listed (inline images usually are). */
  readonly hidden: boolean;
  /** The attachment's MAPI properties (attAttachment). */
  readonly properties: readonly MapiProperty[];
}

export interface TnefFileAttachment extends TnefAttachmentBase {
  readonly kind: 'file';
  /**
   * The content: attAttachData, else PR_ATTACH_DATA_BIN, else the PR_ATTACH_DATA_OBJ
   * value (for OLE objects this keeps its 16-byte IID, as the `tnef` tool does).
   * A view of the input bytes.
   */
  readonly data: Uint8Array;
}

export interface TnefEmbeddedAttachment extends TnefAttachmentBase {
  readonly kind: 'message';
  /** The message carried in PR_ATTACH_DATA_OBJ, decoded. */
  readonly embedded: TnefMessage;
  /** Its TNEF stream (PR_ATTACH_DATA_OBJ without the 16-byte IID_IMessage). */
  readonly data: Uint8Array;
}

export type TnefAttachment = TnefFileAttachment | TnefEmbeddedAttachment;

export interface TnefMessage {
  /** The stream's legacy key (the 16 bits after the signature). */
  readonly key: number;
  readonly messageClass?: string;
  readonly subject?: string;
  readonly from?: TnefAddress;
  readonly recipients: readonly TnefRecipient[];
  /** attDateSent, else PR_CLIENT_SUBMIT_TIME. */
  readonly sent?: Date;
  /** attDateRecd, else PR_MESSAGE_DELIVERY_TIME. */
  readonly received?: Date;
  readonly modified?: Date;
  /** PR_INTERNET_MESSAGE_ID, when the stream has one. */
  readonly messageId?: string;
  /** The code page PT_STRING8 values were decoded in. */
  readonly codePage: number;
  readonly body: TnefBody;
  readonly attachments: readonly TnefAttachment[];
  /** The message's MAPI properties (attMsgProps). */
  readonly properties: readonly MapiProperty[];
  /**
   * What the decoder tolerated, each starting with a stable code: `WARN_TNEF_CHECKSUM`
   * (an attribute checksum did not match), `WARN_TNEF_TRAILING` (bytes after the last
   * attribute), `WARN_RTF` (an RTF body that could not be decompressed, with its ERR_
   * code), `WARN_TNEF_EMBEDDED` (an embedded message kept as a file because its stream
   * is broken). Embedded messages list their own.
   */
  readonly warnings: readonly string[];
}
