// decodeTnef on hand-made streams: every property type, the precedence between TNEF
// attributes and MAPI properties, each limit at the cap and one over, and the refusals.
import t from 'tap';
import { decodeTnef, getProperty, isTnef, PropertyId, TnefError, type TnefMessage } from '../src/index.ts';
import {
  ATT,
  IID_IMESSAGE,
  PT,
  atpDate,
  attribute,
  binary,
  buf,
  fileTime,
  long,
  prop,
  propList,
  simpleStream,
  stream,
  string8,
  u16,
  u32,
  unicode,
  variableValues,
} from './helpers.ts';

const msgProps = (...props: Buffer[]): Buffer => attribute(1, ATT.MAPI_PROPS, propList(props));
const attachProps = (...props: Buffer[]): Buffer => attribute(2, ATT.ATTACHMENT, propList(props));
const rend = (): Buffer => attribute(2, ATT.REND_DATA, Buffer.alloc(14));

function value(message: TnefMessage, id: number): unknown {
  return message.properties.find((p) => p.id === id)?.value;
}

t.test('decoder: signature, key, subject and one attachment', async (t) => {
  const m = decodeTnef(simpleStream({ subject: 'Hi', fileName: 'x.pdf', data: Buffer.from('%PDF') }));
  t.equal(m.key, 0x1234);
  t.equal(m.subject, 'Hi');
  t.same(
    m.attachments.map((a) => [a.kind, a.fileName, a.mimeType, buf(a.data).toString()]),
    [['file', 'x.pdf', 'application/pdf', '%PDF']],
  );
  t.ok(isTnef(simpleStream()));
  t.notOk(isTnef(Buffer.from('abc')));
});

t.test('decoder: not TNEF, or cut inside the signature or header', async (t) => {
  t.throws(() => decodeTnef(Buffer.from('PK\x03\x04 this is a zip')), { code: 'ERR_TNEF_SIGNATURE' });
  t.throws(() => decodeTnef(new Uint8Array(0)), { code: 'ERR_TNEF_TRUNCATED' });
  t.throws(() => decodeTnef(Buffer.from([0x78, 0x9f])), { code: 'ERR_TNEF_TRUNCATED' });
  t.throws(() => decodeTnef(Buffer.from([0x78, 0x9f, 0x3e, 0x23])), { code: 'ERR_TNEF_SIGNATURE' }, 'the 4th byte differs');
  t.throws(() => decodeTnef(Buffer.from([0x78, 0x9f, 0x3e, 0x22, 0x01])), { code: 'ERR_TNEF_TRUNCATED' }, 'no key');
  t.throws(() => decodeTnef(stream([])), { code: 'ERR_TNEF_TRUNCATED' }, 'no attribute');
  t.throws(() => decodeTnef(Buffer.concat([stream([]), Buffer.alloc(5)])), { code: 'ERR_TNEF_FORMAT' }, 'level 0 first');
  const whole = simpleStream();
  for (const cut of [7, 12, 15, 20, whole.length - 1]) {
    t.throws(() => decodeTnef(whole.subarray(0, cut)), TnefError, `cut at ${cut}`);
  }
});

t.test('decoder: a declared length past the end fails before reading it', async (t) => {
  const bad = Buffer.concat([stream([]), Buffer.of(1), u32(ATT.SUBJECT), u32(0x7fffffff), Buffer.from('abc')]);
  t.throws(() => decodeTnef(bad), { code: 'ERR_TNEF_TRUNCATED' });
});

t.test('decoder: checksum mismatches are warnings, or ERR_TNEF_CHECKSUM when strict', async (t) => {
  const damaged = stream([attribute(1, ATT.SUBJECT, Buffer.from('x\0'), { badChecksum: true })]);
  const m = decodeTnef(damaged);
  t.equal(m.subject, 'x');
  t.match(m.warnings, [/^WARN_TNEF_CHECKSUM: attribute 0x00018004 at offset 6/]);
  t.throws(() => decodeTnef(damaged, { strict: true }), { code: 'ERR_TNEF_CHECKSUM' });
});

t.test('decoder: bytes after the last attribute are tolerated, not before the first', async (t) => {
  const m = decodeTnef(Buffer.concat([simpleStream(), Buffer.from('\r\n')]));
  t.match(m.warnings, [/^WARN_TNEF_TRAILING: 2 bytes/]);
  const junk = decodeTnef(Buffer.concat([simpleStream(), Buffer.alloc(40)]));
  t.match(junk.warnings, [/^WARN_TNEF_TRAILING: 40 bytes that are not an attribute/]);
  t.equal(junk.attachments.length, 1);
});

t.test('decoder: every MAPI property type, single and multi-valued, named by id and by name', async (t) => {
  const when = new Date(Date.UTC(2020, 1, 29, 12, 30, 15, 500));
  const m = decodeTnef(
    stream([
      msgProps(
        prop(PT.SHORT, 0x6001, Buffer.from([0xfe, 0xff, 0, 0])),
        prop(PT.LONG, 0x6002, long(-5 >>> 0)),
        prop(PT.FLOAT, 0x6003, Buffer.from(new Float32Array([1.5]).buffer)),
        prop(PT.DOUBLE, 0x6004, Buffer.from(new Float64Array([2.25]).buffer)),
        prop(PT.CURRENCY, 0x6005, Buffer.from(new BigInt64Array([-7n]).buffer)),
        prop(PT.APPTIME, 0x6006, Buffer.from(new Float64Array([3.5]).buffer)),
        prop(PT.ERROR, 0x6007, long(0x80004005)),
        prop(PT.BOOLEAN, 0x6008, Buffer.from([1, 0, 0, 0])),
        prop(PT.I8, 0x6009, Buffer.from(new BigInt64Array([1234567890123n]).buffer)),
        prop(PT.SYSTIME, 0x600a, fileTime(when)),
        prop(PT.CLSID, 0x600b, Buffer.from('0703020000000000c000000000000046', 'hex')),
        prop(PT.NULL, 0x600c, Buffer.alloc(4)),
        prop(PT.STRING8, 0x600d, string8('eight')),
        prop(PT.UNICODE, 0x600e, unicode('wide ✓')),
        prop(PT.BINARY, 0x600f, binary(Buffer.from([1, 2, 3]))),
        prop(PT.OBJECT, 0x6010, binary(Buffer.concat([IID_IMESSAGE, Buffer.from('obj')]))),
        prop(PT.MV | PT.LONG, 0x6011, Buffer.concat([u32(2), long(7), long(8)])),
        prop(PT.MV | PT.UNICODE, 0x6012, variableValues([Buffer.from('a\0', 'utf16le'), Buffer.from('bc\0', 'utf16le')])),
        prop(PT.MV | PT.SHORT, 0x6013, Buffer.concat([u32(1), Buffer.from([5, 0, 0, 0])])),
        prop(PT.SYSTIME, 0x6014, Buffer.alloc(8, 0xff)),
        prop(PT.LONG, 0x8001, long(42), { id: 0x8510 }),
        prop(PT.UNICODE, 0x8002, unicode('named'), { name: 'Keywords' }),
        prop(PT.UNICODE, 0x6015, variableValues([])),
        prop(PT.BINARY, 0x6016, variableValues([])),
      ),
    ]),
  );
  t.equal(value(m, 0x6001), -2);
  t.equal(value(m, 0x6002), -5);
  t.equal(value(m, 0x6003), 1.5);
  t.equal(value(m, 0x6004), 2.25);
  t.equal(value(m, 0x6005), -7n);
  t.equal(value(m, 0x6006), 3.5);
  t.equal(value(m, 0x6007), 0x80004005 | 0);
  t.equal(value(m, 0x6008), true);
  t.equal(value(m, 0x6009), 1234567890123n);
  t.same(value(m, 0x600a), when);
  t.equal(value(m, 0x600b), '00020307-0000-0000-c000-000000000046');
  t.equal(value(m, 0x600c), null);
  t.equal(value(m, 0x600d), 'eight');
  t.equal(value(m, 0x600e), 'wide ✓');
  t.same(value(m, 0x600f), Buffer.from([1, 2, 3]));
  t.equal((value(m, 0x6010) as Uint8Array).length, 19, 'PT_OBJECT keeps its IID');
  t.same(value(m, 0x6011), [7, 8]);
  t.equal(getProperty(m.properties, 0x6011), 7, 'getProperty: the first of several values');
  t.equal(getProperty(m.properties, 0x7777), undefined);
  t.same(value(m, 0x6012), ['a', 'bc']);
  t.same(value(m, 0x6013), [5]);
  t.equal(value(m, 0x6014), null, 'a FILETIME out of Date range');
  t.same(
    m.properties.filter((p) => p.name !== undefined).map((p) => [p.name, p.value]),
    [
      [{ guid: '11111111-1111-1111-1111-111111111111', id: 0x8510 }, 42],
      [{ guid: '11111111-1111-1111-1111-111111111111', name: 'Keywords' }, 'named'],
    ],
  );
  t.equal(value(m, 0x6015), '', 'a count of zero');
  t.equal(value(m, 0x6016), null);
});

t.test('decoder: unknown property types and name kinds are ERR_TNEF_FORMAT', async (t) => {
  t.throws(() => decodeTnef(stream([msgProps(prop(0x0099, 0x6001, long(1)))])), { code: 'ERR_TNEF_FORMAT' });
  const badKind = Buffer.concat([u16(PT.LONG), u16(0x8001), Buffer.alloc(16), u32(7), long(1)]);
  t.throws(() => decodeTnef(stream([attribute(1, ATT.MAPI_PROPS, propList([badKind]))])), { code: 'ERR_TNEF_FORMAT' });
});

t.test('decoder: property counts and value counts are checked against the bytes there', async (t) => {
  t.throws(() => decodeTnef(stream([attribute(1, ATT.MAPI_PROPS, u32(1000))])), { code: 'ERR_TNEF_TRUNCATED' });
  const manyValues = prop(PT.MV | PT.LONG, 0x6001, u32(0x40000000));
  t.throws(() => decodeTnef(stream([msgProps(manyValues)])), { code: 'ERR_TNEF_TRUNCATED' });
  const longValue = prop(PT.BINARY, 0x6001, Buffer.concat([u32(1), u32(0xffffff00)]));
  t.throws(() => decodeTnef(stream([msgProps(longValue)])), { code: 'ERR_TNEF_TRUNCATED' });
  t.throws(() => decodeTnef(stream([attribute(1, ATT.RECIP_TABLE, u32(50))])), { code: 'ERR_TNEF_TRUNCATED' });
});

t.test('decoder: STRING8 values are decoded in PR_MESSAGE_CODEPAGE, attributes in attOemCodepage', async (t) => {
  const m = decodeTnef(
    stream([
      attribute(1, ATT.OEM_CODEPAGE, Buffer.concat([u32(1251), u32(0)])),
      attribute(1, ATT.SUBJECT, Buffer.from([0xcf, 0xf0, 0xe8, 0x00])),
      attribute(1, ATT.BODY, Buffer.from([0xe0, 0x0d, 0x0a, 0x00])),
      msgProps(prop(PT.STRING8, 0x6001, variableValues([Buffer.from([0xe9, 0])])), prop(PT.LONG, PropertyId.MESSAGE_CODEPAGE, long(1252))),
    ]),
  );
  t.equal(m.codePage, 1252);
  t.equal(m.subject, 'При');
  t.equal(m.body.text, 'а\r\n');
  t.equal(m.body.textSource, 'body');
  t.equal(value(m, 0x6001), 'é');
});

t.test('decoder: subject from PR_SUBJECT, attSubject, PR_NORMALIZED_SUBJECT or PR_CONVERSATION_TOPIC', async (t) => {
  const subject = (...attributes: Buffer[]): string | undefined => decodeTnef(stream(attributes)).subject;
  t.equal(subject(msgProps(prop(PT.UNICODE, PropertyId.SUBJECT, unicode('Ünïcode'))), attribute(1, ATT.SUBJECT, Buffer.from('8bit\0'))), 'Ünïcode');
  t.equal(subject(attribute(1, ATT.SUBJECT, Buffer.from('8bit\0'))), '8bit');
  t.equal(subject(msgProps(prop(PT.UNICODE, PropertyId.SUBJECT_PREFIX, unicode('RE: ')), prop(PT.UNICODE, PropertyId.NORMALIZED_SUBJECT, unicode('x')))), 'RE: x');
  t.equal(subject(msgProps(prop(PT.UNICODE, PropertyId.NORMALIZED_SUBJECT, unicode('n')))), 'n');
  t.equal(subject(msgProps(prop(PT.UNICODE, PropertyId.CONVERSATION_TOPIC, unicode('topic')))), 'topic');
  t.equal(subject(attribute(1, ATT.SUBJECT, Buffer.from('  \0'))), undefined, 'blank is no subject');
});

t.test('decoder: sender, recipients and dates', async (t) => {
  const triple = Buffer.concat([u16(4), u16(0), u16(4), u16(9), Buffer.from('Bob\0SMTP:b@x\0')]);
  const m = decodeTnef(
    stream([
      attribute(1, ATT.FROM, triple),
      attribute(1, ATT.DATE_SENT, atpDate(2003, 6, 17, 10, 23, 0)),
      attribute(
        1,
        ATT.RECIP_TABLE,
        Buffer.concat([
          u32(3),
          propList([prop(PT.UNICODE, PropertyId.DISPLAY_NAME, unicode('Ann')), prop(PT.UNICODE, PropertyId.SMTP_ADDRESS, unicode('ann@x')), prop(PT.LONG, PropertyId.RECIPIENT_TYPE, long(2))]),
          propList([prop(PT.STRING8, PropertyId.EMAIL_ADDRESS, string8('c@x'))]),
          propList([]),
        ]),
      ),
    ]),
  );
  t.same(m.from, { name: 'Bob', address: 'b@x' });
  t.same(m.recipients, [{ name: 'Ann', address: 'ann@x', type: 2 }, { address: 'c@x' }]);
  t.equal(m.sent?.toISOString(), '2003-06-17T10:23:00.000Z', 'atpDate taken as UTC');
  const later = new Date(Date.UTC(2003, 5, 17, 15, 23));
  const mapi = decodeTnef(stream([attribute(1, ATT.DATE_SENT, atpDate(2003, 6, 17, 10, 23)), msgProps(prop(PT.SYSTIME, PropertyId.CLIENT_SUBMIT_TIME, fileTime(later)))]));
  t.same(mapi.sent, later, 'PR_CLIENT_SUBMIT_TIME (UTC) wins');
  const invalid = decodeTnef(stream([attribute(1, ATT.DATE_SENT, atpDate(2003, 13, 1)), attribute(1, 0x00038006, Buffer.alloc(4))]));
  t.equal(invalid.sent, undefined, 'month 13');
  t.equal(invalid.received, undefined, 'too short');
  for (const bad of [Buffer.concat([u16(4), u16(0), u16(90), u16(90), Buffer.from('x')]), Buffer.alloc(3)]) {
    t.equal(decodeTnef(stream([attribute(1, ATT.FROM, bad)])).from, undefined, 'a triple that does not fit');
  }
  const tripleName = decodeTnef(stream([attribute(1, ATT.FROM, Buffer.concat([u16(4), u16(0), u16(4), u16(1), Buffer.from('Bob\0\0')]))]));
  t.same(tripleName.from, { name: 'Bob' });
  const empty = decodeTnef(stream([attribute(1, ATT.FROM, Buffer.concat([u16(4), u16(0), u16(1), u16(1), Buffer.from('\0\0')]))]));
  t.equal(empty.from, undefined);
  const addressOnly = decodeTnef(stream([attribute(1, ATT.FROM, Buffer.concat([u16(4), u16(0), u16(1), u16(4), Buffer.from('\0a@b\0')]))]));
  t.same(addressOnly.from, { address: 'a@b' });
  const nameOnly = decodeTnef(stream([msgProps(prop(PT.UNICODE, PropertyId.SENDER_NAME, unicode('Only')))]));
  t.same(nameOnly.from, { name: 'Only' });
});

t.test('decoder: attachment names, types, ids, dates and data from attributes or properties', async (t) => {
  const created = new Date(Date.UTC(2014, 5, 20, 10, 27, 2));
  const m = decodeTnef(
    stream([
      rend(),
      attribute(2, ATT.ATTACH_TITLE, Buffer.from('IMAGE0~1.PNG\0')),
      attribute(2, ATT.ATTACH_MODIFY_DATE, atpDate(2010, 4, 28, 12, 40, 56)),
      attribute(2, ATT.ATTACH_CREATE_DATE, atpDate(2010, 4, 28)),
      attribute(2, ATT.ATTACH_DATA, Buffer.from('png')),
      attachProps(
        prop(PT.UNICODE, PropertyId.ATTACH_LONG_FILENAME, unicode('image001.png')),
        prop(PT.STRING8, PropertyId.ATTACH_MIME_TAG, string8('Image/PNG')),
        prop(PT.UNICODE, PropertyId.ATTACH_CONTENT_ID, unicode('<image001.png@01CF>')),
        prop(PT.UNICODE, PropertyId.ATTACH_CONTENT_LOCATION, unicode('http://x/y.png')),
        prop(PT.SYSTIME, PropertyId.CREATION_TIME, fileTime(created)),
        prop(PT.BOOLEAN, PropertyId.ATTACH_HIDDEN, Buffer.from([1, 0, 0, 0])),
        prop(PT.BINARY, PropertyId.ATTACH_DATA, binary(Buffer.from('ignored: attAttachData wins'))),
      ),
      rend(),
      attachProps(
        prop(PT.STRING8, PropertyId.ATTACH_FILENAME, string8('REPORT.DOC')),
        prop(PT.STRING8, PropertyId.ATTACH_MIME_TAG, string8('not a type')),
        prop(PT.BINARY, PropertyId.ATTACH_DATA, binary(Buffer.from('doc'))),
      ),
      rend(),
      attachProps(prop(PT.UNICODE, PropertyId.DISPLAY_NAME, unicode('Shown name'))),
      attribute(2, ATT.ATTACH_TITLE, Buffer.from('\0')),
    ]),
  );
  const [image, report, shown] = m.attachments;
  t.same(
    [image?.fileName, image?.title, image?.mimeType, image?.contentId, image?.contentLocation, image?.hidden, buf(image?.data ?? new Uint8Array()).toString()],
    ['image001.png', 'IMAGE0~1.PNG', 'image/png', 'image001.png@01CF', 'http://x/y.png', true, 'png'],
  );
  t.same(image?.created, created, 'PR_CREATION_TIME wins over attAttachCreateDate');
  t.equal(image?.modified?.toISOString(), '2010-04-28T12:40:56.000Z');
  t.same([report?.fileName, report?.mimeType, buf(report?.data ?? new Uint8Array()).toString()], ['REPORT.DOC', 'application/msword', 'doc']);
  t.same([shown?.fileName, shown?.data.length, shown?.hidden, shown?.method], ['Shown name', 0, false, 1]);
});

t.test('decoder: attachment attributes before attAttachRendData start an attachment', async (t) => {
  const m = decodeTnef(stream([attribute(2, 0x0000800f, Buffer.from('data')), attribute(2, ATT.ATTACH_TITLE, Buffer.from('n.txt\0'))]));
  t.same(m.attachments.map((a) => [a.fileName, a.mimeType]), [['n.txt', 'text/plain']]);
});

function embeddedStream(inner: Buffer, options: { iid?: boolean; method?: number } = {}): Buffer {
  return stream([
    rend(),
    attribute(2, ATT.ATTACH_TITLE, Buffer.from('Untitled Attachment\0')),
    attribute(2, ATT.ATTACH_DATA, Buffer.from('This attachment is a MAPI 1.0 embedded message and is not supported by this mail system.')),
    attachProps(
      prop(PT.LONG, PropertyId.ATTACH_METHOD, long(options.method ?? 5)),
      prop(PT.OBJECT, PropertyId.ATTACH_DATA, binary(options.iid === false ? inner : Buffer.concat([IID_IMESSAGE, inner]))),
    ),
  ]);
}

t.test('decoder: embedded messages (PR_ATTACH_DATA_OBJ) are decoded recursively', async (t) => {
  const inner = simpleStream({ subject: 'Inner', fileName: 'deep.txt' });
  const m = decodeTnef(embeddedStream(inner));
  const attachment = m.attachments[0];
  t.equal(attachment?.kind, 'message');
  if (attachment?.kind !== 'message') return;
  t.equal(attachment.fileName, 'Inner', 'the subject, not the "Untitled Attachment" title');
  t.equal(attachment.mimeType, 'message/rfc822');
  t.ok(buf(attachment.data).equals(inner));
  t.equal(attachment.embedded.attachments[0]?.fileName, 'deep.txt');
  t.equal(decodeTnef(embeddedStream(inner, { iid: false })).attachments[0]?.kind, 'message', 'without the IID');
  const untitled = stream([rend(), attachProps(prop(PT.LONG, PropertyId.ATTACH_METHOD, long(5)), prop(PT.OBJECT, PropertyId.ATTACH_DATA, binary(Buffer.concat([IID_IMESSAGE, stream([attribute(1, ATT.BODY, Buffer.from('b\0'))])]))))]);
  t.equal(decodeTnef(untitled).attachments[0]?.fileName, 'attachment-1.eml', 'no subject, no title');
  const ole = decodeTnef(embeddedStream(inner, { method: 6 })).attachments[0];
  t.same([ole?.kind, ole?.data.length], ['file', 88], 'method 6 is an OLE object: attAttachData wins');
});

t.test('decoder: a broken embedded message is kept as a file with a warning, refused when strict', async (t) => {
  const broken = embeddedStream(Buffer.from('not tnef at all'));
  const m = decodeTnef(broken);
  t.same(m.attachments.map((a) => [a.kind, a.fileName, a.data.length]), [['file', 'Untitled Attachment', 88]]);
  t.match(m.warnings, [/^WARN_TNEF_EMBEDDED: attachment 1: ERR_TNEF_SIGNATURE/]);
  t.throws(() => decodeTnef(broken, { strict: true }), { code: 'ERR_TNEF_SIGNATURE' });
});

t.test('decoder: RTF bodies that fail are warnings (strict: errors); over budget is always an error', async (t) => {
  const rtf = Buffer.from('2d0000002b0000004c5a4675f1c5c7a703000a007263706731323542320af32068656c090020627705b06c647d0a800fa0', 'hex');
  const good = decodeTnef(stream([msgProps(prop(PT.BINARY, PropertyId.RTF_COMPRESSED, binary(rtf)))]));
  t.equal(good.body.text, 'hello world');
  t.equal(good.body.textSource, 'rtf');
  const badCrc = Buffer.from(rtf);
  badCrc[12] = 0;
  const bad = stream([msgProps(prop(PT.BINARY, PropertyId.RTF_COMPRESSED, binary(badCrc)), prop(PT.UNICODE, PropertyId.BODY, unicode('plain')))]);
  const m = decodeTnef(bad);
  t.same([m.body.text, m.body.rtf], ['plain', undefined]);
  t.match(m.warnings, [/^WARN_RTF: ERR_RTF_CRC/]);
  t.throws(() => decodeTnef(bad, { strict: true }), { code: 'ERR_RTF_CRC' });
  const goodStream = stream([msgProps(prop(PT.BINARY, PropertyId.RTF_COMPRESSED, binary(rtf)))]);
  t.throws(() => decodeTnef(goodStream, { limits: { maxDecompressedBytes: 42 } }), { code: 'ERR_TNEF_LIMIT' });
  t.equal(decodeTnef(goodStream, { limits: { maxDecompressedBytes: 43 } }).body.rtf?.length, 43);
  const both = decodeTnef(stream([msgProps(prop(PT.BINARY, PropertyId.RTF_COMPRESSED, binary(rtf)), prop(PT.UNICODE, PropertyId.BODY, unicode('t')), prop(PT.UNICODE, PropertyId.BODY_HTML, unicode('<b>h</b>')))]));
  t.same([both.body.text, both.body.html, both.body.rtf?.length], ['t', '<b>h</b>', 43], 'the RTF is kept but not read when text and HTML are there');
  const blank = Buffer.from('{\\rtf1 \\par }');
  const mela = Buffer.concat([u32(12 + blank.length), u32(blank.length), Buffer.from('MELA'), u32(0), blank]);
  t.equal(decodeTnef(stream([msgProps(prop(PT.BINARY, PropertyId.RTF_COMPRESSED, binary(mela)))])).body.text, undefined, 'whitespace is no body');
});

t.test('decoder: PR_BODY_HTML as binary, STRING8 or UNICODE, with its charset', async (t) => {
  const koi8 = Buffer.from([0xdb, 0xcf, 0xd3, 0xd4, 0xc9, 0xca]);
  const html = Buffer.concat([Buffer.from('<p>'), koi8, Buffer.from('</p>')]);
  const binaryHtml = decodeTnef(stream([msgProps(prop(PT.BINARY, PropertyId.BODY_HTML, binary(html)), prop(PT.LONG, PropertyId.INTERNET_CPID, long(20866)))]));
  t.same([binaryHtml.body.html, binaryHtml.body.htmlCharset, binaryHtml.body.htmlSource], ['<p>шостий</p>', 'koi8-r', 'body-html']);
  t.ok(buf(binaryHtml.body.htmlBytes ?? new Uint8Array()).equals(html));
  const meta = Buffer.concat([Buffer.from('<meta charset="koi8-r"><p>'), koi8]);
  t.equal(decodeTnef(stream([msgProps(prop(PT.BINARY, PropertyId.BODY_HTML, binary(meta)))])).body.htmlCharset, 'koi8-r', 'sniffed from <meta>');
  const plain = decodeTnef(stream([msgProps(prop(PT.BINARY, PropertyId.BODY_HTML, binary(Buffer.from('<p>é'))))]));
  t.equal(plain.body.htmlCharset, 'windows-1252', 'the message code page');
  const eight = decodeTnef(stream([msgProps(prop(PT.STRING8, PropertyId.BODY_HTML, variableValues([Buffer.concat([html, Buffer.from([0])])])), prop(PT.LONG, PropertyId.INTERNET_CPID, long(20866)))]));
  t.same([eight.body.html, eight.body.htmlBytes?.length], ['<p>шостий</p>', html.length], 'STRING8 HTML in PR_INTERNET_CPID, up to its NUL');
  const noNul = decodeTnef(stream([msgProps(prop(PT.STRING8, PropertyId.BODY_HTML, variableValues([Buffer.from('<i>x</i>')])), prop(PT.LONG, PropertyId.MESSAGE_CODEPAGE, long(99999)))]));
  t.same([noNul.body.html, noNul.body.htmlCharset], ['<i>x</i>', 'windows-1252'], 'no NUL; an unknown message code page');
  const unknownCpid = decodeTnef(stream([msgProps(prop(PT.STRING8, PropertyId.BODY_HTML, string8('<b>x</b>')), prop(PT.LONG, PropertyId.INTERNET_CPID, long(99999)))]));
  t.equal(unknownCpid.body.htmlCharset, 'windows-1252');
  const wide = decodeTnef(stream([msgProps(prop(PT.UNICODE, PropertyId.BODY_HTML, unicode('<b>✓</b>')))]));
  t.same([wide.body.html, wide.body.htmlBytes], ['<b>✓</b>', undefined]);
});

t.test('limits: attributes, attachments, properties, values, nesting, input size — at the cap and one over', async (t) => {
  const three = stream([attribute(1, ATT.SUBJECT, Buffer.from('a\0')), attribute(1, ATT.SUBJECT, Buffer.from('b\0')), attribute(1, ATT.SUBJECT, Buffer.from('c\0'))]);
  t.equal(decodeTnef(three, { limits: { maxAttributes: 3 } }).subject, 'c');
  t.throws(() => decodeTnef(three, { limits: { maxAttributes: 2 } }), { code: 'ERR_TNEF_LIMIT' });

  const twoFiles = stream([rend(), rend()]);
  t.equal(decodeTnef(twoFiles, { limits: { maxAttachments: 2 } }).attachments.length, 2);
  t.throws(() => decodeTnef(twoFiles, { limits: { maxAttachments: 1 } }), { code: 'ERR_TNEF_LIMIT' });

  const twoProps = stream([msgProps(prop(PT.LONG, 0x6001, long(1)), prop(PT.LONG, 0x6002, long(2)))]);
  t.equal(decodeTnef(twoProps, { limits: { maxProperties: 2 } }).properties.length, 2);
  t.throws(() => decodeTnef(twoProps, { limits: { maxProperties: 1 } }), { code: 'ERR_TNEF_LIMIT' });

  const threeValues = stream([msgProps(prop(PT.MV | PT.LONG, 0x6001, Buffer.concat([u32(3), long(1), long(2), long(3)])))]);
  t.same(value(decodeTnef(threeValues, { limits: { maxValuesPerProperty: 3 } }), 0x6001), [1, 2, 3]);
  t.throws(() => decodeTnef(threeValues, { limits: { maxValuesPerProperty: 2 } }), { code: 'ERR_TNEF_LIMIT' });

  const depth2 = embeddedStream(embeddedStream(simpleStream()));
  const inner = decodeTnef(depth2, { limits: { maxNestingDepth: 2 } }).attachments[0];
  t.equal(inner?.kind === 'message' ? inner.embedded.attachments[0]?.kind : undefined, 'message');
  t.throws(() => decodeTnef(depth2, { limits: { maxNestingDepth: 1 } }), { code: 'ERR_TNEF_LIMIT' });

  const input = simpleStream();
  t.equal(decodeTnef(input, { limits: { maxInputBytes: input.length } }).subject, 'hello');
  t.throws(() => decodeTnef(input, { limits: { maxInputBytes: input.length - 1 } }), { code: 'ERR_TNEF_LIMIT' });
});

t.test('limits: an attachment embedding itself over and over stops at the nesting limit', async (t) => {
  let nested = simpleStream();
  for (let i = 0; i < 20; i++) nested = embeddedStream(nested);
  t.throws(() => decodeTnef(nested), { code: 'ERR_TNEF_LIMIT' });
});
