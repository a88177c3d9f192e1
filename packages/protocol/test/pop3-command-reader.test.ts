import t from 'tap';
import {
  DEFAULT_POP3_READER_LIMITS,
  Pop3CommandReader,
  Pop3ReaderErrorCode,
  type Pop3ReaderEvent,
  type Pop3ReaderLimits,
} from '../src/index.ts';
import { bytes, split } from './helpers.ts';

const E = Pop3ReaderErrorCode;

/** Pushes `pieces` one at a time and drains the reader after each, as a session would. */
function drive(
  reader: Pop3CommandReader,
  pieces: Buffer[],
  onEvent?: (event: Pop3ReaderEvent, reader: Pop3CommandReader) => void,
): Pop3ReaderEvent[] {
  const events: Pop3ReaderEvent[] = [];
  for (const piece of pieces) {
    reader.push(piece);
    for (let event = reader.next(); event !== null; event = reader.next()) {
      events.push(event);
      onEvent?.(event, reader);
    }
  }
  return events;
}

function read(input: string, limits?: Partial<Pop3ReaderLimits>): Pop3ReaderEvent[] {
  return drive(new Pop3CommandReader(limits), [bytes(input)]);
}

function cmd(name: string, argument: string | null = null): Pop3ReaderEvent {
  return { type: 'command', name, argument: argument === null ? null : bytes(argument) };
}

const syntax: Pop3ReaderEvent = { type: 'error', code: E.SYNTAX, fatal: false };
const tooLong: Pop3ReaderEvent = { type: 'error', code: E.LINE_TOO_LONG, fatal: true };

t.test('pop3 reader: keywords are upper-cased; no argument is null, an empty one is empty', async (t) => {
  t.same(read('capa\r\nQuit\r\nUSER \r\n'), [cmd('CAPA'), cmd('QUIT'), cmd('USER', '')]);
});

t.test('pop3 reader: PASS keeps the whole rest of the line, spaces and UTF-8 included', async (t) => {
  const pass = 'pässwörd with  two  spaces ';
  t.same(drive(new Pop3CommandReader(), [Buffer.from(`PASS ${pass}\r\n`, 'utf8')]), [
    { type: 'command', name: 'PASS', argument: Buffer.from(pass, 'utf8') },
  ]);
  t.same(read('PASS a\tb\r\n'), [cmd('PASS', 'a\tb')], 'TAB is allowed');
});

t.test('pop3 reader: a lone LF ends a line; every split gives the same events', async (t) => {
  const input = bytes('USER alice@example.com\nPASS secret\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nQUIT\r\n');
  const expected = [cmd('USER', 'alice@example.com'), cmd('PASS', 'secret'), cmd('AUTH', 'PLAIN AGFsaWNlAHNlY3JldA=='), cmd('QUIT')];
  t.same(drive(new Pop3CommandReader(), split(input, 'whole')), expected);
  t.same(drive(new Pop3CommandReader(), split(input, 'bytes')), expected, 'one byte at a time');
  for (let seed = 1; seed <= 50; seed++) {
    t.same(drive(new Pop3CommandReader(), split(input, seed)), expected, `random split ${seed}`);
  }
});

t.test('pop3 reader: syntax errors are not fatal and the next command is read', async (t) => {
  for (const bad of ['', 'US-ER x', 'USER\tx', '+OK', 'ABCDEFGHIJKLMNOPQ', 'USER a\rb', 'PASS a\0b', 'PASS a\x1bb', ' USER']) {
    t.same(read(`${bad}\r\nNOOP\r\n`), [syntax, cmd('NOOP')], JSON.stringify(bad));
  }
  t.same(read('ABCDEFGHIJKLMNOP\r\n'), [cmd('ABCDEFGHIJKLMNOP')], 'a keyword of 16 bytes');
  t.same(read('PASS \xff\x7f\r\n'), [cmd('PASS', '\xff\x7f')], '8-bit and DEL bytes are kept');
});

t.test('pop3 reader: a command line of maxCommandBytes is read, one byte more is fatal', async (t) => {
  const atLimit = `USER ${'x'.repeat(253 - 5)}`;
  t.equal(atLimit.length, 253);
  t.same(read(`${atLimit}\r\n`), [cmd('USER', atLimit.slice(5))]);
  t.same(read(`${atLimit}\n`), [cmd('USER', atLimit.slice(5))], 'with a lone LF');
  t.same(read(`${atLimit}x\r\nQUIT\r\n`), [tooLong], 'complete line over the limit: nothing after it is read');
  const reader = new Pop3CommandReader();
  t.same(drive(reader, [bytes(atLimit), bytes('\r')]), [], 'a final CR may be the CR of CRLF');
  t.same(drive(reader, [bytes('\n')]), [cmd('USER', atLimit.slice(5))]);
  const early = new Pop3CommandReader();
  t.same(drive(early, [bytes(`${atLimit}x`)]), [tooLong], 'refused before the line ends');
  t.ok(early.destroyed);
  early.push(bytes('QUIT\r\n'));
  t.equal(early.bufferedBytes, 0, 'input after a fatal error is ignored');
  t.equal(early.next(), null);
});

t.test('pop3 reader: an AUTH line may be as long as maxLineBytes, in any case', async (t) => {
  const limits = { maxCommandBytes: 20, maxLineBytes: 40 };
  const ir = 'x'.repeat(40 - 'auth PLAIN '.length);
  t.same(read(`auth PLAIN ${ir}\r\n`, limits), [cmd('AUTH', `PLAIN ${ir}`)]);
  t.same(read(`AuTh PLAIN ${ir}x\r\n`, limits), [tooLong]);
  t.same(drive(new Pop3CommandReader(limits), split(bytes(`AUTH PLAIN ${ir}x`), 'bytes')), [tooLong], 'refused before the end');
  t.same(drive(new Pop3CommandReader(limits), [bytes(`AUTHX ${'y'.repeat(20)}`)]), [tooLong], 'AUTHX is not AUTH');
  t.same(read(`${'AUTH'.padEnd(21, 'x')}\r\n`, limits), [tooLong], 'AUTH without a space is a command line');
});

t.test('pop3 reader: expectLine() returns one raw line, bounded by maxLineBytes', async (t) => {
  const reader = new Pop3CommandReader({ maxCommandBytes: 10, maxLineBytes: 30 });
  const events = drive(reader, [bytes(`AUTH PLAIN\r\n${'A'.repeat(30)}\r\n*\r\nCAPA\r\n`)], (event, r) => {
    if (event.type === 'command' && event.name === 'AUTH') r.expectLine();
  });
  t.same(events, [cmd('AUTH', 'PLAIN'), { type: 'line', line: bytes('A'.repeat(30)) }, syntax, cmd('CAPA')]);
  const over = new Pop3CommandReader({ maxCommandBytes: 10, maxLineBytes: 30 });
  over.expectLine();
  over.expectLine();
  t.same(drive(over, [bytes(`${'A'.repeat(31)}`)]), [tooLong]);
  over.expectLine();
  t.ok(over.destroyed, 'expectLine() after a fatal error does nothing');
  const empty = new Pop3CommandReader();
  empty.expectLine();
  t.same(drive(empty, [bytes('\r\n')]), [{ type: 'line', line: bytes('') }], 'an empty line');
});

t.test('pop3 reader: takeBuffered() returns exactly what follows the command (STLS, the pipe)', async (t) => {
  const reader = new Pop3CommandReader();
  reader.push(bytes('STLS\r\nUSER alice\r\nPASS x'));
  t.same(reader.next(), cmd('STLS'));
  t.equal(reader.bufferedBytes, 18);
  t.same(reader.takeBuffered(), bytes('USER alice\r\nPASS x'));
  t.equal(reader.bufferedBytes, 0);
  t.equal(reader.next(), null);
  reader.expectLine();
  reader.push(bytes('partial'));
  t.equal(reader.next(), null);
  t.same(reader.takeBuffered(), bytes('partial'));
  t.same(drive(reader, [bytes('CAPA\r\n')]), [cmd('CAPA')], 'commands again after takeBuffered() in a raw line');
  const dead = new Pop3CommandReader({ maxCommandBytes: 1, maxLineBytes: 1 });
  t.same(drive(dead, [bytes('xx')]), [tooLong]);
  t.same(dead.takeBuffered(), bytes(''));
  t.ok(dead.destroyed, 'still destroyed');
});

t.test('pop3 reader: limits are validated and defaulted', async (t) => {
  t.same(new Pop3CommandReader().limits, DEFAULT_POP3_READER_LIMITS);
  t.same(DEFAULT_POP3_READER_LIMITS, { maxCommandBytes: 253, maxLineBytes: 8192 });
  t.throws(() => new Pop3CommandReader({ maxCommandBytes: 0 }), { code: 'ERR_INVALID_LIMIT' });
  t.throws(() => new Pop3CommandReader({ maxLineBytes: 1.5 }), { code: 'ERR_INVALID_LIMIT' });
  t.throws(() => new Pop3CommandReader({ maxCommandBytes: 300, maxLineBytes: 299 }), { code: 'ERR_INVALID_LIMIT' });
});
