import t from 'tap';
import { decompressRtf, rtfCrc32, TnefError } from '../src/index.ts';
import { buf, fixture, u32 } from './helpers.ts';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const text = (bytes: Uint8Array): string => buf(bytes).toString('latin1');

// MS-OXRTFCP §3.1.1 and §3.1.2, and MimeKit's MELA and bad-CRC vectors (fixtures README).
const SPEC_COMPRESSED = hex('2d0000002b0000004c5a4675f1c5c7a703000a007263706731323542320af32068656c090020627705b06c647d0a800fa0');
const SPEC_OVERLAP = hex('1a0000001c0000004c5a4675e2d44b51410004205758595a0d6e7d010eb0');

function withRawSize(input: Buffer, rawSize: number): Buffer {
  const copy = Buffer.from(input);
  copy.writeUInt32LE(rawSize, 4);
  return copy;
}

t.test('compressed RTF: the MS-OXRTFCP example decompresses, CRC valid', async (t) => {
  t.equal(text(decompressRtf(SPEC_COMPRESSED)), '{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n');
  t.equal(rtfCrc32(SPEC_COMPRESSED.subarray(16)), 0xa7c7c5f1);
});

t.test('compressed RTF: a reference overlapping the write position repeats bytes', async (t) => {
  t.equal(text(decompressRtf(SPEC_OVERLAP)), '{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}');
});

t.test('compressed RTF: MELA is stored; its CRC field is ignored', async (t) => {
  const body = Buffer.from('{\\rtf1\\ansi\\ansicpg1252\\pard test}');
  const input = Buffer.concat([hex('2e000000220000004d454c4120df12ce'), body]);
  t.equal(text(decompressRtf(input)), body.toString('latin1'));
  t.equal(text(decompressRtf(withRawSize(input, 10))), '{\\rtf1\\ans', 'trimmed to RAWSIZE');
  t.equal(text(decompressRtf(withRawSize(input, 1000))), body.toString('latin1'), 'no more than is there');
});

t.test('compressed RTF: a bad CRC throws ERR_RTF_CRC', async (t) => {
  t.throws(() => decompressRtf(hex('10000000110000004c5a4675ffffffff')), { code: 'ERR_RTF_CRC' });
  const damaged = Buffer.from(SPEC_COMPRESSED);
  damaged[30] = (damaged[30] as number) ^ 0x01;
  t.throws(() => decompressRtf(damaged), { code: 'ERR_RTF_CRC' });
});

t.test('compressed RTF: output is trimmed to RAWSIZE, or shorter when the data ends first', async (t) => {
  t.equal(text(decompressRtf(withRawSize(SPEC_COMPRESSED, 10))), '{\\rtf1\\ans');
  t.equal(text(decompressRtf(withRawSize(SPEC_OVERLAP, 100))), '{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}', 'the end marker stops it');
  t.equal(decompressRtf(withRawSize(SPEC_OVERLAP, 0)).length, 0);
});

t.test('compressed RTF: header problems throw ERR_RTF_FORMAT', async (t) => {
  t.throws(() => decompressRtf(new Uint8Array(15)), { code: 'ERR_RTF_FORMAT' }, 'shorter than the header');
  t.throws(() => decompressRtf(hex('10000000110000004c5a4676ffffffff')), { code: 'ERR_RTF_FORMAT' }, 'unknown COMPTYPE');
  t.throws(() => decompressRtf(hex('08000000110000004c5a4675ffffffff')), { code: 'ERR_RTF_FORMAT' }, 'COMPSIZE below 12');
  // COMPSIZE claims more than is there, though the CRC of what is there matches.
  const data = SPEC_COMPRESSED.subarray(16);
  const claimed = Buffer.concat([u32(12 + data.length + 8), u32(43), hex('4c5a4675'), u32(rtfCrc32(data)), data]);
  t.throws(() => decompressRtf(claimed), { code: 'ERR_RTF_FORMAT' }, 'COMPSIZE past the input');
});

t.test('compressed RTF: a RAWSIZE over the limit is refused before allocating', async (t) => {
  const huge = withRawSize(SPEC_COMPRESSED, 0xffffffff);
  t.throws(() => decompressRtf(huge), { code: 'ERR_TNEF_LIMIT' });
  t.throws(() => decompressRtf(SPEC_COMPRESSED, { maxOutputBytes: 42 }), { code: 'ERR_TNEF_LIMIT' }, 'one byte over');
  t.equal(decompressRtf(SPEC_COMPRESSED, { maxOutputBytes: 43 }).length, 43, 'at the cap');
  try {
    decompressRtf(huge);
  } catch (error) {
    t.ok(error instanceof TnefError);
  }
});

t.test('compressed RTF: the three values cut from the samples decompress byte-exact', async (t) => {
  const cases = [
    ['rtf.tnef', 'verdammelt-tnef/expected/rtf-body.rtf.baseline', 405, 593, 0x2976cf44],
    ['quick-winmail.dat', 'poi-hmef/quick-contents/message.rtf', 5903, 25528, 0x01fc42a2],
    ['multi-value-attribute.tnef', 'verdammelt-tnef/expected/multi-value-attribute-body.rtf.baseline', 794, 1796, 0x9522822f],
  ] as const;
  for (const [sample, expected, compSize, rawSize, crc] of cases) {
    const input = fixture(`compressed-rtf/${sample}.PR_RTF_COMPRESSED.bin`);
    t.same([input.readUInt32LE(0), input.readUInt32LE(4), input.readUInt32LE(12)], [compSize, rawSize, crc], `${sample}: header`);
    t.ok(buf(decompressRtf(input)).equals(fixture(expected)), `${sample}: byte-exact`);
  }
  const quick = decompressRtf(fixture('compressed-rtf/quick-winmail.dat.PR_RTF_COMPRESSED.bin'));
  t.equal(text(quick.subarray(0, 25)), '{\\rtf1\\adeflang1025\\ansi\\');
  t.match(text(quick.subarray(0, 40)), /^\{\\rtf1\\adeflang1025\\ansi\\ansicpg1252/);
});
