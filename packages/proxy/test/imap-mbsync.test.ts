// mbsync (isync), the tool many people use to mirror a mailbox, pulls alice's whole
// account through Gatehouse into a local Maildir: every folder, every message byte-exact
// up to what mbsync itself does to a message on Unix (CRLF stored as LF, and an X-TUID
// header of its own). It also turns on COMPRESS=DEFLATE, and it aborts if anything but
// the store's deflate stream reaches it (as a plain BYE written by a proxy would).
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleMessages, publicSampleMessages, tmpDir } from '@gatehouse/testkit';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t);
});

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

function maildirMessages(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const sub of ['cur', 'new']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) out.push(readFileSync(join(d, f)));
  }
  return out;
}

const sorted = (bufs: Buffer[]): string[] => bufs.map((b) => b.toString('latin1')).sort();
/** What mbsync stores for a message it downloads: LF line ends, minus its own X-TUID header. */
const asStored = (raw: Buffer): Buffer => Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
const withoutTuid = (stored: Buffer): Buffer => Buffer.from(stored.toString('latin1').replace(/^X-TUID: [^\n]*\n/m, ''), 'latin1');

for (const mode of ['IMAPS', 'STARTTLS'] as const) {
  t.test(`mbsync over ${mode}: pulls every folder through Gatehouse, messages byte-exact`, async (t) => {
    const dir = await tmpDir('gh-mbsync-');
    writeFileSync(join(dir, 'ca.pem'), tier.caPem);
    mkdirSync(join(dir, 'mail'));
    const rc = join(dir, 'mbsyncrc');
    writeFileSync(
      rc,
      [
        'IMAPAccount gatehouse',
        'Host localhost',
        `Port ${mode === 'IMAPS' ? tier.imapsPort : tier.imapPort}`,
        'User alice@example.com',
        'Pass alice-secret',
        `SSLType ${mode}`,
        `CertificateFile ${join(dir, 'ca.pem')}`,
        '',
        'IMAPStore remote',
        'Account gatehouse',
        '',
        'MaildirStore local',
        `Path ${join(dir, 'mail')}/`,
        `Inbox ${join(dir, 'mail', 'INBOX')}`,
        'SubFolders Verbatim',
        '',
        'Channel everything',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Near',
        'Sync Pull',
        'SyncState *',
        '',
      ].join('\n'),
    );
    const r = await run('mbsync', ['-c', rc, '-a']);
    t.equal(r.code, 0, r.code === 0 ? 'mbsync exits 0' : `mbsync failed: ${r.out}`);
    const byMailbox = (mailbox: string): Buffer[] => [...sampleMessages(), ...publicSampleMessages()].filter((m) => m.mailbox === mailbox).map((m) => m.raw);
    t.notMatch(r.out, /socket_fill|Assertion/, 'mbsync did not abort on the compressed stream');
    for (const folder of ['INBOX', 'Archive', 'Sent', 'Public/Announcements']) {
      const got = maildirMessages(join(dir, 'mail', folder));
      t.equal(got.length, byMailbox(folder).length, `${folder}: every message`);
      t.ok(got.every((m) => /^X-TUID: /m.test(m.toString('latin1'))), `${folder}: mbsync marked each message`);
      t.same(sorted(got.map(withoutTuid)), sorted(byMailbox(folder).map(asStored)), `${folder}: the store's bytes`);
    }
  });
}
