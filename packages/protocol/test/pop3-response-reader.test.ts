import t from 'tap';
import {
  BACKEND_PROTOCOL_ERROR,
  DEFAULT_POP3_RESPONSE_READER_LIMITS,
  Pop3ResponseReader,
  parsePop3Capabilities,
  type Pop3Response,
} from '../src/index.ts';
import { bytes, split } from './helpers.ts';

/** Reads responses in the given modes, pushing `pieces` one at a time. */
function readAll(reader: Pop3ResponseReader, pieces: Buffer[], modes: boolean[]): Pop3Response[] {
  const out: Pop3Response[] = [];
  for (const piece of pieces) {
    reader.push(piece);
    for (let r = reader.next(modes[out.length]); r !== null; r = reader.next(modes[out.length])) out.push(r);
  }
  return out;
}

function read(text: string, modes: boolean[] = [], maxResponseBytes?: number): Pop3Response[] {
  const limits = maxResponseBytes === undefined ? {} : { maxResponseBytes };
  return readAll(new Pop3ResponseReader(limits), [bytes(text)], modes);
}

const summary = (rs: Pop3Response[]): unknown[] => rs.map(({ status, code, text, lines }) => ({ status, code, text, lines }));

t.test('pop3 response reader: a greeting with the [XCLIENT] code, single-line replies and codes', async (t) => {
  const text =
    '+OK [XCLIENT] Dovecot (Debian) ready.\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n-ERR [SYS/TEMP] try later\n' +
    '+ok Logged in.\r\n-ERR [IN-USE]\r\n-ERR [bad code] x\r\n-ERR [] x\r\n-ERR [no end\r\n+OK [SYS/PERM]glued\r\n-ERR\r\n';
  t.same(summary(read(text)), [
    { status: 'OK', code: 'XCLIENT', text: 'Dovecot (Debian) ready.', lines: null },
    { status: 'OK', code: null, text: '', lines: null },
    { status: 'ERR', code: 'AUTH', text: 'Authentication failed.', lines: null },
    { status: 'ERR', code: 'SYS/TEMP', text: 'try later', lines: null },
    { status: 'OK', code: null, text: 'Logged in.', lines: null },
    { status: 'ERR', code: 'IN-USE', text: '', lines: null },
    { status: 'ERR', code: null, text: '[bad code] x', lines: null },
    { status: 'ERR', code: null, text: '[] x', lines: null },
    { status: 'ERR', code: null, text: '[no end', lines: null },
    { status: 'OK', code: 'SYS/PERM', text: 'glued', lines: null },
    { status: 'ERR', code: null, text: '', lines: null },
  ]);
  t.same(read('+OK a\r\n')[0]?.raw, bytes('+OK a\r\n'));
});

t.test('pop3 response reader: SASL challenges', async (t) => {
  t.same(summary(read('+ \r\n+\r\n+ VXNlcm5hbWU6\r\n')), [
    { status: null, code: null, text: '', lines: null },
    { status: null, code: null, text: '', lines: null },
    { status: null, code: null, text: 'VXNlcm5hbWU6', lines: null },
  ]);
});

t.test('pop3 response reader: a multi-line CAPA, dot-unstuffed, in every split', async (t) => {
  const capa = '+OK Capability list follows\r\nTOP\r\nSASL PLAIN LOGIN\r\n..dotted\r\n.\r\n';
  const text = `${capa}-ERR x\r\n`;
  const expected = [
    { status: 'OK', code: null, text: 'Capability list follows', lines: ['TOP', 'SASL PLAIN LOGIN', '.dotted'] },
    { status: 'ERR', code: null, text: 'x', lines: null },
  ];
  const whole = read(text, [true, true]);
  t.same(summary(whole), expected);
  t.same(whole[0]?.raw, bytes(capa), 'raw bytes as received');
  t.same(summary(readAll(new Pop3ResponseReader(), split(bytes(text), 'bytes'), [true, true])), expected, 'one byte at a time');
  for (let seed = 1; seed <= 30; seed++) {
    t.same(summary(readAll(new Pop3ResponseReader(), split(bytes(text), seed), [true, true])), expected, `random split ${seed}`);
  }
  t.same(summary(read('+OK\n.\n', [true])), [{ status: 'OK', code: null, text: '', lines: [] }], 'empty list, lone LFs');
  t.same(summary(read('-ERR no CAPA\r\n', [true])), [{ status: 'ERR', code: null, text: 'no CAPA', lines: null }], '-ERR is one line');
});

t.test('pop3 response reader: nothing is read ahead; takeBuffered() returns the rest', async (t) => {
  const reader = new Pop3ResponseReader();
  reader.push(bytes('+OK Logged in.\r\n+OK 2 320\r\n'));
  t.equal(reader.next()?.text, 'Logged in.');
  t.equal(reader.bufferedBytes, 11);
  t.same(reader.takeBuffered(), bytes('+OK 2 320\r\n'));
  t.equal(reader.next(), null);
  reader.push(bytes('+OK list\r\nA\r\n'));
  t.equal(reader.next(true), null, 'a multi-line response still arriving');
  t.same(reader.takeBuffered(), bytes('+OK list\r\nA\r\n'));
  t.same(summary(readAll(reader, [bytes('+OK\r\n.\r\n')], [true])), [{ status: 'OK', code: null, text: '', lines: [] }], 'framing restarts');
});

t.test('pop3 response reader: maxResponseBytes at the cap is accepted, one byte over throws', async (t) => {
  const line = `+OK ${'x'.repeat(94)}\r\n`; // 100 bytes
  t.equal(read(line, [], 100).length, 1);
  t.throws(() => read(`+OK ${'x'.repeat(95)}\r\n`, [], 100), { code: BACKEND_PROTOCOL_ERROR });
  const multi = `+OK\r\n${'y'.repeat(90)}\r\n.\r\n`; // 100 bytes
  t.equal(read(multi, [true], 100).length, 1);
  t.throws(() => read(multi, [true], 99), { code: BACKEND_PROTOCOL_ERROR });
  const reader = new Pop3ResponseReader({ maxResponseBytes: 10 });
  reader.push(bytes('+OK 123456'));
  t.equal(reader.next(), null);
  reader.push(bytes('7'));
  t.throws(() => reader.next(), { code: BACKEND_PROTOCOL_ERROR }, 'refused before the line ends');
});

t.test('pop3 response reader: a broken store throws, then throws the same error and ignores input', async (t) => {
  for (const bad of ['', '* OK IMAP here', 'OK', '+OKAY', '+OK\tx', 'HTTP/1.1 400 Bad Request', '-ERRx']) {
    t.throws(() => read(`${bad}\r\n`), { code: BACKEND_PROTOCOL_ERROR }, JSON.stringify(bad));
  }
  const reader = new Pop3ResponseReader();
  reader.push(bytes('garbage\r\n'));
  let first: unknown;
  try {
    reader.next();
  } catch (err) {
    first = err;
  }
  reader.push(bytes('+OK\r\n'));
  t.equal(reader.bufferedBytes, 0);
  t.throws(() => reader.next(), first as Error);
});

t.test('pop3 response reader: limits are validated and defaulted', async (t) => {
  t.same(new Pop3ResponseReader().limits, DEFAULT_POP3_RESPONSE_READER_LIMITS);
  t.throws(() => new Pop3ResponseReader({ maxResponseBytes: 0 }), { code: 'ERR_INVALID_LIMIT' });
});

t.test('parsePop3Capabilities: names upper-cased, arguments split, lines with odd bytes dropped', async (t) => {
  t.same(parsePop3Capabilities(['top', 'SASL  PLAIN LOGIN', '', 'IMPLEMENTATION Dovecot\x01', 'LOGIN-DELAY 900', 'X\xe9']), [
    { name: 'TOP', args: [] },
    { name: 'SASL', args: ['PLAIN', 'LOGIN'] },
    { name: 'LOGIN-DELAY', args: ['900'] },
  ]);
});
