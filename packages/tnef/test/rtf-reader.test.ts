import t from 'tap';
import { readRtfBody } from '../src/index.ts';
import { fixture } from './helpers.ts';

const read = (rtf: string | Buffer): ReturnType<typeof readRtfBody> =>
  readRtfBody(typeof rtf === 'string' ? Buffer.from(rtf, 'latin1') : rtf);

t.test('RTF: native RTF renders paragraphs, tabs and special characters', async (t) => {
  const body = read(
    '{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}{\\colortbl;\\red0\\green0\\blue0;}' +
      '{\\stylesheet{\\s1 Normal;}}{\\info{\\author Someone}}\r\n' +
      '\\pard One\\tab two\\par Three\\line four\\emdash \\lquote q\\rquote  \\ldblquote d\\rdblquote\\bullet\\endash\\~x\\_y\\{\\}\\\\\\par}',
  );
  t.equal(body.kind, 'rtf');
  t.equal(body.content, 'One\ttwo\r\nThree\r\nfour\u2014\u2018q\u2019 \u201cd\u201d\u2022\u2013\u00a0x\u2011y{}\\\r\n');
});

t.test('RTF: skips pictures, objects, field instructions and every {\\*…} destination', async (t) => {
  const body = read(
    '{\\rtf1\\ansi{\\pict\\pngblip 89504e47}{\\object{\\*\\objdata 0102}{\\result visible}}' +
      '{\\field{\\*\\fldinst HYPERLINK "x"}{\\fldrslt link}}{\\*\\generator Riched20;}{\\*\\unknown hidden}' +
      '{\\header head}after{\\v hidden text}\\v also hidden\\v0  shown}',
  );
  t.equal(body.content, 'visiblelinkafter shown');
});

t.test('RTF: \\bin skips its binary bytes, braces included', async (t) => {
  const body = read(Buffer.concat([Buffer.from('{\\rtf1 a{\\pict\\bin4 '), Buffer.from([0x7b, 0x7d, 0x5c, 0x00]), Buffer.from('}b}')]));
  t.equal(body.content, 'ab');
});

t.test('RTF: \\\'hh in \\ansicpg, and in the code page of the current font\'s \\fcharset', async (t) => {
  const body = read(
    "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}{\\f1\\fswiss\\fcharset204 Arial CYR;}{\\f2\\cpg1253 Greek;}}" +
      "caf\\'e9 {\\f1 \\'cf\\'f0\\'e8\\'e2\\'e5\\'f2} {\\f2 \\'e1} \\'e9}",
  );
  t.equal(body.content, 'café Привет α é');
  t.equal(body.codePage, 1252);
  t.equal(read('{\\rtf1\\ansi\\ansicpg1251 \\\'cf}').content, 'П');
  t.equal(read('{\\rtf1\\mac \\\'8e}').codePage, 10000);
  t.equal(read('{\\rtf1\\pc x}').codePage, 437);
  t.equal(read('{\\rtf1\\pca x}').codePage, 850);
  t.equal(read("{\\rtf1 \\'zz\\'4}").content, "zz4}".slice(0, 0) + 'zz4', 'bad hex is not a byte');
});

t.test('RTF: \\uN gives UTF-16 units and skips \\ucN fallback characters', async (t) => {
  t.equal(read('{\\rtf1\\uc1 \\u1055?\\u1088?}').content, 'Пр');
  t.equal(read("{\\rtf1\\uc2 \\u1055\\'3f\\'3fx}").content, 'Пx', 'two fallback bytes skipped');
  t.equal(read('{\\rtf1\\uc1 \\u-10179?\\u-8704?}').content, '\u{1F600}', 'a surrogate pair from negative N');
  t.equal(read('{\\rtf1\\uc0 \\u1055 x}').content, 'Пx');
  t.equal(read('{\\rtf1\\uc1 \\u1055\\par x}').content, 'П x'.replace(' ', ''), 'a control word counts as the fallback');
  t.equal(read('{\\rtf1\\uc1 \\u1055{b}}').content, 'Пb', 'a group ends the fallback');
  t.equal(read('{\\rtf1\\uc1 \\u1055\\{x}').content, 'Пx', 'a control symbol counts as the fallback');
});

t.test('RTF: \\fromtext de-encapsulates the text; \\htmlrtf parts are dropped', async (t) => {
  const body = read('{\\rtf1\\ansi\\fromtext \\deff0{\\fonttbl{\\f0 Courier;}}\\pard Line one\\par {\\htmlrtf dropped\\htmlrtf0 kept}\\tab end\\par}');
  t.equal(body.kind, 'text');
  t.equal(body.content, 'Line one\r\nkept\tend\r\n');
});

t.test('RTF: \\fromhtml1 de-encapsulates htmltag groups and the text between them', async (t) => {
  const body = read(
    '{\\rtf1\\ansi\\ansicpg1251\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}' +
      '{\\*\\htmltag19 <html>}{\\*\\htmltag34 <head>}{\\*\\htmltag1 \\par }{\\*\\htmltag41 </head>}' +
      "{\\*\\htmltag50 <body>}\\htmlrtf {\\htmlrtf0 Text & <more> \\'cf\\par}\\htmlrtf0 " +
      '{\\*\\htmltag84 <a href="x">}link{\\*\\htmltag92 </a>}{\\*\\mhtmltag84 <a href="cid:y">}' +
      "{\\*\\htmltag64 \\{\\}\\\\ \\'e9}\\htmlrtf \\par\\htmlrtf0 {\\*\\htmltag58 </body>}{\\*\\htmltag27 </html>}}",
  );
  t.equal(body.kind, 'html');
  t.equal(body.content, '<html><head>\r\n</head><body>Text &amp; &lt;more&gt; П\r\n<a href="x">link</a>{}\\ й</body></html>', "htmltag bytes in \\ansicpg");
});

t.test('RTF: \\fromhtml only counts in the header, before any text or group', async (t) => {
  t.equal(read('{\\rtf1 text \\fromhtml1 more}').kind, 'rtf');
  t.equal(read('{\\rtf1{\\fonttbl{\\f0 A;}}\\fromtext x}').kind, 'rtf');
  t.equal(read('{\\rtf1\\fromhtml0 x}').kind, 'rtf', '\\fromhtml0 is not HTML');
  t.equal(read('{\\rtf1{\\*\\htmltag <b>}x}').content, 'x', 'htmltag groups are skipped in native RTF');
});

t.test('RTF: malformed input gives what text it holds and never throws', async (t) => {
  t.equal(read('').content, '');
  t.equal(read('plain text, not RTF').content, '', 'text outside the document group is not document text');
  t.equal(read('{\\rtf1 unclosed {group').content, 'unclosed group');
  t.equal(read('{\\rtf1 a}}}b').content, 'a');
  t.equal(read('}{\\rtf1 a}').content, 'a', 'an unbalanced } first is ignored');
  t.equal(read('{\\rtf1 a\\').content, 'a');
  t.equal(read('{\\rtf1 a\\\'').content, 'a');
  t.equal(read('{\\rtf1 a\\verylongcontrolwordthatgoesonandonandonandon123456789012345 b}').content, 'ab');
  t.equal(read('{\\rtf1 \\u99999999999999 x}').content.length, 1, 'a huge \\u parameter is cut to 16 bits, x is its fallback');
  t.equal(read('{\\rtf1 x\\bin99999}').content, 'x');
  t.equal(read('{\\rtf1 x\\bin y\\bin-5 z}').content, 'xyz', '\\bin without a length, or a negative one');
  t.equal(read('{\\rtf1\\uc \\u -x}').content, '\u0000x', '\\uc and \\u without parameters');
  t.equal(read("{\\rtf1\\deff{\\fonttbl{\\f\\fcharset204 A;}}\\'cf}").content, 'П', '\\deff and \\f without parameters mean font 0');
  t.equal(read('{\\rtf1\\uc99999 \\u1055 abc}').content, 'П', 'an absurd \\uc is capped');
  t.equal(read(`{\\rtf1 ${'{'.repeat(10000)}deep${'}'.repeat(10000)}}`).content, 'deep', 'deep nesting');
});

t.test('RTF: the fixture bodies render as the samples say', async (t) => {
  const triples = read(fixture('verdammelt-tnef/expected/triples-body.rtf.baseline'));
  t.same([triples.kind, triples.codePage, triples.content], ['rtf', 1251, 'Sample description\r\n']);
  const html = read(fixture('verdammelt-tnef/expected/multi-value-attribute-body.rtf.baseline'));
  t.equal(html.kind, 'html');
  t.equal(html.content.length, 693);
  const text = read(fixture('verdammelt-tnef/expected/missing-filenames-body.rtf.baseline'));
  t.equal(text.kind, 'text');
  t.match(text.content, /^Hi Stephen,\r\n\r\nSue has encountered a Date problem/);
  const quick = read(fixture('poi-hmef/quick-contents/message.rtf'));
  t.match(quick.content, /These are five files\./);
  t.notMatch(quick.content, /\\|Times New Roman|Normal/);
});
