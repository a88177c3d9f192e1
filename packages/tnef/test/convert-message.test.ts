// convertTnefInMessage on real and wrapped samples. Every output is parsed again, by this
// package's parser for the structure and by postal-mime (an independent parser) for what a
// mail client would show: bodies, attachment names, types, content ids and bytes.
import t, { type Test } from 'tap';
import PostalMime from 'postal-mime';
import { convertTnefInMessage, decodeTnef, type ConvertTnefResult } from '../src/index.ts';
import { parseMime, type MimeEntity } from '../src/mime-parser.ts';
import { ATT, atpDate, attribute, buf, fixture, md5, prop, propList, simpleStream, stream, unicode } from './helpers.ts';

type Email = Awaited<ReturnType<typeof PostalMime.parse>>;
type Attachment = Email['attachments'][number];

async function reparse(message: Uint8Array): Promise<Email> {
  return PostalMime.parse(Buffer.from(message), { attachmentEncoding: 'arraybuffer' });
}

function content(attachment: Attachment | undefined): Buffer {
  const value = attachment?.content;
  return value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value ?? '');
}

interface WrapOptions {
  eol?: string;
  plain?: string;
  contentType?: string;
  fileName?: string;
  encoding?: 'base64' | 'quoted-printable' | 'binary';
}

/** A message as Outlook sends it: multipart/mixed with a text/plain part and winmail.dat. */
function wrap(tnef: Uint8Array, options: WrapOptions = {}): Buffer {
  const eol = options.eol ?? '\r\n';
  const encoding = options.encoding ?? 'base64';
  let body: Buffer;
  if (encoding === 'base64') {
    body = Buffer.from((buf(tnef).toString('base64').match(/.{1,76}/g) ?? []).join(eol) + eol);
  } else if (encoding === 'quoted-printable') {
    body = Buffer.from(Array.from(tnef, (b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`).join('').replace(/.{1,72}/g, (line) => `${line}=${eol}`));
  } else {
    body = Buffer.from(tnef);
  }
  const head = [
    'From: Sender <sender@example.com>',
    'To: rcpt@example.org',
    'Subject: wrapped',
    'X-Odd-Header:  kept   exactly ',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed;',
    '\tboundary="outer-boundary"',
    '',
    'preamble',
    '--outer-boundary',
    'Content-Type: text/plain; charset="us-ascii"',
    'Content-Transfer-Encoding: 7bit',
    '',
    options.plain ?? 'The plain text Outlook sends beside winmail.dat.',
    '',
    '--outer-boundary',
    `Content-Type: ${options.contentType ?? 'application/ms-tnef'}; name="${options.fileName ?? 'winmail.dat'}"`,
    `Content-Disposition: attachment; filename="${options.fileName ?? 'winmail.dat'}"`,
    `Content-Transfer-Encoding: ${encoding}`,
    '',
    '',
  ].join(eol);
  return Buffer.concat([Buffer.from(head), body, Buffer.from(`--outer-boundary--${eol}epilogue${eol}`)]);
}

const OUTER_HEAD_END = '--outer-boundary';

function prefixUntil(bytes: Uint8Array, marker: string): string {
  const text = buf(bytes).toString('latin1');
  return text.slice(0, text.indexOf(marker));
}

/** Every part's media type, depth-first, with indentation for nesting. */
function shape(entity: MimeEntity, depth = 0): string[] {
  return [`${'  '.repeat(depth)}${entity.contentType.mediaType}`, ...entity.children.flatMap((c) => shape(c, depth + 1))];
}

function structure(result: ConvertTnefResult): string[] {
  return shape(parseMime(result.message));
}

function checkWellFormed(t: Test, result: ConvertTnefResult, eol = '\r\n'): void {
  const text = buf(result.message).toString('latin1');
  const lines = text.split(eol);
  t.ok(lines.every((line) => line.length <= 998), 'no line over 998 characters (RFC 5322 §2.1.1)');
  if (eol === '\n') t.notOk(text.includes('\r'), 'LF stays LF');
  else t.notOk(/[^\r]\n/.test(text), 'every LF after a CR');
}

t.test('convert: ukr.eml — koi8-r HTML joins the plain part in multipart/alternative', async (t) => {
  const original = fixture('mimekit/ukr.eml');
  const result = convertTnefInMessage(original);
  t.equal(result.changed, true);
  t.same(result.warnings, []);
  t.equal(result.tnefParts, 1);
  t.equal(prefixUntil(result.message, OUTER_HEAD_END.replace('outer-boundary', '_000_')), prefixUntil(original, '--_000_'), 'outer header byte-exact');
  t.same(structure(result), ['multipart/mixed', '  multipart/alternative', '    text/plain', '    text/html']);
  const root = parseMime(result.message);
  const alternative = root.children[0] as MimeEntity;
  const plain = parseMime(original).children[0] as MimeEntity;
  t.equal(
    buf(result.message).subarray(alternative.children[0]?.start, alternative.children[0]?.end).toString('latin1'),
    original.subarray(plain.start, plain.end).toString('latin1'),
    'the plain part byte-exact',
  );
  t.equal(alternative.children[1]?.contentType.params.get('charset'), 'koi8-r');
  const email = await reparse(result.message);
  t.match(email.html, /<p>шостий<\/p>/);
  t.match(email.text, /шостий/);
  t.equal(email.attachments.length, 0, 'no winmail.dat left');
  t.equal(email.subject, 'rr test 7');
  checkWellFormed(t, result, '\n');
});

t.test('convert: tnef_task.eml — the embedded task becomes message/rfc822', async (t) => {
  const original = fixture('horde-compress/tnef_task.eml');
  const result = convertTnefInMessage(original);
  t.equal(result.changed, true);
  t.same(structure(result), ['multipart/mixed', '  text/plain', '  message/rfc822']);
  t.equal(prefixUntil(result.message, '------=_NextPart'), prefixUntil(original, '------=_NextPart'), 'outer header byte-exact');
  const email = await reparse(result.message);
  t.equal(email.attachments.length, 1);
  const task = email.attachments[0];
  t.equal(task?.mimeType, 'message/rfc822');
  t.equal(task?.filename, 'Test Task.eml');
  const inner = await reparse(content(task));
  t.equal(inner.subject, 'Test Task');
  t.match(inner.text, /This is a test task\./);
  t.match(buf(content(task)).toString(), /X-MS-Message-Class: IPM\.Task/);
  t.match(email.text, /Subject:\tTest Task/, 'the plain part is still there');
  t.notMatch(buf(result.message).toString('latin1'), /application\/ms-tnef/, 'the TNEF part is gone');
  checkWellFormed(t, result);
});

/** Decodes `tnefPath`, wraps it, converts it and checks every attachment against the decoder. */
async function roundTrip(t: Test, tnefPath: string, options: WrapOptions = {}): Promise<{ result: ConvertTnefResult; email: Email }> {
  const tnef = fixture(tnefPath);
  const decoded = decodeTnef(tnef);
  const result = convertTnefInMessage(wrap(tnef, options));
  t.equal(result.changed, true, `${tnefPath}: changed`);
  const email = await reparse(result.message);
  const files = decoded.attachments.filter((a) => a.kind === 'file');
  const byName = new Map(email.attachments.map((a) => [a.filename, a]));
  for (const file of files) {
    const part = byName.get(file.fileName);
    t.ok(part !== undefined, `${file.fileName}: a part`);
    t.equal(md5(content(part)), md5(file.data), `${file.fileName}: same bytes`);
    t.equal(part?.mimeType, file.mimeType, `${file.fileName}: ${file.mimeType}`);
  }
  checkWellFormed(t, result, options.eol);
  return { result, email };
}

t.test('convert: attachments from every sample arrive byte-exact with names and types', async (t) => {
  for (const sample of [
    'verdammelt-tnef/one-file.tnef',
    'verdammelt-tnef/two-files.tnef',
    'verdammelt-tnef/long-filename.tnef',
    'verdammelt-tnef/data-before-name.tnef',
    'verdammelt-tnef/missing-filenames.tnef',
    'verdammelt-tnef/multi-value-attribute.tnef',
    'verdammelt-tnef/unicode-mapi-attr.tnef',
    'verdammelt-tnef/MAPI_ATTACH_DATA_OBJ.tnef',
    'verdammelt-tnef/MAPI_OBJECT.tnef',
    'ytnef/winmail.dat',
    'poi-hmef/quick-winmail.dat',
    'tnefparse/minimal_attachment.tnef',
  ]) {
    await roundTrip(t, sample);
  }
});

t.test('convert: inline images referenced by cid go into multipart/related with Content-ID', async (t) => {
  const { result, email } = await roundTrip(t, 'verdammelt-tnef/unicode-mapi-attr-name.tnef');
  t.same(structure(result), [
    'multipart/mixed',
    '  multipart/alternative',
    '    text/plain',
    '    multipart/related',
    '      text/html',
    '      image/png',
    '      image/png',
    '      image/png',
    '  application/octet-stream',
  ]);
  const images = email.attachments.filter((a) => a.mimeType === 'image/png');
  t.same(images.map((a) => [a.contentId, a.disposition, a.related]), [
    ['<image001.png@01CF8C82.F4A2A290>', 'inline', true],
    ['<image002.png@01CF8C82.F4A2A290>', 'inline', true],
    ['<image003.png@01CF8C82.F4A2A290>', 'inline', true],
  ]);
  t.match(email.html, /cid:image001\.png@01CF8C82\.F4A2A290/);
  t.equal(email.attachments.find((a) => a.filename === 'spaconsole2.cfg')?.disposition, 'attachment');
});

t.test('convert: christmas.tnef — a JPEG and two embedded messages, each with its own parts', async (t) => {
  const { email } = await roundTrip(t, 'mimekit/christmas.tnef');
  const messages = email.attachments.filter((a) => a.mimeType === 'message/rfc822');
  t.same(messages.map((a) => a.filename), ['Build a train table.eml', 'Christmas Celebration!.eml']);
  const appointment = await reparse(content(messages[1]));
  t.equal(appointment.subject, 'Christmas Celebration!');
  t.equal(appointment.attachments[0]?.filename, 'kitten-playing-with-a-christmas-tree.jpg');
  t.equal(md5(content(appointment.attachments[0])), '74d4b533c664');
  t.match(buf(content(messages[0])).toString(), /^From: "Jeffrey Stedfast":;\r?\n/, 'an Exchange DN is not an address: a group name');
  t.match(email.text, /You've made this a Christmas to remember/, 'the RTF body as text, beside the plain part');
});

t.test('convert: body.tnef (HTML only) pairs with the plain part; quick-winmail RTF text differs, so both stay', async (t) => {
  const { result } = await roundTrip(t, 'verdammelt-tnef/body.tnef');
  t.same(structure(result), ['multipart/mixed', '  multipart/alternative', '    text/plain', '    text/html']);
  const quick = await roundTrip(t, 'poi-hmef/quick-winmail.dat');
  t.equal(structure(quick.result)[2], '  text/plain', 'the RTF text as its own part');
  t.match(quick.email.text, /These are five files\./);
});

t.test('convert: a TNEF text equal to the plain part is not added twice', async (t) => {
  const tnef = fixture('verdammelt-tnef/long-filename.tnef');
  const text = decodeTnef(tnef).body.text ?? '';
  const same = convertTnefInMessage(wrap(tnef, { plain: text.replace(/\r\n/g, '\n  ') }));
  t.same(structure(same), ['multipart/mixed', '  text/plain', '  application/octet-stream']);
  const different = convertTnefInMessage(wrap(tnef, { plain: 'Something else' }));
  t.same(structure(different), ['multipart/mixed', '  text/plain', '  text/plain', '  application/octet-stream']);
});

t.test('convert: LF line endings, quoted-printable and binary TNEF parts, winmail.dat by name', async (t) => {
  await roundTrip(t, 'verdammelt-tnef/two-files.tnef', { eol: '\n' });
  await roundTrip(t, 'verdammelt-tnef/two-files.tnef', { encoding: 'quoted-printable' });
  await roundTrip(t, 'verdammelt-tnef/two-files.tnef', { encoding: 'binary' });
  await roundTrip(t, 'verdammelt-tnef/two-files.tnef', { contentType: 'application/octet-stream', fileName: 'WINMAIL.DAT' });
  await roundTrip(t, 'verdammelt-tnef/two-files.tnef', { contentType: 'application/vnd.ms-tnef', fileName: 'other.dat' });
});

t.test('convert: keepOriginal keeps the winmail.dat part byte-exact as the last part', async (t) => {
  const tnef = fixture('verdammelt-tnef/one-file.tnef');
  const input = wrap(tnef);
  const result = convertTnefInMessage(input, { keepOriginal: true });
  t.same(structure(result), ['multipart/mixed', '  text/plain', '  application/octet-stream', '  application/ms-tnef']);
  const original = parseMime(input).children[1] as MimeEntity;
  const kept = parseMime(result.message).children[2] as MimeEntity;
  t.equal(buf(result.message).subarray(kept.start, kept.end).toString('latin1'), input.subarray(original.start, original.end).toString('latin1'));
});

t.test('convert: tolerated damage keeps the original even without keepOriginal', async (t) => {
  const result = convertTnefInMessage(wrap(fixture('tnefparse/IPM-DistList.tnef')));
  t.equal(result.changed, true);
  t.match(result.warnings, [/^WARN_TNEF_CHECKSUM/, /^WARN_TNEF_CHECKSUM/]);
  t.equal(structure(result).at(-1), '  application/ms-tnef');
  t.ok(structure(result).includes('  message/rfc822'), 'the distribution list as a message');
  const strict = convertTnefInMessage(wrap(fixture('tnefparse/IPM-DistList.tnef')), { strict: true });
  t.same([strict.changed, strict.warnings.length], [false, 1]);
  t.match(strict.warnings[0], /^ERR_TNEF_CHECKSUM: /);
});

t.test('convert: a TNEF part that does not decode leaves the message exactly as it was', async (t) => {
  for (const [sample, code] of [
    ['poi-hmef/oom.tnef', 'ERR_TNEF_TRUNCATED'],
    ['ytnef/ytnef-oob-TNEFVersion-SwapWord', 'ERR_TNEF_FORMAT'],
  ] as const) {
    const input = wrap(fixture(sample));
    const result = convertTnefInMessage(input);
    t.equal(result.changed, false);
    t.equal(result.message, input, 'the very same bytes');
    t.match(result.warnings, [new RegExp(`^${code}: TNEF part at offset \\d+`)]);
  }
  const notTnef = wrap(Buffer.from('just some bytes'), { contentType: 'application/octet-stream' });
  const named = convertTnefInMessage(notTnef);
  t.same([named.changed, named.tnefParts], [false, 1]);
  t.match(named.warnings, [/^WARN_TNEF_NOT_TNEF/]);
  const limited = convertTnefInMessage(wrap(fixture('verdammelt-tnef/two-files.tnef')), { limits: { maxAttachments: 1 } });
  t.match([limited.changed, limited.warnings], [false, [/^ERR_TNEF_LIMIT/]]);
});

t.test('convert: an empty TNEF (read receipt) stays; a message without TNEF is untouched', async (t) => {
  const empty = convertTnefInMessage(wrap(fixture('verdammelt-tnef/garbage-at-end.tnef')));
  t.equal(empty.changed, false);
  t.match(empty.warnings, [/^WARN_TNEF_TRAILING/, /^WARN_TNEF_EMPTY/]);
  const plain = Buffer.from('Subject: x\r\n\r\nhello\r\n');
  const none = convertTnefInMessage(plain);
  t.same([none.changed, none.tnefParts, none.warnings], [false, 0, []]);
  t.equal(none.message, plain);
});

t.test('convert: TNEF inside multipart/signed is left alone (the signature must hold)', async (t) => {
  const inner = wrap(fixture('verdammelt-tnef/one-file.tnef')).toString('latin1').split('\r\n\r\npreamble')[1] ?? '';
  const signed = Buffer.from(
    [
      'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=sig',
      '',
      '--sig',
      'Content-Type: multipart/mixed; boundary="outer-boundary"',
      '',
      `preamble${inner}`,
      '--sig',
      'Content-Type: application/pkcs7-signature',
      '',
      'AAAA',
      '--sig--',
      '',
    ].join('\r\n'),
  );
  const result = convertTnefInMessage(signed);
  t.same([result.changed, result.tnefParts], [false, 0]);
  t.match(result.warnings, [/^WARN_TNEF_SIGNED/]);
});

t.test('convert: a message that is TNEF as a whole gets new Content-* fields, the rest byte-exact', async (t) => {
  const tnef = fixture('verdammelt-tnef/two-files.tnef');
  const head = 'Received: from x\r\nSubject: whole\r\nContent-Type: application/ms-tnef;\r\n name=winmail.dat\r\nX-After: 1\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment\r\n\r\n';
  const input = Buffer.concat([Buffer.from(head), Buffer.from(`${tnef.toString('base64')}\r\n`)]);
  const result = convertTnefInMessage(input);
  t.equal(result.changed, true);
  const text = buf(result.message).toString('latin1');
  t.match(text, /^Received: from x\r\nSubject: whole\r\nContent-Type: multipart\/mixed; boundary="=_gh_tnef_[0-9a-f]{16}_\d+"\r\nX-After: 1\r\n\r\n--/);
  t.same(structure(result), ['multipart/mixed', '  application/octet-stream', '  application/octet-stream']);
  const kept = convertTnefInMessage(input, { keepOriginal: true });
  t.equal(structure(kept).at(-1), '  application/ms-tnef');
  const email = await reparse(kept.message);
  t.equal(md5(content(email.attachments.at(-1))), md5(tnef), 'the original, re-encoded');
  const single = convertTnefInMessage(Buffer.from(`Content-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n${simpleStream().toString('base64')}\r\n`));
  t.match(buf(single.message).toString(), /^Content-Type: text\/plain; name="a\.txt"\r\n/, 'one attachment: no multipart');
  const noType = convertTnefInMessage(
    Buffer.from(`Subject: s\r\nContent-Disposition: attachment; filename=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n${simpleStream().toString('base64')}`),
  );
  t.match(buf(noType.message).toString(), /^Subject: s\r\nContent-Type: text\/plain; name="a\.txt"\r\n/);
});

t.test('convert: TNEF in a multipart/alternative is replaced by one part', async (t) => {
  const tnef = stream([attribute(1, ATT.BODY, Buffer.from('text body\0')), attribute(2, ATT.REND_DATA, Buffer.alloc(14)), attribute(2, ATT.ATTACH_DATA, Buffer.from('x'))]);
  const input = Buffer.from(
    ['Content-Type: multipart/alternative; boundary=alt', '', '--alt', 'Content-Type: application/ms-tnef', 'Content-Transfer-Encoding: base64', '', tnef.toString('base64'), '--alt--', ''].join('\r\n'),
  );
  const result = convertTnefInMessage(input);
  t.same(structure(result), ['multipart/alternative', '  multipart/mixed', '    text/plain', '    application/octet-stream']);
});

t.test('convert: odd plain parts: an attachment, an unknown charset, no line break at all', async (t) => {
  const tnef = fixture('verdammelt-tnef/long-filename.tnef');
  const asAttachment = wrap(tnef).toString('latin1').replace('Content-Type: text/plain; charset="us-ascii"', 'Content-Type: text/plain\r\nContent-Disposition: attachment; filename=notes.txt');
  t.same(structure(convertTnefInMessage(Buffer.from(asAttachment, 'latin1'))), ['multipart/mixed', '  text/plain', '  text/plain', '  application/octet-stream'], 'an attached text file is not the body');
  const bogus = wrap(tnef, { plain: 'x' }).toString('latin1').replace('charset="us-ascii"', 'charset="no-such-charset"');
  t.equal(convertTnefInMessage(Buffer.from(bogus, 'latin1')).changed, true);
  const noCharset = wrap(tnef, { plain: 'x' }).toString('latin1').replace('; charset="us-ascii"', '');
  t.equal(convertTnefInMessage(Buffer.from(noCharset, 'latin1')).changed, true);
  const lineless = convertTnefInMessage(Buffer.from('Content-Type: application/ms-tnef'));
  t.match([lineless.changed, lineless.warnings], [false, [/^ERR_TNEF_TRUNCATED/]]);
});

t.test('convert: text and HTML without a plain part become multipart/alternative; Content-Location kept', async (t) => {
  const tnef = stream([
    attribute(1, ATT.MAPI_PROPS, propList([prop(0x001f, 0x1000, unicode('text')), prop(0x001f, 0x1013, unicode('<p>html <img src="cid:i@x"></p>'))])),
    attribute(2, ATT.REND_DATA, Buffer.alloc(14)),
    attribute(2, ATT.ATTACH_DATA, Buffer.from('png')),
    attribute(2, ATT.ATTACHMENT, propList([prop(0x001f, 0x3712, unicode('i@x')), prop(0x001f, 0x3713, unicode('http://example.com/i.png')), prop(0x001f, 0x3707, unicode('i.png'))])),
  ]);
  const input = Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n${tnef.toString('base64')}\r\n--b--\r\n`);
  const result = convertTnefInMessage(input);
  t.same(structure(result), ['multipart/mixed', '  multipart/alternative', '    text/plain', '    multipart/related', '      text/html', '      image/png']);
  t.match(buf(result.message).toString(), /Content-Location: http:\/\/example\.com\/i\.png\r\n/);
  const email = await reparse(result.message);
  t.match(email.text, /^text\s*$/);
  t.equal(email.attachments[0]?.related, true);
});

t.test('convert: the output is deterministic, and never throws', async (t) => {
  const input = wrap(fixture('mimekit/christmas.tnef'));
  t.same(convertTnefInMessage(input).message, convertTnefInMessage(input).message);
  const result = convertTnefInMessage(input, {
    limits: {
      get maxAttributes(): number {
        throw new Error('boom');
      },
    },
  });
  t.same([result.changed, result.message === input], [false, true]);
  t.match(result.warnings, [/^WARN_TNEF_INTERNAL: boom/]);
});

t.test('convert: non-ASCII attachment names use RFC 2231 and RFC 2047, and survive a client', async (t) => {
  const name = 'Отчёт за квартал — итоговый вариант с длинным названием.pdf';
  const tnef = stream([
    attribute(2, ATT.REND_DATA, Buffer.alloc(14)),
    attribute(2, ATT.ATTACH_DATA, Buffer.from('%PDF-1.4')),
    attribute(2, ATT.ATTACHMENT, propList([prop(0x001f, 0x3707, unicode(name))])),
    attribute(2, ATT.ATTACH_MODIFY_DATE, atpDate(2020, 1, 2, 3, 4, 5)),
  ]);
  const result = convertTnefInMessage(wrap(tnef));
  const text = buf(result.message).toString('latin1');
  t.match(text, /filename\*0\*=utf-8''%D0%9E/);
  t.match(text, /name="=\?UTF-8\?B\?/);
  t.match(text, /modification-date="Thu, 2 Jan 2020 03:04:05 \+0000"/);
  t.match(text, /size=8/);
  const email = await reparse(result.message);
  t.equal(email.attachments[0]?.filename, name);
  t.equal(email.attachments[0]?.mimeType, 'application/pdf');
  checkWellFormed(t, result);
});
