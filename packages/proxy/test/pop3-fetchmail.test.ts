// fetchmail, the classic download-and-delete client, through Gatehouse against a real
// Dovecot store: over STLS and over implicit TLS it downloads every message of the
// maildrop byte-identical to the store's copy (fetchmail set up to change nothing: no
// Received header, no header rewriting, CRs kept; each message goes to a one-line MDA
// that writes it to a file), including a message whose lines start with "." (dot-stuffed
// by the store, unstuffed by fetchmail, untouched by Gatehouse), then deletes them
// (--nokeep): the store is empty afterwards.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sampleMessages, tmpDir } from '@gatehouse/testkit';
import { DOTTED_MESSAGE, addMaildirMessage } from './helpers/pop3.ts';
import { startTier, type Tier } from './helpers/tier.ts';

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, {
    extraUsers: [
      { name: 'fred@example.com', password: 'fred-secret', backend: 'be1' },
      { name: 'gwen@example.com', password: 'gwen spaced secret', backend: 'be2' },
    ],
  });
  await addMaildirMessage(tier.backends.be1, 'fred@example.com', DOTTED_MESSAGE);
  await addMaildirMessage(tier.backends.be2, 'gwen@example.com', DOTTED_MESSAGE);
});

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

const inbox = [...sampleMessages().filter((m) => m.mailbox === 'INBOX').map((m) => m.raw), DOTTED_MESSAGE].map((m) => m.toString('latin1')).sort();

const modes = [
  { mode: 'STLS', user: 'fred@example.com', password: 'fred-secret', backend: 'be1' },
  { mode: 'implicit TLS', user: 'gwen@example.com', password: 'gwen spaced secret', backend: 'be2' },
] as const;

for (const { mode, user, password, backend } of modes) {
  t.test(`fetchmail over ${mode}: downloads the maildrop byte-exact, then --nokeep leaves the store empty`, async (t) => {
    const dir = await tmpDir('gh-fetchmail-');
    const mail = join(dir, 'mail');
    mkdirSync(mail);
    writeFileSync(join(dir, 'ca.pem'), tier.caPem);
    const mda = join(dir, 'save.sh');
    writeFileSync(mda, `#!/bin/sh\nexec cat > "$(mktemp '${mail}/msg.XXXXXX')"\n`);
    chmodSync(mda, 0o755);
    const rc = join(dir, 'fetchmailrc');
    const quoted = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    writeFileSync(
      rc,
      [
        'set no bouncemail',
        'set no syslog',
        'set invisible',
        `poll localhost port ${mode === 'STLS' ? tier.pop3Port : tier.pop3sPort} proto POP3 auth password timeout 30`,
        `  user ${quoted(user)} there with password ${quoted(password)} is root here`,
        // sslproto without ssl: STLS on the plain port, and with sslcertck TLS is required.
        mode === 'STLS' ? "  sslproto 'TLS1.2+'" : '  ssl',
        `  sslcertck sslcertfile ${quoted(join(dir, 'ca.pem'))}`,
        '  fetchall nokeep no rewrite no stripcr',
        `  mda ${quoted(mda)}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const env = { HOME: dir, FETCHMAILHOME: dir };
    const r = await run('fetchmail', ['-f', rc, '--pidfile', join(dir, 'fetchmail.pid'), '--idfile', join(dir, 'fetchids'), '-v'], env);
    t.equal(r.code, 0, r.code === 0 ? 'fetchmail exits 0 (mail retrieved)' : `fetchmail failed: ${r.out}`);
    t.match(r.out, mode === 'STLS' ? /STLS/ : /SSL|TLS/, 'the session was encrypted');
    const got = readdirSync(mail).map((f) => readFileSync(join(mail, f)).toString('latin1')).sort();
    t.equal(got.length, inbox.length, 'every message');
    t.same(got, inbox, "the store's bytes, unchanged");
    const be = tier.backends[backend];
    t.equal(await be.doveadm(['mailbox', 'status', '-u', user, 'messages', 'INBOX']), 'INBOX messages=0\n', 'deleted at the store');
    const again = await run('fetchmail', ['-f', rc, '--pidfile', join(dir, 'fetchmail.pid'), '--idfile', join(dir, 'fetchids')], env);
    t.equal(again.code, 1, 'a second run finds no mail');
  });
}
