import t from 'tap';
import {
  DEFAULT_IMAP_READER_LIMITS,
  GatehouseError,
  ImapCommandReader,
  ImapReaderErrorCode,
  type ImapArg,
  type ImapReaderEvent,
  type ImapReaderLimits,
} from '../src/index.ts';
import { atom, bytes, drive, split, str } from './helpers.ts';

const E = ImapReaderErrorCode;

function read(input: string | Buffer, limits?: Partial<ImapReaderLimits>): ImapReaderEvent[] {
  const data = typeof input === 'string' ? bytes(input) : input;
  return drive(new ImapCommandReader(limits), [data]);
}

function cmd(tag: string, name: string, args: ImapArg[] = []): ImapReaderEvent {
  return { type: 'command', tag, name, args };
}

function err(code: (typeof E)[keyof typeof E], tag: string | null, fatal = false): ImapReaderEvent {
  return { type: 'error', code, tag, fatal };
}

function wait(tag: string, name: string, size: number): ImapReaderEvent {
  return { type: 'literal-wait', tag, name, size };
}

const NOOP_B = 'b NOOP\r\n';

t.test('reader: a command without arguments has its name upper-cased', async (t) => {
  t.same(read('a1 noop\r\n'), [cmd('a1', 'NOOP')]);
  t.same(read('A.1] capability\r\n'), [cmd('A.1]', 'CAPABILITY')], '"]" is allowed in a tag');
});

t.test('reader: LOGIN with quoted strings unescapes \\\\ and \\"', async (t) => {
  t.same(read('a LOGIN "us\\"er" "p\\\\ss word"\r\n'), [cmd('a', 'LOGIN', [str('us"er'), str('p\\ss word')])]);
  t.same(read('a LOGIN "" "x"\r\n'), [cmd('a', 'LOGIN', [str(''), str('x')])], 'an empty quoted string');
});

t.test('reader: LOGIN with atoms', async (t) => {
  t.same(read('a LOGIN user secret\r\n'), [cmd('a', 'LOGIN', [atom('user'), atom('secret')])]);
});

t.test('reader: LOGIN with two sync literals announces each literal once, before its bytes', async (t) => {
  const reader = new ImapCommandReader();
  t.same(drive(reader, [bytes('a LOGIN {4}\r\n')]), [wait('a', 'LOGIN', 4)]);
  t.same(drive(reader, [bytes('us')]), [], 'a partial literal waits');
  t.same(drive(reader, [bytes('er {6}\r\n')]), [wait('a', 'LOGIN', 6)]);
  t.same(drive(reader, [bytes('secret\r\n')]), [cmd('a', 'LOGIN', [str('user'), str('secret')])]);
  t.equal(reader.bufferedBytes, 0);
});

t.test('reader: LOGIN with LITERAL+ reads the literals without literal-wait', async (t) => {
  t.same(read('a LOGIN {4+}\r\nuser {6+}\r\nsecret\r\nb NOOP\r\n'), [
    cmd('a', 'LOGIN', [str('user'), str('secret')]),
    cmd('b', 'NOOP'),
  ]);
});

t.test('reader: a zero-length sync literal is still announced', async (t) => {
  t.same(read('a LOGIN {0}\r\n {1}\r\nx\r\n'), [
    wait('a', 'LOGIN', 0),
    wait('a', 'LOGIN', 1),
    cmd('a', 'LOGIN', [str(''), str('x')]),
  ]);
});

t.test('reader: AUTHENTICATE PLAIN with SASL-IR carries the response as an atom', async (t) => {
  const ir = Buffer.from('\0user\0pass').toString('base64');
  t.same(read(`a AUTHENTICATE PLAIN ${ir}\r\n`), [cmd('a', 'AUTHENTICATE', [atom('PLAIN'), atom(ir)])]);
  t.same(read('a AUTHENTICATE PLAIN =\r\n'), [cmd('a', 'AUTHENTICATE', [atom('PLAIN'), atom('=')])], 'empty IR');
});

t.test('reader: AUTHENTICATE without SASL-IR, then expectLine() returns the raw continuation line', async (t) => {
  const reader = new ImapCommandReader();
  const response = Buffer.from('\0user\0pass').toString('base64');
  const events = drive(
    reader,
    split(bytes(`a AUTHENTICATE PLAIN\r\n${response}\r\nb NOOP\r\n`), 'bytes'),
    (event, r) => {
      if (event.type === 'command' && event.name === 'AUTHENTICATE') {
        r.expectLine();
      }
    },
  );
  t.same(events, [
    cmd('a', 'AUTHENTICATE', [atom('PLAIN')]),
    { type: 'line', line: bytes(response) },
    cmd('b', 'NOOP'),
  ]);
});

t.test('reader: expectLine() lines may be empty, "*" or end in a lone LF; they are bytes', async (t) => {
  const reader = new ImapCommandReader();
  const lines: Buffer[] = [];
  for (const input of ['\r\n', '*\r\n', 'abc\n', 'x y {5}\r\n', '\xff\x00\r\n']) {
    reader.expectLine();
    const events = drive(reader, [bytes(input)]);
    t.equal(events.length, 1);
    const event = events[0];
    if (event?.type === 'line') {
      lines.push(event.line);
    }
  }
  t.same(lines, [bytes(''), bytes('*'), bytes('abc'), bytes('x y {5}'), bytes('\xff\x00')]);
  t.same(drive(reader, [bytes('c NOOP\r\n')]), [cmd('c', 'NOOP')], 'then commands again');
});

t.test('reader: an expectLine() line over maxLineBytes is fatal', async (t) => {
  const reader = new ImapCommandReader({ maxLineBytes: 4 });
  reader.expectLine();
  t.same(drive(reader, [bytes('abcd\r\n')]), [{ type: 'line', line: bytes('abcd') }]);
  reader.expectLine();
  t.same(drive(reader, [bytes('abcde')]), [err(E.LINE_TOO_LONG, null, true)]);
});

t.test('reader: expectLine() in the middle of a command throws, and does nothing once destroyed', async (t) => {
  const reader = new ImapCommandReader({ maxLiteralBytes: 4 });
  drive(reader, [bytes('a LOGIN {3}\r\n')]);
  t.throws(() => reader.expectLine(), { code: 'ERR_READER_STATE' });
  t.ok(new GatehouseError('x', 'y') instanceof Error);
  drive(reader, [bytes('abc {5+}\r\n')]);
  t.ok(reader.destroyed);
  reader.expectLine();
  t.equal(reader.next(), null);
});

t.test('reader: pipelined commands in one chunk come one by one; takeBuffered() after the first returns exactly the rest', async (t) => {
  // The STARTTLS injection case (CVE-2011-0411): what follows STARTTLS in the same
  // segment must be discarded, never executed after the handshake.
  const rest = 'b LOGIN {4+}\r\nuser pass\r\nc LOGOUT\r\n';
  const reader = new ImapCommandReader();
  reader.push(bytes(`a STARTTLS\r\n${rest}`));
  t.same(reader.next(), cmd('a', 'STARTTLS'));
  t.equal(reader.bufferedBytes, rest.length);
  t.same(reader.takeBuffered(), bytes(rest));
  t.equal(reader.bufferedBytes, 0);
  t.equal(reader.next(), null);
  t.same(drive(reader, [bytes('d NOOP\r\n')]), [cmd('d', 'NOOP')]);
});

t.test('reader: pipelined commands are returned in order', async (t) => {
  t.same(read('a NOOP\r\nb CAPABILITY\r\nc ID NIL\r\n'), [cmd('a', 'NOOP'), cmd('b', 'CAPABILITY'), cmd('c', 'ID', [atom('NIL')])]);
});

t.test('reader: takeBuffered() in the middle of a literal abandons the command', async (t) => {
  const reader = new ImapCommandReader();
  t.same(drive(reader, [bytes('a LOGIN {10}\r\nabc')]), [wait('a', 'LOGIN', 10)]);
  t.same(reader.takeBuffered(), bytes(''), 'the literal bytes already read are not unread bytes');
  t.same(drive(reader, [bytes('b NOOP\r\n')]), [cmd('b', 'NOOP')]);
});

t.test('reader: takeBuffered() returns a partial line and reading restarts cleanly', async (t) => {
  const reader = new ImapCommandReader();
  t.same(drive(reader, [bytes('a NO')]), []);
  t.same(reader.takeBuffered(), bytes('a NO'));
  t.same(drive(reader, [bytes('b NOOP\r\n')]), [cmd('b', 'NOOP')]);
});

t.test('reader: 8-bit bytes in literals and quoted strings are preserved', async (t) => {
  const octets = Buffer.from([0xc3, 0xa9, 0xff, 0x80, 0x01, 0x7f]);
  const input = Buffer.concat([bytes('a LOGIN {6+}\r\n'), octets, bytes(' "'), octets, bytes('"\r\n')]);
  t.same(read(input), [cmd('a', 'LOGIN', [{ kind: 'string', value: octets }, { kind: 'string', value: octets }])]);
});

t.test('reader: a literal may hold CR, LF and command-looking bytes', async (t) => {
  t.same(read('a LOGIN {13+}\r\nx\r\nb LOGOUT\r\n y\r\n'), [cmd('a', 'LOGIN', [str('x\r\nb LOGOUT\r\n'), atom('y')])]);
});

t.test('reader: lists, nested lists and literals inside lists', async (t) => {
  t.same(read('a ID ("name" "mutt" "version" NIL)\r\n'), [
    cmd('a', 'ID', [{ kind: 'list', items: [str('name'), str('mutt'), str('version'), atom('NIL')] }]),
  ]);
  t.same(read('a X () (a (b)) ((c))\r\n'), [
    cmd('a', 'X', [
      { kind: 'list', items: [] },
      { kind: 'list', items: [atom('a'), { kind: 'list', items: [atom('b')] }] },
      { kind: 'list', items: [{ kind: 'list', items: [atom('c')] }] },
    ]),
  ]);
  t.same(read('a ID ("name" {3}\r\nabc)\r\n'), [
    wait('a', 'ID', 3),
    cmd('a', 'ID', [{ kind: 'list', items: [str('name'), str('abc')] }]),
  ]);
});

t.test('reader: atoms include flags, wildcards, sequence sets and a lone "~"', async (t) => {
  t.same(read('a X \\Seen 1:* % ]x ~ a~b\r\n'), [
    cmd('a', 'X', [atom('\\Seen'), atom('1:*'), atom('%'), atom(']x'), atom('~'), atom('a~b')]),
  ]);
});

t.test('reader: a lone LF ends a line like CRLF', async (t) => {
  t.same(read('a NOOP\nb LOGIN {1}\nx "y"\nc NOOP\r\n'), [
    cmd('a', 'NOOP'),
    wait('b', 'LOGIN', 1),
    cmd('b', 'LOGIN', [str('x'), str('y')]),
    cmd('c', 'NOOP'),
  ]);
});

t.test('reader: an empty line is a syntax error without a tag', async (t) => {
  t.same(read(`\r\n\n${NOOP_B}`), [err(E.SYNTAX, null), err(E.SYNTAX, null), cmd('b', 'NOOP')]);
});

t.test('reader: a bad tag is refused without a tag and the line is skipped', async (t) => {
  for (const tag of ['+', 'a+b', '*', 'a%', 'a(', 'a)', 'a"', 'a\\', 'a{', '\xe9', 'a\x01', 'a\x7f', 'a\rb']) {
    t.same(read(`${tag} NOOP\r\n${NOOP_B}`), [err(E.BAD_TAG, null), cmd('b', 'NOOP')], JSON.stringify(tag));
  }
  t.same(read(` NOOP\r\n${NOOP_B}`), [err(E.BAD_TAG, null), cmd('b', 'NOOP')], 'an empty tag');
});

t.test('reader: syntax errors keep the tag, are not fatal, and consume the line', async (t) => {
  const cases: Record<string, string> = {
    'a tag alone': 'a',
    'a tag and SP': 'a ',
    'two spaces': 'a  NOOP',
    'a trailing space': 'a NOOP ',
    'a quoted command name': 'a "NOOP"',
    'an 8-bit command name': 'a NO\xe9P',
    'a command name with a wildcard': 'a NO*P',
    'an unknown escape': 'a LOGIN "a\\b" x',
    'an escape at the end': 'a LOGIN "a\\',
    'an unterminated quoted string': 'a LOGIN "abc',
    'a NUL in a quoted string': 'a LOGIN "a\x00b" x',
    'a CR in a quoted string': 'a LOGIN "a\rb" x',
    'a CR in the middle of a line': 'a NOOP\rx',
    'a CTL in an atom': 'a LOGIN a\x01b c',
    'an 8-bit byte in an atom': 'a LOGIN \xe9 c',
    'an unclosed list': 'a ID ("a" "b"',
    'an unopened list': 'a ID "a")',
    'a list closed after SP': 'a ID ("a" )',
    'a list opened without SP': 'a X a(b)',
    'a space after "("': 'a X ( a)',
    'a quoted string without SP': 'a X "a""b"',
    'a literal not at the end of the line': 'a LOGIN {3}abc',
    'a literal without digits': 'a LOGIN {}',
    'a literal+ without digits': 'a LOGIN {+}',
    'a literal with letters': 'a LOGIN {3a}',
    'a literal with "-"': 'a LOGIN {3-}',
    'an unclosed literal': 'a LOGIN {3',
    'a literal8': 'a LOGIN ~{3}',
    'an atom glued to a literal': 'a LOGIN x{3}',
  };
  for (const [name, line] of Object.entries(cases)) {
    t.same(read(`${line}\r\n${NOOP_B}`), [err(E.SYNTAX, 'a'), cmd('b', 'NOOP')], name);
  }
});

t.test('reader: a NUL inside a literal is a syntax error and the rest of the command is skipped', async (t) => {
  t.same(read(`a LOGIN {3+}\r\na\x00b {4+}\r\npass\r\n${NOOP_B}`), [err(E.SYNTAX, 'a'), cmd('b', 'NOOP')]);
  t.same(read(`a LOGIN {3+}\r\na\x00b x\r\n${NOOP_B}`), [err(E.SYNTAX, 'a'), cmd('b', 'NOOP')]);
});

t.test('reader: a refused line ending in a non-sync literal has that literal skipped, not read as commands', async (t) => {
  t.same(read(`a LOGIN "x\\y" {12+}\r\nc LOGOUT\r\nx\r\n${NOOP_B}`), [err(E.SYNTAX, 'a'), cmd('b', 'NOOP')]);
  t.same(read(`a+ LOGIN {8+}\r\nc NOOP\r\n {3+}\r\nabc\r\n${NOOP_B}`), [err(E.BAD_TAG, null), cmd('b', 'NOOP')], 'chained');
  t.same(read(`a LOGIN ~{8+}\r\nc NOOP\r\n\r\n${NOOP_B}`), [err(E.SYNTAX, 'a'), cmd('b', 'NOOP')], 'literal8+');
});

t.test('reader: a refused line ending in a sync literal ends the command (the client waits for "+")', async (t) => {
  t.same(read(`a LOGIN "x\\y" {5}\r\n${NOOP_B}`), [err(E.SYNTAX, 'a'), cmd('b', 'NOOP')]);
});

t.test('reader: skipping a refused non-sync literal still bounds its size', async (t) => {
  t.same(read('a LOGIN "x\\y" {5+}\r\n', { maxLiteralBytes: 4 }), [err(E.LITERAL_TOO_LARGE, 'a', true)]);
  t.same(read('a LOGIN "x\\y" {4+}\r\nabcd\r\nb NOOP\r\n', { maxLiteralBytes: 4 }), [err(E.SYNTAX, 'a'), cmd('b', 'NOOP')]);
});

t.test('reader: maxLineBytes at the cap is accepted, one byte over is fatal', async (t) => {
  const line = 'a NOOP ' + 'x'.repeat(93); // 100 bytes
  t.equal(line.length, 100);
  t.same(read(`${line}\r\n`, { maxLineBytes: 100 }), [cmd('a', 'NOOP', [atom('x'.repeat(93))])]);
  t.same(read(`${line}\n`, { maxLineBytes: 100 }), [cmd('a', 'NOOP', [atom('x'.repeat(93))])], 'lone LF');
  t.same(read(`${line}x\r\n`, { maxLineBytes: 100 }), [err(E.LINE_TOO_LONG, null, true)]);
});

t.test('reader: a line over maxLineBytes is refused before its CRLF arrives', async (t) => {
  const reader = new ImapCommandReader({ maxLineBytes: 100 });
  t.same(drive(reader, [bytes('a'.repeat(100))]), [], 'at the cap: wait');
  t.same(drive(reader, [bytes('\r')]), [], 'a CR may start the CRLF');
  t.same(drive(reader, [bytes('x')]), [err(E.LINE_TOO_LONG, null, true)]);
  t.ok(reader.destroyed);
  t.equal(reader.bufferedBytes, 0, 'the buffer is released');
  const other = new ImapCommandReader({ maxLineBytes: 100 });
  t.same(drive(other, [bytes('a'.repeat(101))]), [err(E.LINE_TOO_LONG, null, true)], 'without waiting for LF');
});

t.test('reader: maxLineBytes counts every line of a command except literal bodies', async (t) => {
  // "a LOGIN {3}\r\n" is 13 bytes, " {3}\r\n" 6 more, " x" 2: 21 bytes besides literals.
  const input = 'a LOGIN {3+}\r\nabc {3+}\r\ndef x\r\n';
  t.same(read(input, { maxLineBytes: 23 }), [cmd('a', 'LOGIN', [str('abc'), str('def'), atom('x')])]);
  t.same(read(input, { maxLineBytes: 22 }), [err(E.LINE_TOO_LONG, 'a', true)], 'with the tag once known');
});

t.test('reader: maxLiteralBytes at the cap is read; a sync literal one byte over is refused without reading its bytes', async (t) => {
  t.same(read('a LOGIN {8}\r\n12345678 x\r\n', { maxLiteralBytes: 8 }), [
    wait('a', 'LOGIN', 8),
    cmd('a', 'LOGIN', [str('12345678'), atom('x')]),
  ]);
  const reader = new ImapCommandReader({ maxLiteralBytes: 8 });
  t.same(drive(reader, [bytes('a LOGIN {9}\r\n')]), [err(E.LITERAL_TOO_LARGE, 'a')]);
  t.notOk(reader.destroyed);
  t.same(drive(reader, [bytes(NOOP_B)]), [cmd('b', 'NOOP')], 'the next line is a new command');
});

t.test('reader: a non-sync literal one byte over maxLiteralBytes is fatal', async (t) => {
  t.same(read('a LOGIN {8+}\r\n12345678 x\r\n', { maxLiteralBytes: 8 }), [cmd('a', 'LOGIN', [str('12345678'), atom('x')])]);
  const reader = new ImapCommandReader({ maxLiteralBytes: 8 });
  t.same(drive(reader, [bytes('a LOGIN {9+}\r\n123456789 x\r\n')]), [err(E.LITERAL_TOO_LARGE, 'a', true)]);
  t.ok(reader.destroyed);
  reader.push(bytes(NOOP_B));
  t.equal(reader.next(), null, 'nothing is parsed afterwards');
  t.equal(reader.bufferedBytes, 0, 'push() is ignored');
  t.same(reader.takeBuffered(), bytes(''));
  t.ok(reader.destroyed, 'takeBuffered() does not revive it');
});

t.test('reader: a literal size of many digits is too large, not a number overflow', async (t) => {
  t.same(read(`a LOGIN {99999999999999999999}\r\n${NOOP_B}`), [err(E.LITERAL_TOO_LARGE, 'a'), cmd('b', 'NOOP')]);
  t.same(read('a LOGIN {99999999999999999999+}\r\n'), [err(E.LITERAL_TOO_LARGE, 'a', true)]);
});

t.test('reader: maxCommandBytes bounds the literals of one command together', async (t) => {
  // "a X {4+}\r\n" is 10 bytes, "abcd" 4, " {4+}\r\n" 7, "efgh" 4: 25.
  const limits = { maxCommandBytes: 25 };
  t.same(read('a X {4+}\r\nabcd {4+}\r\nefgh\r\n', limits), [cmd('a', 'X', [str('abcd'), str('efgh')])]);
  t.same(read(`a X {4+}\r\nabcd {6}\r\n${NOOP_B}`, limits), [err(E.LITERAL_TOO_LARGE, 'a'), cmd('b', 'NOOP')]);
});

t.test('reader: maxArgs at the cap is accepted, one more is refused with the tag', async (t) => {
  const limits = { maxArgs: 4 };
  t.same(read('a X 1 2 3 4\r\n', limits), [cmd('a', 'X', [atom('1'), atom('2'), atom('3'), atom('4')])]);
  t.same(read(`a X 1 2 3 4 5\r\n${NOOP_B}`, limits), [err(E.TOO_MANY_ARGS, 'a'), cmd('b', 'NOOP')]);
  t.same(read(`a X (1 2 (3))\r\n${NOOP_B}`, limits), [err(E.TOO_MANY_ARGS, 'a'), cmd('b', 'NOOP')], 'lists and items count');
  t.same(read(`a X 1 2 3 4 {1}\r\n${NOOP_B}`, limits), [err(E.TOO_MANY_ARGS, 'a'), cmd('b', 'NOOP')], 'literals count');
  t.same(read(`a X 1 2 3 4 {1+}\r\nx\r\n${NOOP_B}`, limits), [err(E.TOO_MANY_ARGS, 'a'), cmd('b', 'NOOP')]);
});

t.test('reader: the default maxArgs fits an ID list of 30 pairs', async (t) => {
  const pairs = Array.from({ length: 30 }, (_, i) => `"k${i}" "v"`).join(' ');
  const events = read(`a ID (${pairs})\r\n`);
  t.equal(events[0]?.type, 'command');
});

t.test('reader: maxListDepth at the cap is accepted, one deeper is refused', async (t) => {
  t.same(read('a X ((x))\r\n', { maxListDepth: 2 }), [
    cmd('a', 'X', [{ kind: 'list', items: [{ kind: 'list', items: [atom('x')] }] }]),
  ]);
  t.same(read(`a X (((x)))\r\n${NOOP_B}`, { maxListDepth: 2 }), [err(E.TOO_MANY_ARGS, 'a'), cmd('b', 'NOOP')]);
  t.same(read(`a X ()\r\n${NOOP_B}`, { maxListDepth: 0 }), [err(E.TOO_MANY_ARGS, 'a'), cmd('b', 'NOOP')]);
  t.same(read(`a X ${'('.repeat(5000)}\r\n${NOOP_B}`), [err(E.TOO_MANY_ARGS, 'a'), cmd('b', 'NOOP')], 'deep nesting');
});

t.test('reader: limits are validated and defaulted', async (t) => {
  t.same(new ImapCommandReader().limits, DEFAULT_IMAP_READER_LIMITS);
  t.equal(new ImapCommandReader({ maxArgs: 3 }).limits.maxArgs, 3);
  t.throws(() => new ImapCommandReader({ maxLineBytes: 0 }), { code: 'ERR_INVALID_LIMIT' });
  t.throws(() => new ImapCommandReader({ maxLiteralBytes: 1.5 }), { code: 'ERR_INVALID_LIMIT' });
  t.throws(() => new ImapCommandReader({ maxListDepth: -1 }), { code: 'ERR_INVALID_LIMIT' });
  t.throws(() => new ImapCommandReader({ maxArgs: Number.NaN }), { code: 'ERR_INVALID_LIMIT' });
});

t.test('reader: bufferedBytes counts unread bytes', async (t) => {
  const reader = new ImapCommandReader();
  reader.push(bytes('a NOOP\r\nb NO'));
  t.equal(reader.bufferedBytes, 12);
  reader.next();
  t.equal(reader.bufferedBytes, 4);
  t.equal(reader.next(), null);
  t.equal(reader.bufferedBytes, 4);
});

t.test('reader: empty chunks change nothing', async (t) => {
  const reader = new ImapCommandReader();
  t.same(drive(reader, [Buffer.alloc(0), bytes('a NOOP\r'), Buffer.alloc(0), bytes('\n')]), [cmd('a', 'NOOP')]);
});

t.test('reader: one byte at a time and random splits give the events of one chunk', async (t) => {
  const transcript = bytes(
    [
      'a1 CAPABILITY',
      'a2 ID ("name" "Thunder\\"bird" "version" {3+}',
      '1.0 "os" NIL)',
      'a3 LOGIN {4}',
      'us\xe9r {8}',
      'p\x01\xff\r\nx\ty',
      'a4 LOGIN "x\\y" {6+}',
      'z NOOP',
      '',
      'bad+ NOOP',
      'a5 LOGIN {70000}',
      'a6 X (a (b c) ()) 1:* \\Seen',
      'a7 NOOP',
      '',
    ].join('\r\n') + 'a8 NOOP\na9 X {2+}\n\r\n\r\n',
  );
  const reference = drive(new ImapCommandReader(), [transcript]);
  t.equal(reference.filter((event) => event.type === 'command').length, 7);
  t.equal(reference.filter((event) => event.type === 'literal-wait').length, 2);
  t.equal(reference.filter((event) => event.type === 'error').length, 4);
  t.same(drive(new ImapCommandReader(), split(transcript, 'bytes')), reference, 'one byte at a time');
  for (let seed = 1; seed <= 200; seed++) {
    const events = drive(new ImapCommandReader(), split(transcript, seed));
    if (!t.same(events, reference, `random split ${seed}`)) {
      break;
    }
  }
});

t.test('reader: a long line fed one byte at a time stays linear', async (t) => {
  const line = bytes(`a X ${'y'.repeat(8000)}\r\n`);
  const started = performance.now();
  const events = drive(new ImapCommandReader(), split(line, 'bytes'));
  t.equal(events.length, 1);
  t.ok(performance.now() - started < 2000);
});
