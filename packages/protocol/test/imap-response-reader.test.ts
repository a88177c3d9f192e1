import t from 'tap';
import {
  BACKEND_PROTOCOL_ERROR,
  DEFAULT_IMAP_RESPONSE_READER_LIMITS,
  ImapResponseReader,
  parseCapabilities,
  type ImapResponse,
} from '../src/index.ts';
import { bytes, split } from './helpers.ts';

function readAll(reader: ImapResponseReader, pieces: Buffer[]): ImapResponse[] {
  const responses: ImapResponse[] = [];
  for (const piece of pieces) {
    reader.push(piece);
    for (let response = reader.next(); response !== null; response = reader.next()) {
      responses.push(response);
    }
  }
  return responses;
}

function read(text: string, maxResponseBytes?: number): ImapResponse[] {
  const limits = maxResponseBytes === undefined ? {} : { maxResponseBytes };
  return readAll(new ImapResponseReader(limits), [bytes(text)]);
}

t.test('response reader: a greeting with a CAPABILITY code', async (t) => {
  const greeting = '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\r\n';
  const [response] = read(greeting);
  t.same(response, {
    raw: bytes(greeting),
    kind: 'untagged',
    tag: null,
    status: 'OK',
    code: 'CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN',
    text: 'Dovecot ready.',
  });
  t.same(parseCapabilities(response?.code ?? ''), [
    'IMAP4rev1', 'SASL-IR', 'LOGIN-REFERRALS', 'ID', 'ENABLE', 'IDLE', 'LITERAL+', 'STARTTLS', 'AUTH=PLAIN',
  ]);
});

t.test('response reader: untagged statuses, tagged statuses and continuations', async (t) => {
  const responses = read(
    '* PREAUTH ready\r\n* bye [UNAVAILABLE] later\r\n* NO\r\na1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n' +
      'a2 no [AUTHENTICATIONFAILED] Authentication failed.\r\na3 BAD Error in IMAP command\r\n+ Ready\r\n+\r\n+ dGVzdA==\r\n+ [ALERT] x\r\n',
  );
  t.same(
    responses.map(({ kind, tag, status, code, text }) => ({ kind, tag, status, code, text })),
    [
      { kind: 'untagged', tag: null, status: 'PREAUTH', code: null, text: 'ready' },
      { kind: 'untagged', tag: null, status: 'BYE', code: 'UNAVAILABLE', text: 'later' },
      { kind: 'untagged', tag: null, status: 'NO', code: null, text: '' },
      { kind: 'tagged', tag: 'a1', status: 'OK', code: 'CAPABILITY IMAP4rev1 IDLE', text: 'Logged in' },
      { kind: 'tagged', tag: 'a2', status: 'NO', code: 'AUTHENTICATIONFAILED', text: 'Authentication failed.' },
      { kind: 'tagged', tag: 'a3', status: 'BAD', code: null, text: 'Error in IMAP command' },
      { kind: 'continuation', tag: null, status: null, code: null, text: 'Ready' },
      { kind: 'continuation', tag: null, status: null, code: null, text: '' },
      { kind: 'continuation', tag: null, status: null, code: null, text: 'dGVzdA==' },
      { kind: 'continuation', tag: null, status: null, code: 'ALERT', text: 'x' },
    ],
  );
});

t.test('response reader: untagged data keeps everything after "* " as text', async (t) => {
  const [capability, exists] = read('* CAPABILITY IMAP4rev1 LITERAL+ ID\r\n* 3 EXISTS\r\n');
  t.same(capability?.text, 'CAPABILITY IMAP4rev1 LITERAL+ ID');
  t.equal(capability?.status, null);
  t.same(parseCapabilities(capability?.text ?? ''), ['IMAP4rev1', 'LITERAL+', 'ID']);
  t.same(exists?.text, '3 EXISTS');
});

t.test('response reader: a response code without "]" is text', async (t) => {
  const [response] = read('a OK [ALERT no end\r\n');
  t.equal(response?.code, null);
  t.equal(response?.text, '[ALERT no end');
  const [glued] = read('a OK [READ-WRITE]done\r\n');
  t.equal(glued?.text, 'done');
});

t.test('response reader: a literal inside an untagged response belongs to it', async (t) => {
  const literal = 'ab\r\na1 OK fake\r\n\xff';
  const fetch = `* 1 FETCH (BODY[] {${literal.length}}\r\n${literal} FLAGS (\\Seen))\r\n`;
  const transcript = `${fetch}a1 OK done\r\n`;
  const responses = read(transcript);
  t.equal(responses.length, 2);
  t.same(responses[0]?.raw, bytes(fetch));
  t.equal(responses[0]?.kind, 'untagged');
  t.same(responses[1]?.raw, bytes('a1 OK done\r\n'));
  t.same(readAll(new ImapResponseReader(), split(bytes(transcript), 'bytes')), responses, 'one byte at a time');
  for (let seed = 1; seed <= 50; seed++) {
    t.same(readAll(new ImapResponseReader(), split(bytes(transcript), seed)), responses, `random split ${seed}`);
  }
});

t.test('response reader: several literals, a literal8, a literal+, a lone LF and a literal ending the response', async (t) => {
  const text = '* X {2}\r\nab {3}\nc\nd ~{1}\r\nz\r\n* Y {2+}\r\n\r\n\r\na OK\n';
  const responses = read(text);
  t.same(
    responses.map((response) => response.raw.toString('latin1')),
    ['* X {2}\r\nab {3}\nc\nd ~{1}\r\nz\r\n', '* Y {2+}\r\n\r\n\r\n', 'a OK\n'],
  );
  t.same(readAll(new ImapResponseReader(), split(bytes(text), 'bytes')), responses);
});

t.test('response reader: text that merely ends in "}" is not a literal', async (t) => {
  t.same(
    read('* OK {x}\r\n* OK }\r\n* OK 12}\r\n}\r\n* OK {}\r\n'.replace('}\r\n}', '}\r\n* OK ok}')).map((r) => r.text),
    ['{x}', '}', '12}', 'ok}', '{}'],
  );
});

t.test('response reader: takeBuffered() after the tagged reply returns exactly the rest', async (t) => {
  const reader = new ImapResponseReader();
  reader.push(bytes('a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n* 2 EXISTS\r\n* 1 FETCH (BODY[] {5}\r\nab'));
  t.equal(reader.next()?.tag, 'a1');
  t.equal(reader.bufferedBytes, 37);
  t.same(reader.takeBuffered(), bytes('* 2 EXISTS\r\n* 1 FETCH (BODY[] {5}\r\nab'));
  t.equal(reader.bufferedBytes, 0);
  t.equal(reader.next(), null);
});

t.test('response reader: takeBuffered() while a literal is arriving restarts framing', async (t) => {
  const reader = new ImapResponseReader();
  t.same(readAll(reader, [bytes('* 1 FETCH (BODY[] {5}\r\nab')]), []);
  t.same(reader.takeBuffered(), bytes('* 1 FETCH (BODY[] {5}\r\nab'));
  t.same(
    readAll(reader, [bytes('a OK x\r\n')]).map((r) => r.tag),
    ['a'],
  );
});

t.test('response reader: maxResponseBytes at the cap is accepted, one byte over throws', async (t) => {
  const line = `* OK ${'x'.repeat(93)}\r\n`; // 100 bytes
  t.equal(read(line, 100).length, 1);
  t.throws(() => read(`* OK ${'x'.repeat(94)}\r\n`, 100), { code: BACKEND_PROTOCOL_ERROR });
  const withLiteral = '* 1 FETCH {80}\r\n' + 'y'.repeat(80) + '\r\n'; // 98 bytes
  t.equal(read(withLiteral, 98).length, 1);
  t.throws(() => read(withLiteral, 97), { code: BACKEND_PROTOCOL_ERROR });
});

t.test('response reader: an oversized response is refused before its end arrives', async (t) => {
  const reader = new ImapResponseReader({ maxResponseBytes: 100 });
  reader.push(bytes('x'.repeat(100)));
  t.equal(reader.next(), null);
  reader.push(bytes('x'));
  t.throws(() => reader.next(), { code: BACKEND_PROTOCOL_ERROR });
  const announced = new ImapResponseReader({ maxResponseBytes: 100 });
  announced.push(bytes('* 1 FETCH {1000000}\r\n'));
  t.throws(() => announced.next(), { code: BACKEND_PROTOCOL_ERROR }, 'as soon as the literal is announced');
});

t.test('response reader: after an error it throws the same error again and ignores input', async (t) => {
  const reader = new ImapResponseReader({ maxResponseBytes: 10 });
  reader.push(bytes('* OK this is too long\r\n'));
  let first: unknown;
  try {
    reader.next();
  } catch (error) {
    first = error;
  }
  t.match(first, { code: BACKEND_PROTOCOL_ERROR });
  reader.push(bytes('a OK\r\n'));
  t.equal(reader.bufferedBytes, 0);
  t.throws(() => reader.next(), first as Error);
});

t.test('response reader: malformed responses are back-end protocol errors', async (t) => {
  for (const line of ['', 'a', ' a OK', 'a+ OK x', 'a\xe9 OK', 'a BYE x', 'a PREAUTH', 'a FOO bar', 'a 1 EXISTS']) {
    t.throws(() => read(`${line}\r\n`), { code: BACKEND_PROTOCOL_ERROR }, JSON.stringify(line));
  }
});

t.test('response reader: absurd literal sizes are refused', async (t) => {
  t.throws(() => read('* X {1234567890123456}\r\n'), { code: BACKEND_PROTOCOL_ERROR }, '16 digits');
  t.throws(() => read(`* X {${'9'.repeat(40)}}\r\n`), { code: BACKEND_PROTOCOL_ERROR }, 'past the examined tail');
  t.throws(() => read(`${'9'.repeat(40)}}\r\n`), { code: BACKEND_PROTOCOL_ERROR }, 'no "{" in a long tail');
  t.throws(() => read('12}\r\n'), { code: BACKEND_PROTOCOL_ERROR }, 'digits and "}" only: no literal, bad tag');
});

t.test('response reader: limits are validated and defaulted', async (t) => {
  t.same(new ImapResponseReader().limits, DEFAULT_IMAP_RESPONSE_READER_LIMITS);
  t.throws(() => new ImapResponseReader({ maxResponseBytes: 0 }), { code: 'ERR_INVALID_LIMIT' });
  t.throws(() => new ImapResponseReader({ maxResponseBytes: 2.5 }), { code: 'ERR_INVALID_LIMIT' });
});

t.test('parseCapabilities: drops the CAPABILITY word, empty words and non-atoms', async (t) => {
  t.same(parseCapabilities('capability IMAP4rev1  IDLE'), ['IMAP4rev1', 'IDLE']);
  t.same(parseCapabilities('IMAP4rev1 AUTH=PLAIN'), ['IMAP4rev1', 'AUTH=PLAIN']);
  t.same(parseCapabilities('IMAP4rev1 X"Y (A) B\r\nC \xe9 D'), ['IMAP4rev1', 'D']);
  t.same(parseCapabilities(''), []);
});
