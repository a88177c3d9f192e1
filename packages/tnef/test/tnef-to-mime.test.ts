// tnefToMime and tnefToEml: a decoded message as parts, or as a message of its own.
import t from 'tap';
import PostalMime from 'postal-mime';
import { decodeTnef, getProperty, PropertyId, tnefToEml, tnefToMime } from '../src/index.ts';
import { parseMime } from '../src/mime-parser.ts';
import { ATT, attribute, buf, fixture, md5, prop, propList, stream, unicode } from './helpers.ts';

t.test('tnefToMime: body part, attachments, then the original when asked', async (t) => {
  const bytes = fixture('poi-hmef/quick-winmail.dat');
  const message = decodeTnef(bytes);
  const { parts } = tnefToMime(message, { keepOriginal: true, original: bytes });
  t.same(parts.map((p) => p.contentType), ['text/plain', 'application/msword', 'text/html', 'application/pdf', 'text/plain', 'text/xml', 'application/ms-tnef']);
  const doc = parseMime(parts[1]?.bytes ?? new Uint8Array());
  t.match(buf(parts[1]?.bytes ?? new Uint8Array()).toString(), /^Content-Type: application\/msword; name="quick\.doc"\r\nContent-Disposition: attachment; filename=quick\.doc;\r\n modification-date="Wed, 28 Apr 2010 12:40:56 \+0000"; size=19968\r\n/);
  t.equal(doc.contentType.mediaType, 'application/msword');
  t.same(tnefToMime(message).parts.length, 6, 'no original unless asked');
  t.same(tnefToMime(message, { keepOriginal: true }).parts.length, 6, 'nor without its bytes');
  t.match(buf(tnefToMime(message, { eol: '\n' }).parts[0]?.bytes ?? new Uint8Array()).toString(), /^Content-Type: text\/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nThese are five files\./);
});

t.test('tnefToMime and tnefToEml: no body, no sender, an address that is not an address', async (t) => {
  const message = decodeTnef(fixture('verdammelt-tnef/one-file.tnef'));
  t.same(tnefToMime(message).parts.map((p) => p.contentType), ['application/octet-stream']);
  t.match(buf(tnefToEml(message)).toString(), /^Subject: one-file\r\nDate: Thu, 14 Oct 1999 02:47:44 \+0000\r\nMessage-ID: <14341\.17488\.631053\.695454@localhost\.localdomain>\r\nX-MS-Message-Class: IPM\.Microsoft Mail\.Note\r\nMIME-Version: 1\.0\r\nContent-Type: application\/octet-stream/);
  const dn = decodeTnef(stream([attribute(1, ATT.MAPI_PROPS, propList([prop(0x001f, 0x0065, unicode('/o=Org/cn=Someone'))]))]));
  t.match(buf(tnefToEml(dn)).toString(), /^MIME-Version: 1\.0\r\n/, 'no From at all');
});

t.test('tnefToMime: HTML with related images is one multipart/related part', async (t) => {
  const { parts } = tnefToMime(decodeTnef(fixture('verdammelt-tnef/unicode-mapi-attr-name.tnef')));
  t.same(parts.map((p) => p.contentType), ['multipart/related', 'application/octet-stream']);
});

t.test('tnefToEml: a winmail.dat on its own becomes a whole message', async (t) => {
  const message = decodeTnef(fixture('verdammelt-tnef/unicode-mapi-attr.tnef'));
  const eml = tnefToEml(message);
  const email = await PostalMime.parse(Buffer.from(eml));
  t.equal(email.subject, 'example');
  t.same(email.from, { name: 'Administrator', address: 'Administrator@exchange.local' });
  t.equal(email.messageId, '<011fdf9d1a754260a583e5c6c89061d3@WIN-N56837RFTER.exchange.local>');
  t.equal(email.date, '2017-03-07T12:04:24.000Z');
  t.equal(md5(Buffer.from(email.attachments[0]?.content as ArrayBuffer)), 'cc08b979e186');
  t.match(email.html, /hello world/);
  t.match(buf(eml).toString(), /X-MS-Message-Class: IPM\.Microsoft Mail\.Note\r\n/);
  t.equal(getProperty(message.properties, PropertyId.INTERNET_CPID), 20127);
});

t.test('tnefToEml: recipients, non-ASCII names, no body, no date', async (t) => {
  const message = decodeTnef(
    stream([
      attribute(
        1,
        ATT.RECIP_TABLE,
        Buffer.concat([
          Buffer.from([3, 0, 0, 0]),
          propList([prop(0x001f, 0x3001, unicode('Jürgen')), prop(0x001f, 0x39fe, unicode('j@x.de')), prop(0x0003, 0x0c15, Buffer.from([1, 0, 0, 0]))]),
          propList([prop(0x001f, 0x39fe, unicode('cc@x.de')), prop(0x0003, 0x0c15, Buffer.from([2, 0, 0, 0]))]),
          propList([prop(0x001f, 0x3001, unicode('No Address'))]),
        ]),
      ),
      attribute(1, ATT.MAPI_PROPS, propList([prop(0x001f, 0x0042, unicode('Ünal')), prop(0x001f, 0x0065, unicode('u@x.de'))])),
    ]),
  );
  const text = buf(tnefToEml(message, { eol: '\n' })).toString();
  t.match(text, /^From: =\?UTF-8\?B\?w5xuYWw=\?= <u@x\.de>\nTo: =\?UTF-8\?B\?SsO8cmdlbg==\?= <j@x\.de>\nCc: cc@x\.de\nMIME-Version: 1\.0\nContent-Type: text\/plain; charset=utf-8\n/);
  t.notMatch(text, /No Address|Date:/);
});
