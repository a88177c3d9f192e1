/**
 * Content types for attachments that carry no PR_ATTACH_MIME_TAG: a short table of the
 * extensions mail actually carries. Anything else is application/octet-stream, which every
 * client offers to save, so a missing entry costs a preview, never the content.
 */
const EXTENSION_TYPES: ReadonlyMap<string, string> = new Map([
  ['txt', 'text/plain'],
  ['log', 'text/plain'],
  ['csv', 'text/csv'],
  ['htm', 'text/html'],
  ['html', 'text/html'],
  ['xml', 'text/xml'],
  ['rtf', 'application/rtf'],
  ['ics', 'text/calendar'],
  ['vcf', 'text/vcard'],
  ['eml', 'message/rfc822'],
  ['pdf', 'application/pdf'],
  ['zip', 'application/zip'],
  ['gz', 'application/gzip'],
  ['7z', 'application/x-7z-compressed'],
  ['json', 'application/json'],
  ['doc', 'application/msword'],
  ['dot', 'application/msword'],
  ['xls', 'application/vnd.ms-excel'],
  ['ppt', 'application/vnd.ms-powerpoint'],
  ['msg', 'application/vnd.ms-outlook'],
  ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ['pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
  ['odt', 'application/vnd.oasis.opendocument.text'],
  ['ods', 'application/vnd.oasis.opendocument.spreadsheet'],
  ['png', 'image/png'],
  ['jpg', 'image/jpeg'],
  ['jpeg', 'image/jpeg'],
  ['gif', 'image/gif'],
  ['bmp', 'image/bmp'],
  ['tif', 'image/tiff'],
  ['tiff', 'image/tiff'],
  ['svg', 'image/svg+xml'],
  ['webp', 'image/webp'],
  ['mp3', 'audio/mpeg'],
  ['wav', 'audio/wav'],
  ['mp4', 'video/mp4'],
]);

/** A syntactically valid type/subtype (RFC 2045 §5.1 tokens), lower-cased; else undefined. */
export function validMimeType(value: string | undefined): string | undefined {
  const type = value?.trim().toLowerCase();
  return type !== undefined && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : undefined;
}

/** The content type a file name's extension suggests, or application/octet-stream. */
export function mimeTypeForFileName(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  const extension = dot === -1 ? '' : fileName.slice(dot + 1).toLowerCase();
  return EXTENSION_TYPES.get(extension) ?? 'application/octet-stream';
}
