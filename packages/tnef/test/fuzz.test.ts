// A bounded fuzz test (fixed seed, so a failure reproduces): random mutations of the
// fixture streams — bit flips, interesting 32-bit values over lengths and counts,
// truncation, cut and repeated slices — must decode or fail with a TnefError, never with
// another exception, and must not decompress past the limits. The same for the RTF
// decompressor and reader, and for convertTnefInMessage on mutated messages.
import t from 'tap';
import { convertTnefInMessage, decodeTnef, decompressRtf, readRtfBody, rtfCrc32, TnefError, type TnefMessage } from '../src/index.ts';
import { parseMime } from '../src/mime-parser.ts';
import { fixture, prng } from './helpers.ts';

const ITERATIONS = Number(process.env['TNEF_FUZZ_ITERATIONS'] ?? 2000);
const SEED = Number(process.env['TNEF_FUZZ_SEED'] ?? 0x7e4f);

const SAMPLES = [
  'verdammelt-tnef/one-file.tnef',
  'verdammelt-tnef/two-files.tnef',
  'verdammelt-tnef/body.tnef',
  'verdammelt-tnef/rtf.tnef',
  'verdammelt-tnef/triples.tnef',
  'verdammelt-tnef/long-filename.tnef',
  'verdammelt-tnef/data-before-name.tnef',
  'verdammelt-tnef/multi-value-attribute.tnef',
  'verdammelt-tnef/multi-name-property.tnef',
  'verdammelt-tnef/unicode-mapi-attr.tnef',
  'verdammelt-tnef/unicode-mapi-attr-name.tnef',
  'verdammelt-tnef/garbage-at-end.tnef',
  'tnefparse/IPM-DistList.tnef',
  'tnefparse/minimal_attachment.tnef',
  'poi-hmef/quick-winmail.dat',
  'poi-hmef/bug52400-winmail-simple.dat',
  'poi-hmef/oom.tnef',
  'ytnef/winmail.dat',
  'ytnef/ytnef-oob-TNEFVersion-SwapWord',
  'horde-compress/winmail2.dat',
  'mimekit/christmas.tnef',
].map((path) => fixture(path));

const INTERESTING = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Offsets of the attribute headers of a valid stream (for targeted length corruption). */
function attributeOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  let pos = 6;
  while (pos + 11 <= bytes.length) {
    offsets.push(pos);
    pos += 11 + bytes.readUInt32LE(pos + 5);
  }
  return offsets;
}

function mutate(input: Buffer, random: () => number): Buffer {
  const pick = (n: number): number => Math.floor(random() * n);
  const bytes = Buffer.from(input);
  const rounds = 1 + pick(4);
  let out = bytes;
  for (let r = 0; r < rounds; r++) {
    if (out.length === 0) break;
    const pos = pick(out.length);
    switch (pick(8)) {
      case 0:
        out[pos] = (out[pos] as number) ^ (1 << pick(8));
        break;
      case 1:
        out[pos] = pick(256);
        break;
      case 2:
        if (pos + 4 <= out.length) out.writeUInt32LE((INTERESTING[pick(INTERESTING.length)] as number) >>> 0, pos);
        break;
      case 3: {
        // A length or id of a real attribute, or a count just inside its data.
        const offsets = attributeOffsets(out);
        const at = offsets[pick(offsets.length)];
        if (at === undefined) break;
        const field = at + [1, 5, 9, 13][pick(4)]!;
        const value = pick(2) === 0 ? (INTERESTING[pick(INTERESTING.length)] as number) : out.readUInt32LE(Math.min(field, out.length - 4)) + pick(9) - 4;
        if (field + 4 <= out.length) out.writeUInt32LE(value >>> 0, field);
        break;
      }
      case 4:
        out = out.subarray(0, pos);
        break;
      case 5: {
        const end = Math.min(out.length, pos + pick(64));
        out = Buffer.concat([out.subarray(0, pos), out.subarray(end)]);
        break;
      }
      case 6: {
        const end = Math.min(out.length, pos + pick(64));
        out = Buffer.concat([out.subarray(0, end), out.subarray(pos, end), out.subarray(end)]);
        break;
      }
      default:
        if (pos + 2 <= out.length) out.writeUInt16LE(pick(0x10000), pos);
    }
  }
  return out;
}

function totalRtf(message: TnefMessage): number {
  return (
    (message.body.rtf?.length ?? 0) +
    message.attachments.reduce((n, a) => n + (a.kind === 'message' ? totalRtf(a.embedded) : 0), 0)
  );
}

t.test(`fuzz: ${ITERATIONS} mutated streams decode or throw TnefError, within the limits`, async (t) => {
  const random = prng(SEED);
  const limits = { maxDecompressedBytes: 4 * 1024 * 1024, maxNestingDepth: 4 };
  const codes = new Map<string, number>();
  let decoded = 0;
  let unexpected = 0;
  const started = Date.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(SAMPLES[Math.floor(random() * SAMPLES.length)] as Buffer, random);
    try {
      const message = decodeTnef(input, { limits, strict: random() < 0.2 });
      decoded++;
      if (totalRtf(message) > limits.maxDecompressedBytes) {
        t.fail(`iteration ${i}: ${totalRtf(message)} decompressed bytes`);
      }
    } catch (error) {
      if (error instanceof TnefError) {
        codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
      } else {
        unexpected++;
        t.fail(`iteration ${i}: ${(error as Error).stack ?? String(error)}`);
        if (unexpected > 5) break;
      }
    }
  }
  t.equal(unexpected, 0, 'only TnefError');
  t.ok(decoded > 0 && codes.size >= 3, `decoded ${decoded}, failed with ${JSON.stringify(Object.fromEntries(codes))}`);
  t.ok(process.memoryUsage().rss < 1024 * 1024 * 1024, 'resident memory stays under 1 GiB');
  t.comment(`${ITERATIONS} iterations in ${Date.now() - started} ms`);
});

t.test('fuzz: mutated compressed RTF decompresses or throws TnefError; the reader never throws', async (t) => {
  const random = prng(SEED + 1);
  const inputs = ['rtf.tnef', 'quick-winmail.dat', 'multi-value-attribute.tnef'].map((name) =>
    fixture(`compressed-rtf/${name}.PR_RTF_COMPRESSED.bin`),
  );
  let unexpected = 0;
  for (let i = 0; i < ITERATIONS / 4; i++) {
    const input = mutate(inputs[i % inputs.length] as Buffer, random);
    // Half the time the CRC is made to match, so the LZFu decoder runs on the damage.
    if (random() < 0.5 && input.length >= 16) {
      const end = Math.min(input.length, input.readUInt32LE(0) + 4);
      if (end > 16) input.writeUInt32LE(rtfCrc32(input.subarray(16, end)), 12);
    }
    try {
      const rtf = decompressRtf(input, { maxOutputBytes: 1024 * 1024 });
      t.ok(rtf.length <= 1024 * 1024);
    } catch (error) {
      if (!(error instanceof TnefError)) unexpected++;
    }
    // Also feed the damaged bytes to the RTF reader as if they were RTF.
    readRtfBody(mutate(fixture('poi-hmef/quick-contents/message.rtf').subarray(0, 4000), random));
  }
  t.equal(unexpected, 0, 'only TnefError');
});

t.test('fuzz: convertTnefInMessage on mutated messages never throws and writes parseable MIME', async (t) => {
  const random = prng(SEED + 2);
  const tnef = fixture('verdammelt-tnef/unicode-mapi-attr-name.tnef');
  const eml = Buffer.from(
    `Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n${tnef.toString('base64')}\r\n--b--\r\n`,
  );
  let changed = 0;
  for (let i = 0; i < ITERATIONS / 10; i++) {
    const input = random() < 0.5 ? mutate(eml, random) : Buffer.concat([eml.subarray(0, 200), Buffer.from(mutate(tnef, random).toString('base64')), eml.subarray(eml.length - 9)]);
    const result = convertTnefInMessage(input);
    if (result.changed) {
      changed++;
      t.ok(parseMime(result.message).children.length > 0, `iteration ${i}: parts`);
    } else {
      t.equal(result.message, input, `iteration ${i}: unchanged means the same bytes`);
    }
  }
  t.ok(changed > 0, `${changed} converted`);
});
