// The MIME pieces: the offset-keeping parser and the transfer and header encodings.
import t from 'tap';
import { MimeWriter } from '../src/mime-builder.ts';
import {
  decodeBase64Lenient,
  decodeQuotedPrintable,
  decodeTransferEncoding,
  encodeBase64Lines,
  encodeParameter,
  encodeQuotedPrintable,
  encodeWords,
  formatHeader,
} from '../src/mime-encoding.ts';
import { headerValue, parseContentType, parseHeaders, parseMime, parseParameterized } from '../src/mime-parser.ts';
import { safeFileName } from '../src/index.ts';
import { buf, prng } from './helpers.ts';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const slice = (raw: Buffer, from: number, to: number): string => raw.subarray(from, to).toString('latin1');

t.test('MIME parser: headers, folding, body offsets, CRLF and LF', async (t) => {
  for (const eol of ['\r\n', '\n']) {
    const raw = bytes(`Subject: a${eol} folded${eol}X-Empty:${eol}not a header line${eol}Content-Type: text/plain${eol}${eol}body${eol}`);
    const root = parseMime(raw);
    t.same(
      root.headers.map((h) => [h.name, h.value]),
      [
        ['Subject', 'a folded'],
        ['X-Empty', ''],
        ['Content-Type', 'text/plain'],
      ],
    );
    t.equal(slice(raw, root.bodyStart, root.end), `body${eol}`);
    t.equal(slice(raw, root.headers[0]?.start ?? 0, root.headers[0]?.end ?? 0), `Subject: a${eol} folded${eol}`);
  }
  const noBody = parseHeaders(bytes('A: b\r\nC: d'), 0, 11);
  t.same([noBody.headers.length, noBody.bodyStart], [2, 11], 'no blank line: no body');
  t.equal(headerValue(noBody.headers, 'c'), 'd');
  t.equal(headerValue(noBody.headers, 'x'), undefined);
});

t.test('MIME parser: multipart parts exclude the line break before each delimiter', async (t) => {
  const raw = bytes(
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\npreamble\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b \t\r\n\r\ntwo\r\n\r\n--b--\r\nepilogue\r\n',
  );
  const root = parseMime(raw);
  t.equal(root.boundary, 'b');
  t.equal(root.unterminated, false);
  t.same(
    root.children.map((c) => [slice(raw, c.start, c.end), c.contentType.mediaType]),
    [
      ['Content-Type: text/plain\r\n\r\none', 'text/plain'],
      ['\r\ntwo\r\n', 'text/plain'],
    ],
  );
  t.equal(slice(raw, root.children[1]?.bodyStart ?? 0, root.children[1]?.end ?? 0), 'two\r\n');
});

t.test('MIME parser: nested multiparts, digest defaults, unterminated bodies, no preamble', async (t) => {
  const raw = bytes(
    'Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/digest; boundary=inner\n\n--inner\n\nA: b\n\nmsg\n--inner--\n--outer\n\nlast part runs to the end\n',
  );
  const root = parseMime(raw);
  t.equal(root.unterminated, true);
  const digest = root.children[0];
  t.equal(digest?.children[0]?.contentType.mediaType, 'message/rfc822');
  t.equal(slice(raw, root.children[1]?.bodyStart ?? 0, root.children[1]?.end ?? 0), 'last part runs to the end\n');
  t.equal(parseMime(bytes('Content-Type: multipart/mixed; boundary=x\n\n--xy\n')).children.length, 0, '--xy is not --x');
  const empty = parseMime(bytes('Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n\nb\n--x--\n'));
  t.same(empty.children.map((c) => c.end - c.start), [0, 2], 'an empty part between two delimiters');
  t.equal(parseMime(bytes('Content-Type: multipart/mixed\n\n--x\n')).children.length, 0, 'no boundary: a leaf');
});

t.test('MIME parser: depth and part limits', async (t) => {
  let raw = 'body';
  for (let i = 0; i < 40; i++) raw = `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n${raw}\n--b${i}--\n`;
  let entity = parseMime(bytes(raw));
  let depth = 0;
  while (entity.children[0] !== undefined) {
    entity = entity.children[0];
    depth++;
  }
  t.equal(depth, 32, 'nesting stops at maxDepth');
  const many = `Content-Type: multipart/mixed; boundary=b\n\n${'--b\n\nx\n'.repeat(20)}--b--\n`;
  t.equal(parseMime(bytes(many), { maxDepth: 5, maxParts: 10 }).children.length, 10);
  t.equal(parseMime(bytes(`Content-Type: multipart/mixed; boundary=b\n\n${'--b\n\nx\n'.repeat(20)}`), { maxDepth: 5, maxParts: 10 }).children.length, 10, 'unterminated');
});

t.test('MIME parser: Content-Type parameters, quoted and RFC 2231', async (t) => {
  const ct = parseContentType('Application/MS-TNEF; Name="win\\"mail.dat"; x=y ; charset = utf-8');
  t.equal(ct.mediaType, 'application/ms-tnef');
  t.same([...ct.params], [
    ['name', 'win"mail.dat'],
    ['x', 'y'],
    ['charset', 'utf-8'],
  ]);
  t.equal(parseContentType(undefined).mediaType, 'text/plain');
  t.equal(parseContentType('garbage').mediaType, 'text/plain');
  t.equal(parseContentType('text/html', 'x/y').mediaType, 'text/html');
  const extended = parseParameterized("attachment; filename*0*=utf-8''%D1%88%D0; filename*1*=%BE.txt; title*=iso-8859-1'en'%E9t%E9; a*0=x; a*1=y; broken");
  t.equal(extended.value, 'attachment');
  t.equal(extended.params.get('filename'), 'шо.txt');
  t.equal(extended.params.get('title'), 'été');
  t.equal(extended.params.get('a'), 'xy');
  t.equal(parseParameterized("x; n*=bogus-charset''%41").params.get('n'), 'A', 'unknown charset falls back to UTF-8');
  t.equal(parseParameterized('x; n="unterminated').params.get('n'), 'unterminated');
  t.equal(parseParameterized("x; n*=''%41").params.get('n'), 'A', 'no charset: UTF-8');
  t.equal(parseParameterized('x; n="a\\').params.get('n'), 'a\\', 'a backslash at the very end');
});

t.test('transfer encodings: lenient base64 and quoted-printable decoding', async (t) => {
  t.equal(buf(decodeBase64Lenient('aGVs\r\nbG8g*d29y\nbGQ=\nignored')).toString(), 'hello world');
  t.equal(buf(decodeBase64Lenient('aGVsbG8')).toString(), 'hello', 'missing padding');
  t.equal(buf(decodeBase64Lenient('aGVsbG8gA')).toString(), 'hello ', 'a dangling sixth');
  t.equal(buf(decodeQuotedPrintable(bytes('a=3Db =\r\nc=\nd= \t\r\ne=ZZ=4'))).toString('latin1'), 'a=b cde=ZZ=4');
  t.equal(buf(decodeTransferEncoding(bytes('=41'), ' Quoted-Printable ')).toString(), 'A');
  t.equal(buf(decodeTransferEncoding(bytes('QQ=='), 'BASE64')).toString(), 'A');
  t.equal(buf(decodeTransferEncoding(bytes('raw'), '8bit')).toString(), 'raw');
  t.equal(buf(decodeTransferEncoding(bytes('raw'), undefined)).toString(), 'raw');
});

t.test('transfer encodings: base64 and quoted-printable output round-trips in 76-column lines', async (t) => {
  const random = prng(7);
  const data = Buffer.from(Array.from({ length: 5000 }, () => Math.floor(random() * 256)));
  const b64 = encodeBase64Lines(data, '\r\n');
  t.ok(b64.split('\r\n').every((line) => line.length <= 76));
  t.ok(buf(decodeBase64Lenient(b64)).equals(data));
  t.equal(encodeBase64Lines(new Uint8Array(0), '\n'), '');
  const text = bytes(`From here\r\n.dot\n--b\rtrailing \t\n${'x'.repeat(200)}=\u00e9\u00ff\r\nend`);
  for (const eol of ['\r\n', '\n']) {
    const qp = encodeQuotedPrintable(text, eol);
    const lines = qp.split(eol);
    t.ok(lines.every((line) => line.length <= 76), 'line length');
    t.ok(lines.every((line) => !/^(From |\.|--)/.test(line)), 'no From, dot or -- at line start');
    t.notOk(/[ \t]$/m.test(qp), 'no trailing whitespace');
    t.ok(/^[\x20-\x7e\r\n]*$/.test(qp), '7-bit');
    const decoded = buf(decodeQuotedPrintable(bytes(qp))).toString('latin1');
    t.equal(decoded, `From here${eol}.dot${eol}--b${eol}trailing \t${eol}${'x'.repeat(200)}=\u00e9\u00ff${eol}end${eol}`);
  }
  t.equal(encodeQuotedPrintable(bytes('a\r\n'), '\n'), 'a\n');
  t.equal(encodeQuotedPrintable(new Uint8Array(0), '\n'), '');
});

t.test('header encodings: RFC 2047 words, RFC 2231 parameters, folding', async (t) => {
  t.equal(encodeWords('plain ascii'), 'plain ascii');
  t.equal(encodeWords('=?looks?= encoded'), '=?UTF-8?B?PT9sb29rcz89IGVuY29kZWQ=?=');
  const long = encodeWords('Привет, это очень длинная тема письма с кириллицей ✓');
  t.ok(long.split(' ').every((w) => w.length <= 75 && w.startsWith('=?UTF-8?B?')));
  t.same(encodeParameter('filename', 'a.txt'), ['filename=a.txt']);
  t.same(encodeParameter('filename', 'my file.txt'), ['filename="my file.txt"']);
  t.same(encodeParameter('filename', 'ü.txt'), ["filename*=utf-8''%C3%BC.txt"]);
  const odd = encodeParameter('filename', `a${'ж'.repeat(40)}`);
  t.ok(odd.every((p) => !/%.?$/.test(p)), 'no %XX escape cut in half');
  t.equal(parseParameterized(`x; ${odd.join('; ')}`).params.get('filename'), `a${'ж'.repeat(40)}`);
  const pieces = encodeParameter('filename', `${'ж'.repeat(40)}.pdf`);
  t.ok(pieces.length > 1 && pieces.every((p, i) => p.startsWith(`filename*${i}*=`) && p.length < 70));
  t.equal(parseParameterized(`attachment; ${pieces.join('; ')}`).params.get('filename'), `${'ж'.repeat(40)}.pdf`, 'round-trips');
  const header = formatHeader('Content-Type', ['text/plain', 'name="a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8"'], '\r\n');
  t.ok(header.split('\r\n').every((line) => line.length <= 78));
  t.equal(parseHeaders(bytes(`${header}\r\n`), 0, header.length + 2).headers[0]?.value, 'text/plain; name="a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8"');
});

t.test('MimeWriter: boundaries avoid raw children and the message around', async (t) => {
  const writer = new MimeWriter('\n', 'seed', ['=_gh_tnef_seed_1']);
  const raw = { kind: 'raw' as const, bytes: bytes('Content-Type: text/plain\n\n--gh_tnef_seed_2_=_\n') };
  const out = buf(writer.bytes({ kind: 'multipart', subtype: 'mixed', children: [raw] })).toString('latin1');
  t.match(out, /boundary="=_gh_tnef_seed_3"/, '1 is reserved, 2 occurs in the raw child');
  t.same(writer.entity(raw), { head: '', body: raw.bytes }, 'a raw node is all body');
  const root = parseMime(bytes(out));
  t.equal(slice(bytes(out), root.children[0]?.start ?? 0, root.children[0]?.end ?? 0), buf(raw.bytes).toString('latin1'));
});

t.test('safeFileName: no paths, controls or reserved characters', async (t) => {
  t.equal(safeFileName('..\\..\\windows\\system.ini'), 'system.ini');
  t.equal(safeFileName('/etc/passwd'), 'passwd');
  t.equal(safeFileName('a\u0000b\u001fc\u007f<>:"|?*.txt'), 'a_b_c________.txt');
  t.equal(safeFileName('...'), 'attachment.dat');
  t.equal(safeFileName(' .hidden. ', 'x'), 'hidden');
  t.equal(safeFileName('', 'fallback.bin'), 'fallback.bin');
  t.equal(Array.from(safeFileName('😀'.repeat(300))).length, 200, 'cut at code points');
});
