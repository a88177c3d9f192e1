// The fixed mailbox content every test back-end starts with. Byte-for-byte the same on
// every run and for every user (the recipient is a fixed address), so a test can
// compare what it fetched through the proxy with these buffers exactly. Lines end in
// CRLF, as IMAP sends them, so FETCH BODY[] returns the stored bytes unchanged.
//
// INBOX holds a plain text message, a multipart/mixed message whose part 2 is a
// base64 attachment big enough for partial fetches (BODY[2]<0.1000>) to matter, and a
// UTF-8 message for SEARCH/charset paths; Archive and Sent hold one each; the public
// Announcements folder holds one.

export type SampleMessage = {
  /** Mailbox as the client sees it (namespace separator '/'). */
  mailbox: string;
  subject: string;
  /** The message date; also its INTERNALDATE (the maildir file mtime). */
  date: Date;
  /** Maildir info flags: '' (unseen) or 'S' (\Seen). */
  maildirFlags: '' | 'S';
  raw: Buffer;
};

/** Size of the decoded attachment (BODY[2] of the multipart message, after base64). */
export const SAMPLE_ATTACHMENT_BYTES = 256 * 1024;
const ATTACHMENT_SEED = 0x6a7e4005;
const BOUNDARY = '=_gatehouse_sample_boundary_1';
const TO = 'Test User <user@gatehouse.test>';

/** Deterministic pseudo-random bytes (mulberry32), the same on every platform. */
export function sampleAttachment(): Buffer {
  const out = Buffer.alloc(SAMPLE_ATTACHMENT_BYTES);
  let state = ATTACHMENT_SEED;
  for (let i = 0; i < out.length; i += 4) {
    state = (state + 0x6d2b79f5) | 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    out.writeUInt32LE((x ^ (x >>> 14)) >>> 0, i);
  }
  return out;
}

/** Base64 with 76-character lines, as MIME requires (RFC 2045 §6.8). */
function base64Lines(data: Buffer): string {
  const flat = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += 76) lines.push(flat.slice(i, i + 76));
  return lines.join('\r\n');
}

function crlf(lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
}

function rfc5322Date(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

function headers(fields: { from: string; to: string; subject: string; date: Date; id: string }): string[] {
  return [
    `From: ${fields.from}`,
    `To: ${fields.to}`,
    `Subject: ${fields.subject}`,
    `Date: ${rfc5322Date(fields.date)}`,
    `Message-ID: <${fields.id}@gatehouse.test>`,
    'MIME-Version: 1.0',
  ];
}

let cached: { mine: SampleMessage[]; shared: SampleMessage[] } | undefined;

function build(): { mine: SampleMessage[]; shared: SampleMessage[] } {
  const from = 'Gatehouse Samples <samples@gatehouse.test>';
  const d1 = new Date('2024-01-02T09:00:00Z');
  const d2 = new Date('2024-01-03T10:30:00Z');
  const d3 = new Date('2024-01-04T11:45:00Z');
  const d4 = new Date('2023-12-01T08:00:00Z');
  const d5 = new Date('2024-01-05T12:00:00Z');
  const d6 = new Date('2024-01-01T00:00:00Z');

  const plain = crlf([
    ...headers({ from, to: TO, subject: 'Welcome to Gatehouse', date: d1, id: 'sample-1' }),
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    'Hello,',
    '',
    'This is the first sample message. It is plain text.',
    '',
    '-- ',
    'Gatehouse test kit',
  ]);

  const multipart = crlf([
    ...headers({ from, to: TO, subject: 'Quarterly report (with attachment)', date: d2, id: 'sample-2' }),
    `Content-Type: multipart/mixed; boundary="${BOUNDARY}"`,
    '',
    'This is a multi-part message in MIME format.',
    '',
    `--${BOUNDARY}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    'The report is attached as sample.bin.',
    '',
    `--${BOUNDARY}`,
    'Content-Type: application/octet-stream; name="sample.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="sample.bin"',
    '',
    base64Lines(sampleAttachment()),
    '',
    `--${BOUNDARY}--`,
  ]);

  const utf8 = crlf([
    ...headers({ from, to: TO, subject: '=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Z=C3=BCrich?=', date: d3, id: 'sample-3' }),
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Gr=C3=BC=C3=9Fe! Caf=C3=A9 at 10:00, bring the =E2=82=AC20.',
  ]);

  const archived = crlf([
    ...headers({ from, to: TO, subject: 'Archived notice', date: d4, id: 'sample-4' }),
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'An old message kept in Archive.',
  ]);

  const sent = crlf([
    ...headers({ from: TO, to: 'Someone Else <someone@gatehouse.test>', subject: 'Re: lunch', date: d5, id: 'sample-5' }),
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Noon works for me.',
  ]);

  const announcement = crlf([
    ...headers({ from, to: 'All Staff <all@gatehouse.test>', subject: 'Office closed on Friday', date: d6, id: 'sample-6' }),
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'The office is closed on Friday. This message lives in a public folder.',
  ]);

  return {
    mine: [
      { mailbox: 'INBOX', subject: 'Welcome to Gatehouse', date: d1, maildirFlags: '', raw: plain },
      { mailbox: 'INBOX', subject: 'Quarterly report (with attachment)', date: d2, maildirFlags: '', raw: multipart },
      { mailbox: 'INBOX', subject: 'Grüße aus Zürich', date: d3, maildirFlags: '', raw: utf8 },
      { mailbox: 'Archive', subject: 'Archived notice', date: d4, maildirFlags: 'S', raw: archived },
      { mailbox: 'Sent', subject: 'Re: lunch', date: d5, maildirFlags: 'S', raw: sent },
    ],
    shared: [
      { mailbox: 'Public/Announcements', subject: 'Office closed on Friday', date: d6, maildirFlags: '', raw: announcement },
    ],
  };
}

function copy(list: SampleMessage[]): SampleMessage[] {
  return list.map((m) => ({ ...m, date: new Date(m.date), raw: Buffer.from(m.raw) }));
}

/** Each user's messages, in UID order within each mailbox. Fresh copies each call. */
export function sampleMessages(): SampleMessage[] {
  cached ??= build();
  return copy(cached.mine);
}

/** The public namespace's messages (mailbox names include the `Public/` prefix). */
export function publicSampleMessages(): SampleMessage[] {
  cached ??= build();
  return copy(cached.shared);
}

/** Mailboxes each user has besides INBOX when sample mail is on. */
export const SAMPLE_FOLDERS = ['Archive', 'Sent'] as const;
/** Public folders (under the `Public/` namespace prefix). */
export const PUBLIC_FOLDERS = ['Announcements'] as const;
export const PUBLIC_PREFIX = 'Public/';
