import t from 'tap';
import { PROXY_V1_MAX_BYTES, PROXY_V2_SIGNATURE, ProxyHeaderReader, type ProxyHeaderResult } from '../src/index.ts';
import { split } from './helpers.ts';

/** Feeds `input` in pieces; returns the first final result (or the last need-more). */
function feed(input: Buffer, mode: 'whole' | 'bytes' | number = 'whole', limits = {}): ProxyHeaderResult {
  const r = new ProxyHeaderReader(limits);
  let last: ProxyHeaderResult = { state: 'need-more' };
  for (const piece of split(input, mode)) {
    last = r.push(piece);
    if (last.state !== 'need-more') return last;
  }
  return last;
}

function v2(verCmd: number, fam: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = verCmd;
  head[1] = fam;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, body]);
}

const v4Body = (extra: Buffer = Buffer.alloc(0)): Buffer => Buffer.concat([Buffer.from([192, 0, 2, 7, 127, 0, 0, 1, 0xc3, 0x50, 0x00, 0x8f]), extra]);
const errorOf = (r: ProxyHeaderResult): string => (r.state === 'error' ? `${r.code}: ${r.reason}` : r.state);

t.test('v1 TCP4 and TCP6 at every split; the bytes after the header are returned', async (t) => {
  for (const mode of ['whole', 'bytes', 1, 2, 3] as const) {
    const r = feed(Buffer.from('PROXY TCP4 192.0.2.7 127.0.0.1 50000 143\r\na CAPABILITY\r\n'), mode);
    if (mode === 'whole') {
      t.same(r, {
        state: 'done',
        header: { version: 1, command: 'proxy', family: 'tcp4', source: { address: '192.0.2.7', port: 50000 }, destination: { address: '127.0.0.1', port: 143 }, length: 42 },
        rest: Buffer.from('a CAPABILITY\r\n'),
      });
    } else {
      t.match(r, { state: 'done', header: { source: { address: '192.0.2.7' } } }, String(mode));
    }
  }
  for (const [src, dst] of [['2001:db8::7', '::1'], ['::ffff:192.0.2.7', '1:2:3:4:5:6:7:8'], ['1:2:3:4:5:6:1.2.3.4', 'fe80::'], ['::1.2.3.4', '::']] as const) {
    const r = feed(Buffer.from(`PROXY TCP6 ${src} ${dst} 0 65535\r\n`));
    t.match(r, { state: 'done', header: { family: 'tcp6', source: { address: src, port: 0 }, destination: { address: dst, port: 65535 } }, rest: Buffer.alloc(0) }, src);
  }
});

t.test('v1 UNKNOWN: accepted, no addresses, the rest of its line ignored', async (t) => {
  t.match(feed(Buffer.from('PROXY UNKNOWN\r\nX')), { state: 'done', header: { version: 1, family: 'unknown', source: null }, rest: Buffer.from('X') });
  t.match(feed(Buffer.from('PROXY UNKNOWN ff:: ::1 1 2\r\n')), { state: 'done', header: { family: 'unknown' } });
});

t.test('v1 refusals: bad protocol, address, port, shape, line ending and length', async (t) => {
  const bad = [
    'PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n',
    'PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n',
    'PROXY TCP4 ::1 1.2.3.4 1 2\r\n',
    'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
    'PROXY TCP6 ::1 1::2::3 1 2\r\n',
    'PROXY TCP6 ::1 1:2:3:4:5:6:7 1 2\r\n',
    'PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n',
    'PROXY TCP6 ::1 ::g 1 2\r\n',
    'PROXY TCP6 ::1 : 1 2\r\n',
    'PROXY TCP6 ::1 ::1.2.3 1 2\r\n',
    `PROXY TCP6 ::1 ${'0:'.repeat(23)} 1 2\r\n`,
    'PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 1 02\r\n',
    'PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n',
  ];
  for (const line of bad) t.match(errorOf(feed(Buffer.from(line))), /^ERR_PROXY_HEADER: v1 /, JSON.stringify(line));
  // At the cap: 107 bytes with CRLF is accepted; 108 is not (and is refused without waiting for a LF).
  const atCap = `PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_BYTES - 16)}\r\n`;
  t.equal(atCap.length, PROXY_V1_MAX_BYTES);
  t.match(feed(Buffer.from(atCap), 'bytes'), { state: 'done' });
  t.equal(errorOf(feed(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_BYTES - 15)}\r\n`))), 'ERR_PROXY_HEADER: v1 line too long');
  t.equal(errorOf(feed(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(200)}`), 'bytes')), 'ERR_PROXY_HEADER: v1 line too long');
  t.same(feed(Buffer.from('PROXY TCP4 1.2.3.4')), { state: 'need-more' });
});

t.test('no header: anything else is refused as soon as it differs, never guessed at', async (t) => {
  t.equal(errorOf(feed(Buffer.from('a LOGIN x y\r\n'))), 'ERR_PROXY_HEADER: no PROXY header');
  t.equal(errorOf(feed(Buffer.from('PROXX'), 'bytes')), 'ERR_PROXY_HEADER: no PROXY header');
  t.equal(errorOf(feed(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]))), 'ERR_PROXY_HEADER: no PROXY header');
  t.same(feed(Buffer.from('PROX')), { state: 'need-more' });
  t.same(feed(PROXY_V2_SIGNATURE.subarray(0, 5)), { state: 'need-more' });
  const r = new ProxyHeaderReader();
  r.push(Buffer.from('x'));
  t.equal(errorOf(r.push(Buffer.from('PROXY UNKNOWN\r\n'))), 'ERR_PROXY_HEADER: reader already finished');
});

t.test('v2 PROXY TCP4 and TCP6 at every split, TLVs skipped', async (t) => {
  const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00]); // ALPN "h2", NOOP empty
  const frame = Buffer.concat([v2(0x21, 0x11, v4Body(tlvs)), Buffer.from('a NOOP\r\n')]);
  for (const mode of ['whole', 'bytes', 4, 5] as const) {
    const r = feed(frame, mode);
    t.same(r.state === 'done' ? r.header : r, {
      version: 2, command: 'proxy', family: 'tcp4', source: { address: '192.0.2.7', port: 50000 }, destination: { address: '127.0.0.1', port: 143 }, length: 16 + 12 + 8,
    }, String(mode));
    if (mode === 'whole') t.same(r.state === 'done' && r.rest, Buffer.from('a NOOP\r\n'));
    if (mode === 'bytes') t.same(r.state === 'done' && r.rest, Buffer.alloc(0));
  }
  const six = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000007', 'hex').copy(six, 0);
  six[31] = 1;
  six.writeUInt16BE(443, 32);
  six.writeUInt16BE(993, 34);
  t.match(feed(v2(0x21, 0x21, six)), { state: 'done', header: { family: 'tcp6', source: { address: '2001:db8:0:0:0:0:0:7', port: 443 }, destination: { address: '0:0:0:0:0:0:0:1', port: 993 } } });
});

t.test('v2 LOCAL, UNSPEC, UNIX and datagram: accepted without addresses', async (t) => {
  t.match(feed(v2(0x20, 0x00, Buffer.alloc(0))), { state: 'done', header: { command: 'local', family: 'unknown', source: null, length: 16 } });
  t.match(feed(v2(0x20, 0x11, v4Body())), { state: 'done', header: { command: 'local', source: null, length: 28 } });
  t.match(feed(v2(0x21, 0x00, Buffer.alloc(0))), { state: 'done', header: { command: 'proxy', family: 'unknown' } });
  t.match(feed(v2(0x21, 0x31, Buffer.alloc(216))), { state: 'done', header: { command: 'proxy', family: 'unknown' } });
  t.match(feed(v2(0x21, 0x12, v4Body())), { state: 'done', header: { family: 'unknown', source: null } });
});

t.test('v2 refusals: version, command, family, transport, short addresses, TLV lengths, the size limit', async (t) => {
  const cases: Array<[Buffer, string]> = [
    [v2(0x11, 0x11, v4Body()), 'v2 version must be 2'],
    [v2(0x22, 0x11, v4Body()), 'v2 command must be LOCAL or PROXY'],
    [v2(0x21, 0x41, v4Body()), 'v2 unknown address family'],
    [v2(0x21, 0x13, v4Body()), 'v2 unknown transport'],
    [v2(0x21, 0x11, Buffer.alloc(11)), 'v2 length too short for its addresses'],
    [v2(0x21, 0x21, Buffer.alloc(35)), 'v2 length too short for its addresses'],
    [v2(0x21, 0x11, v4Body(Buffer.from([0x01, 0x00]))), 'v2 truncated TLV'],
    [v2(0x21, 0x11, v4Body(Buffer.from([0x01, 0x00, 0x02, 0x68]))), 'v2 TLV overruns the header'],
  ];
  for (const [frame, reason] of cases) t.equal(errorOf(feed(frame)), `ERR_PROXY_HEADER: ${reason}`, reason);
  // The limit, at the cap and one byte over.
  const body = (n: number): Buffer => v4Body(Buffer.concat([Buffer.from([0x04]), Buffer.from([(n >> 8) & 0xff, n & 0xff]), Buffer.alloc(n)]));
  const atCap = v2(0x21, 0x11, body(100 - 16 - 12 - 3));
  t.equal(atCap.length, 100);
  t.match(feed(atCap, 'whole', { maxV2Bytes: 100 }), { state: 'done' });
  t.equal(errorOf(feed(v2(0x21, 0x11, body(100 - 16 - 12 - 2)), 'bytes', { maxV2Bytes: 100 })), 'ERR_PROXY_HEADER: v2 header over the limit');
  t.same(feed(v2(0x21, 0x11, v4Body()).subarray(0, 20)), { state: 'need-more' });
});
