// The README's first command must work: the local tier comes up (Redis, two Dovecot
// stores, the directory filled by the gatehouse command, a node) and curl lists alice's
// INBOX over IMAPS and downloads her first message over POP3S through Gatehouse with the
// printed commands.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, tmpDir } from '@gatehouse/testkit';

const script = fileURLToPath(new URL('../../../deploy/local-tier.ts', import.meta.url));

t.test('local tier: up, curl lists the INBOX (IMAPS) and downloads a message (POP3S) through Gatehouse, down', async (t) => {
  const dir = await tmpDir('gh-local-tier-');
  const env = {
    ...process.env,
    GATEHOUSE_LOCAL_TIER_DIR: dir,
    GATEHOUSE_IMAPS_PORT: String(await freePort()),
    GATEHOUSE_IMAP_PORT: String(await freePort()),
    GATEHOUSE_POP3S_PORT: String(await freePort()),
    GATEHOUSE_POP3_PORT: String(await freePort()),
  };
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(process.execPath, [script, '--check'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('close', (code) => resolve({ code, text }));
  });
  t.equal(out.code, 0, out.text);
  t.match(out.text, /^\* SEARCH 1 2 3\r?$/m);
  t.match(out.text, /^Subject: Welcome to Gatehouse\r?$/m, 'message 1 over POP3');
  t.match(out.text, /local tier check: ok/);
});
