// Every sample in shared/fixtures/tnef decodes to what its README says a correct decoder
// yields: attachment names, sizes and bytes (against the shipped expected files, else the
// listed MD5 prefix), bodies, and for the malformed samples a TnefError with a stable code.
import t, { type Test } from 'tap';
import { decodeTnef, TnefError, type TnefAttachment, type TnefMessage } from '../src/index.ts';
import { buf, fixture, md5 } from './helpers.ts';

function decode(path: string): TnefMessage {
  return decodeTnef(fixture(path));
}

function file(message: TnefMessage, index: number): TnefAttachment & { kind: 'file' } {
  const attachment = message.attachments[index];
  if (attachment?.kind !== 'file') throw new Error(`attachment ${index} is not a file`);
  return attachment;
}

function embedded(message: TnefMessage, index: number): TnefAttachment & { kind: 'message' } {
  const attachment = message.attachments[index];
  if (attachment?.kind !== 'message') throw new Error(`attachment ${index} is not a message`);
  return attachment;
}

/** Each attachment: [name, size, expected file or md5 prefix]. */
function checkAttachments(t: Test, message: TnefMessage, expected: ReadonlyArray<readonly [string, number, string]>): void {
  t.same(
    message.attachments.map((a) => [a.fileName, a.data.length]),
    expected.map(([name, size]) => [name, size]),
    'names and sizes',
  );
  expected.forEach(([name, , check], i) => {
    const data = message.attachments[i]?.data ?? new Uint8Array();
    if (/^[0-9a-f]{12}$/.test(check)) {
      t.equal(md5(data), check, `${name}: md5`);
    } else {
      t.ok(buf(data).equals(fixture(check)), `${name}: byte-exact with ${check}`);
    }
  });
}

function sameBytes(t: Test, actual: Uint8Array | undefined, expectedPath: string, what: string): void {
  t.ok(actual !== undefined && buf(actual).equals(fixture(expectedPath)), `${what}: byte-exact with ${expectedPath}`);
}

const E = 'verdammelt-tnef/expected/';

t.test('one-file.tnef: AUTHORS, key 0x0237, no body', async (t) => {
  const m = decode('verdammelt-tnef/one-file.tnef');
  t.equal(m.key, 0x0237);
  t.equal(m.subject, 'one-file');
  checkAttachments(t, m, [['AUTHORS', 244, `${E}AUTHORS.baseline`]]);
  t.same(m.body, {});
  t.equal(file(m, 0).mimeType, 'application/octet-stream');
  t.same(m.warnings, []);
});

t.test('two-files.tnef: AUTHORS and README, both application/octet-stream', async (t) => {
  const m = decode('verdammelt-tnef/two-files.tnef');
  checkAttachments(t, m, [
    ['AUTHORS', 244, `${E}AUTHORS.baseline`],
    ['README', 893, `${E}README.baseline`],
  ]);
  t.same(m.attachments.map((a) => a.mimeType), ['application/octet-stream', 'application/octet-stream']);
  t.equal(md5(file(m, 1).data), '7b46a88a7e64');
});

t.test('body.tnef: PR_BODY_HTML byte-exact, no attachments, key 0x1125', async (t) => {
  const m = decode('verdammelt-tnef/body.tnef');
  t.equal(m.key, 0x1125);
  t.equal(m.attachments.length, 0);
  sameBytes(t, m.body.htmlBytes, `${E}body-body.html.baseline`, 'HTML body');
  t.equal(m.body.htmlBytes?.length, 5358);
  t.equal(m.body.htmlSource, 'body-html');
  t.equal(m.body.text, undefined, 'HTML only');
  t.equal(m.subject, 'Bill of Rights');
  t.same(m.recipients, [{ name: '3kuser2', address: '3kuser2@brexchange.dolphinsearch.com', type: 1 }]);
});

t.test('rtf.tnef: compressed RTF only (593 bytes), rendered as text', async (t) => {
  const m = decode('verdammelt-tnef/rtf.tnef');
  sameBytes(t, m.body.rtf, `${E}rtf-body.rtf.baseline`, 'RTF body');
  // message.rtf.baseline is not the same file: it has LF CR where the spec's dictionary (and
  // test vector 1) give CR LF, and zeros from byte 390 on, the output of an old buggy
  // decoder. Its first 390 bytes agree with ours up to that line break order.
  const old = fixture(`${E}message.rtf.baseline`).toString('latin1');
  const prefix = old.slice(0, old.indexOf('\0')).replaceAll('\n\r', '\r\n');
  t.equal(prefix.length, 390);
  t.ok(buf(m.body.rtf ?? new Uint8Array()).toString('latin1').startsWith(prefix), 'message.rtf.baseline: same start');
  t.equal(m.body.rtf?.length, 593);
  t.equal(m.body.textSource, 'rtf');
  t.match(m.body.text, /-- Greg\r\nGreg Allen\r\nSenior Engineer/);
  t.match(m.body.text, /\r\n\\hge\r\n/, 'an escaped backslash is text');
  t.notMatch(m.body.text, /fonttbl|Arial|\\par|\\f0/, 'no RTF control words or font names in the text');
  t.equal(m.attachments.length, 0);
});

t.test('triples.tnef: attBody in cp1251 and RTF with \\ansicpg1251', async (t) => {
  const m = decode('verdammelt-tnef/triples.tnef');
  t.equal(m.codePage, 1251);
  t.equal(m.messageClass, 'IPM.Appointment');
  t.equal(`${m.body.text}\0`, fixture(`${E}triples-test.txt.baseline`).toString('latin1'), 'text = attBody without its NUL');
  t.equal(m.body.textSource, 'body');
  sameBytes(t, m.body.rtf, `${E}triples-body.rtf.baseline`, 'RTF body');
  t.equal(m.body.rtf?.length, 247);
  t.same(m.from, { name: 'Martin Rakhmanoff', address: 'rakhmanoff@sundance.spb.ru' });
});

t.test('long-filename.tnef: PR_ATTACH_LONG_FILENAME wins over the 8.3 title; \\fromtext body', async (t) => {
  const m = decode('verdammelt-tnef/long-filename.tnef');
  checkAttachments(t, m, [['allproductsmar2000.dat', 279, '49a000a7ae2b']]);
  t.equal(m.attachments[0]?.title, 'ALLPRO~1.DAT');
  sameBytes(t, m.body.rtf, `${E}long-filename-body.rtf.baseline`, 'RTF body');
  t.equal(m.body.rtf?.length, 1066);
  t.equal(m.body.textSource, 'rtf-fromtext');
  t.match(m.body.text, /^I've attached a temp\. license for QARun 4\.7\./);
  t.match(m.body.text, /\r\nHeather\r\n/);
});

t.test('data-before-name.tnef: attAttachData before attAttachTitle, two empty files', async (t) => {
  const m = decode('verdammelt-tnef/data-before-name.tnef');
  checkAttachments(t, m, [
    ['AUTOEXEC.BAT', 0, `${E}AUTOEXEC.BAT.baseline`],
    ['CONFIG.SYS', 0, `${E}CONFIG.SYS.baseline`],
    ['boot.ini', 289, `${E}boot.ini.baseline`],
  ]);
  t.equal(md5(file(m, 2).data), '9abbbabd47c8');
  sameBytes(t, m.body.rtf, `${E}data-before-name-body.rtf.baseline`, 'RTF body');
  t.equal(m.body.rtf?.length, 163);
});

t.test('missing-filenames.tnef: names only in the MAPI properties', async (t) => {
  const m = decode('verdammelt-tnef/missing-filenames.tnef');
  checkAttachments(t, m, [
    ['generpts.src', 61210, `${E}generpts.src.baseline`],
    ['TechlibDEC99.doc', 33792, `${E}TechlibDEC99.doc.baseline`],
    ['TechlibDEC99-JAN00.doc', 34304, `${E}TechlibDEC99-JAN00.doc.baseline`],
    ['TechlibNOV99.doc', 33792, `${E}TechlibNOV99.doc.baseline`],
  ]);
  sameBytes(t, m.body.rtf, `${E}missing-filenames-body.rtf.baseline`, 'RTF body');
  t.equal(m.body.rtf?.length, 1367);
  t.equal(m.body.textSource, 'rtf-fromtext');
});

t.test('multi-value-attribute.tnef: multi-valued property, audio/mp3, HTML de-encapsulated', async (t) => {
  const m = decode('verdammelt-tnef/multi-value-attribute.tnef');
  checkAttachments(t, m, [['208225__5_seconds__Voice_Mail.mp3', 10656, `${E}208225__5_seconds__Voice_Mail.mp3.baseline`]]);
  t.equal(md5(file(m, 0).data), 'ff6aa0bb42c4');
  t.equal(file(m, 0).mimeType, 'audio/mp3');
  t.ok(m.properties.some((p) => p.multiValued && Array.isArray(p.value)), 'a multi-valued property is read');
  sameBytes(t, m.body.rtf, `${E}multi-value-attribute-body.rtf.baseline`, 'RTF body');
  t.equal(m.body.htmlSource, 'rtf-fromhtml');
  t.equal(m.body.html?.length, 693);
  t.match(m.body.html, /^<html><head>/);
  t.match(m.body.html, /You received a voice mail from Curie Conf Room at <a style="color: #3399ff; " href="tel:208225">208225<\/a>\./);
  t.notMatch(m.body.html, /htmlrtf|\\par/);
});

t.test('unicode-mapi-attr.tnef: PT_UNICODE strings, HTML body, preview text', async (t) => {
  const m = decode('verdammelt-tnef/unicode-mapi-attr.tnef');
  checkAttachments(t, m, [['example.dat', 1024, `${E}example.dat.baseline`]]);
  t.equal(md5(file(m, 0).data), 'cc08b979e186');
  t.equal(m.body.htmlBytes?.length, 1226);
  t.equal(m.body.preview?.length, 12, 'the 12-character text tnefparse prints is PR_PREVIEW');
  t.equal(m.subject, 'example');
  t.same(m.from, { name: 'Administrator', address: 'Administrator@exchange.local' });
  t.equal(m.messageId, '<011fdf9d1a754260a583e5c6c89061d3@WIN-N56837RFTER.exchange.local>');
});

t.test('unicode-mapi-attr-name.tnef: inline PNGs with content ids and image/png', async (t) => {
  const m = decode('verdammelt-tnef/unicode-mapi-attr-name.tnef');
  checkAttachments(t, m, [
    ['spaconsole2.cfg', 8387, `${E}spaconsole2.cfg.baseline`],
    ['image001.png', 3815, `${E}image001.png.baseline`],
    ['image002.png', 3573, `${E}image002.png.baseline`],
    ['image003.png', 3792, `${E}image003.png.baseline`],
  ]);
  t.same(
    m.attachments.map((a) => [a.contentId, a.mimeType]),
    [
      [undefined, 'application/octet-stream'],
      ['image001.png@01CF8C82.F4A2A290', 'image/png'],
      ['image002.png@01CF8C82.F4A2A290', 'image/png'],
      ['image003.png@01CF8C82.F4A2A290', 'image/png'],
    ],
  );
  t.equal(m.body.htmlBytes?.length, 6389);
  t.match(m.body.html, /cid:image001\.png@01CF8C82\.F4A2A290/);
  t.match(m.subject, /Aktualizacja numerów/);
  t.equal(m.from?.name, 'Marcin Jabłonkowski');
});

t.test('MAPI_ATTACH_DATA_OBJ.tnef: content only in PR_ATTACH_DATA_BIN, unpadded sizes', async (t) => {
  const m = decode('verdammelt-tnef/MAPI_ATTACH_DATA_OBJ.tnef');
  checkAttachments(t, m, [
    ['VIA_Nytt_1402.doc', 61952, `${E}VIA_Nytt_1402.doc.baseline`],
    ['VIA_Nytt_1402.pdf', 213685, `${E}VIA_Nytt_1402.pdf.baseline`],
    ['VIA_Nytt_14021.htm', 68919, `${E}VIA_Nytt_14021.htm.baseline`],
  ]);
  t.same(m.attachments.map((a) => a.title), [undefined, undefined, undefined], 'no attAttachTitle');
  sameBytes(t, m.body.rtf, `${E}MAPI_ATTACH_DATA_OBJ-body.rtf.baseline`, 'RTF body');
  t.equal(m.body.rtf?.length, 2429);
  t.equal(m.subject, 'Bodø-damer på vei!');
});

t.test('MAPI_OBJECT.tnef: an OLE object keeps its 16-byte IID_IStorage, as tnef writes it', async (t) => {
  const m = decode('verdammelt-tnef/MAPI_OBJECT.tnef');
  checkAttachments(t, m, [['Untitled_Attachment', 628240, `${E}Untitled_Attachment.baseline`]]);
  t.equal(md5(file(m, 0).data), '6eb64d58f1aa');
  t.equal(m.attachments[0]?.method, 6);
  t.equal(buf(file(m, 0).data.subarray(16, 20)).toString('hex'), 'd0cf11e0', 'a compound file follows the IID');
  sameBytes(t, m.body.rtf, `${E}MAPI_OBJECT-body.rtf.baseline`, 'RTF body');
  t.equal(m.body.rtf?.length, 732);
  t.equal(m.messageClass, 'IPM.Microsoft Mail.Note');
});

t.test('ytnef/winmail.dat: 8.3 titles vs long names, RTF sync properties, delivery time', async (t) => {
  const m = decode('ytnef/winmail.dat');
  checkAttachments(t, m, [
    ['zappa_av1.jpg', 2937, 'ytnef/results/zappa_av1.jpg'],
    ['bookmark.htm', 85805, 'ytnef/results/bookmark.htm'],
  ]);
  t.equal(m.attachments[0]?.title, 'ZAPPA_~2.JPG');
  t.equal(m.body.rtf?.length, 443);
  const value = (id: number): unknown => m.properties.find((p) => p.id === id)?.value;
  t.equal(value(0x1006), 872404792, 'PR_RTF_SYNC_BODY_CRC');
  t.equal(value(0x1007), 90, 'PR_RTF_SYNC_BODY_COUNT');
  t.equal(m.received?.toISOString(), '2003-06-17T15:23:00.000Z', 'Tuesday June 17 2003 3:23 pm');
});

t.test('poi quick-winmail.dat: five attachments, subject, class, RTF body, dates', async (t) => {
  const m = decode('poi-hmef/quick-winmail.dat');
  const q = 'poi-hmef/quick-contents/';
  checkAttachments(t, m, [
    ['quick.doc', 19968, `${q}quick.doc`],
    ['quick.html', 428, `${q}quick.html`],
    ['quick.pdf', 18638, `${q}quick.pdf`],
    ['quick.txt', 235, `${q}quick.txt`],
    ['quick.xml', 143, `${q}quick.xml`],
  ]);
  t.equal(m.subject, 'This is a test message');
  t.equal(m.messageClass, 'IPM.Microsoft Mail.Note');
  t.equal(m.attachments[1]?.title, 'QUICK~1.HTM');
  t.same(new Set(m.attachments.map((a) => a.modified?.toISOString())), new Set(['2010-04-28T12:40:56.000Z']));
  sameBytes(t, m.body.rtf, `${q}message.rtf`, 'RTF body');
  t.equal(m.body.rtf?.length, 25528);
  const compressed = m.properties.find((p) => p.id === 0x1009)?.value;
  t.equal(compressed instanceof Uint8Array ? compressed.length : 0, 5907, 'RTF compressed size');
  t.match(m.body.text, /^These are five files\./);
});

t.test('poi bug52400-winmail-simple.dat: HTML body with the text, CRLF after the stream', async (t) => {
  const m = decode('poi-hmef/bug52400-winmail-simple.dat');
  t.match(m.body.html, /This is the message body\./);
  t.equal(m.body.htmlBytes?.length, 473);
  t.equal(m.body.preview, 'This is the message body.');
  t.equal(m.attachments.length, 0);
  t.match(m.warnings, [/^WARN_TNEF_TRAILING: 2 bytes/]);
});

t.test('christmas.tnef: a JPEG and two embedded messages decoded recursively', async (t) => {
  const m = decode('mimekit/christmas.tnef');
  t.equal(m.messageClass, 'IPM.Microsoft Mail.Note');
  sameBytes(t, m.body.rtf, 'mimekit/christmas/message.rtf', 'RTF body');
  t.equal(m.body.rtf?.length, 15237);
  t.same(
    m.attachments.map((a) => [a.kind, a.fileName, a.data.length]),
    [
      ['file', 'kitten-playing-with-a-christmas-tree.jpg', 375081],
      ['message', 'Build a train table', 6508],
      ['message', 'Christmas Celebration!', 385301],
    ],
  );
  t.equal(md5(file(m, 0).data), '74d4b533c664');
  const task = embedded(m, 1);
  sameBytes(t, task.data, 'mimekit/christmas/Untitled Attachment.2', 'embedded task TNEF stream');
  t.equal(task.embedded.messageClass, 'IPM.Task');
  t.equal(task.embedded.subject, 'Build a train table');
  t.match(task.embedded.body.text, /^Build my nephew an HO-scale train table/);
  t.equal(task.mimeType, 'message/rfc822');
  t.equal(task.title, 'Untitled Attachment');
  const appointment = embedded(m, 2);
  t.equal(appointment.embedded.messageClass, 'IPM.Appointment');
  t.equal(appointment.embedded.subject, 'Christmas Celebration!');
  t.equal(md5(file(appointment.embedded, 0).data), '74d4b533c664', 'the appointment carries the kitten too');
  for (const a of [task, appointment]) t.equal(a.modified?.toISOString(), '2018-12-15T10:17:38.000Z');
});

t.test('IPM-DistList.tnef: bad checksums tolerated with warnings, refused when strict', async (t) => {
  const m = decode('tnefparse/IPM-DistList.tnef');
  t.equal(m.key, 0x1708);
  t.match(m.warnings, [/^WARN_TNEF_CHECKSUM: attribute 0x00069003/, /^WARN_TNEF_CHECKSUM: attribute 0x00069005/]);
  const list = embedded(m, 0);
  t.equal(list.title, 'Untitled Attachment');
  t.equal(list.data.length, 19965);
  t.equal(list.embedded.messageClass, 'IPM.DistList');
  t.throws(() => decodeTnef(fixture('tnefparse/IPM-DistList.tnef'), { strict: true }), { code: 'ERR_TNEF_CHECKSUM' });
});

t.test('winmail2.dat and TnefMeetingRequest.txt: meeting requests with RTF bodies', async (t) => {
  const request = decode('horde-compress/winmail2.dat');
  t.equal(request.messageClass, 'IPM.Microsoft Schedule.MtgReq');
  t.equal(request.body.rtf?.length, 10106);
  t.equal(request.body.text, 'This is a test meeting.\r\n');
  t.equal(request.attachments.length, 0);
  const tnef = Buffer.from(fixture('horde-compress/TnefMeetingRequest.txt').toString('latin1'), 'base64');
  t.equal(tnef.length, 8182);
  const other = decodeTnef(tnef);
  t.equal(other.messageClass, 'IPM.Microsoft Schedule.MtgReq');
  t.equal(other.body.rtf?.length, 10025);
  t.equal(other.attachments.length, 0);
});

t.test('garbage-at-end.tnef: decodes, no body or attachment, trailing byte reported', async (t) => {
  const m = decode('verdammelt-tnef/garbage-at-end.tnef');
  t.same(m.body, {});
  t.equal(m.attachments.length, 0);
  t.match(m.warnings, [/^WARN_TNEF_TRAILING: 1 bytes/]);
});

t.test('multi-name-property.tnef: named properties with names, no body or attachment', async (t) => {
  const m = decode('verdammelt-tnef/multi-name-property.tnef');
  t.equal(m.key, 0xc6c7);
  t.same(m.body, {});
  t.equal(m.attachments.length, 0);
  t.ok(m.properties.some((p) => p.name?.name === 'Keywords'), 'a named property with a string name');
  t.equal(m.subject, 'Pfingstmontag');
});

t.test('minimal_attachment.tnef: hand-made, attAttachData only, key 0', async (t) => {
  const m = decode('tnefparse/minimal_attachment.tnef');
  t.equal(m.key, 0);
  t.equal(m.attachments.length, 1);
  t.equal(buf(file(m, 0).data).toString('latin1'), 'this is a test\n\0');
  t.equal(m.attachments[0]?.fileName, 'attachment-1.dat');
});

t.test('ytnef-oob-TNEFVersion-SwapWord: refused with ERR_TNEF_FORMAT', async (t) => {
  t.throws(() => decode('ytnef/ytnef-oob-TNEFVersion-SwapWord'), { code: 'ERR_TNEF_FORMAT' });
});

t.test('poi oom.tnef: a huge value count fails at once, without allocating it', async (t) => {
  const before = process.memoryUsage().arrayBuffers;
  let error: unknown;
  try {
    decode('poi-hmef/oom.tnef');
  } catch (caught) {
    error = caught;
  }
  t.ok(error instanceof TnefError);
  t.equal((error as TnefError).code, 'ERR_TNEF_TRUNCATED');
  t.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, 'no large allocation');
  t.throws(() => decodeTnef(fixture('poi-hmef/oom.tnef'), { strict: true }), { code: 'ERR_TNEF_CHECKSUM' });
});
