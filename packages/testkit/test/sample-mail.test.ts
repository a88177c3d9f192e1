import { createHash } from 'node:crypto';
import t from 'tap';
import { SAMPLE_ATTACHMENT_BYTES, publicSampleMessages, sampleAttachment, sampleMessages } from '../src/index.ts';

t.test('sample messages are deterministic, CRLF-only and fresh copies', async (t) => {
  const a = sampleMessages();
  const b = sampleMessages();
  t.same(a.map((m) => m.raw.toString('hex')), b.map((m) => m.raw.toString('hex')));
  a[0]?.raw.fill(0);
  t.not(sampleMessages()[0]?.raw[0], 0, 'callers cannot corrupt the cache');
  for (const m of [...sampleMessages(), ...publicSampleMessages()]) {
    t.notMatch(m.raw.toString('latin1'), /[^\r]\n|\r[^\n]/, `${m.subject}: CRLF line ends only`);
  }
  t.same(sampleMessages().map((m) => m.mailbox), ['INBOX', 'INBOX', 'INBOX', 'Archive', 'Sent']);
});

t.test('the attachment is the same pseudo-random bytes on every run', async (t) => {
  const bytes = sampleAttachment();
  t.equal(bytes.length, SAMPLE_ATTACHMENT_BYTES);
  // Pinned: changing the generator would silently change every byte-for-byte test.
  t.equal(createHash('sha256').update(bytes).digest('hex').slice(0, 16), '9173358af7409575');
  const multipart = sampleMessages()[1]?.raw.toString('latin1') ?? '';
  t.ok(multipart.includes(bytes.subarray(0, 57).toString('base64')), 'embedded as base64 in message 2');
});
