// The delivery verbs, run as the real command: back-end LMTP ports, per-user and
// per-domain delivery switches and TNEF policy, aliases, and `gatehouse tnef FILE`.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startRedis, tmpDir } from '@gatehouse/testkit';
import { runCli, type CliResult } from './helpers.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = process.env['GATEHOUSE_FIXTURES']
  ? existsSync(join(process.env['GATEHOUSE_FIXTURES'], 'tnef')) ? join(process.env['GATEHOUSE_FIXTURES'], 'tnef') : process.env['GATEHOUSE_FIXTURES']
  : join(repo, '..', 'shared', 'fixtures', 'tnef');

let redisUrl: string;
let dir: string;
const prefix = `dlv${randomBytes(3).toString('hex')}:`;
t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  redisUrl = redis.url;
  dir = await tmpDir('gh-cli-delivery-');
});

const gh = (args: string[]): Promise<CliResult> => runCli(args, { env: { GATEHOUSE_REDIS_URL: redisUrl, GATEHOUSE_KEY_PREFIX: prefix } });
const json = (r: CliResult): unknown => JSON.parse(r.stdout);

t.test('backend --lmtp-port, user and domain switches, aliases', async (t) => {
  t.equal((await gh(['domain', 'add', 'example.com'])).code, 0);
  const be = await gh(['backend', 'add', 'be1', '--host', '127.0.0.1', '--imap-port', '143', '--lmtp-port', '24', '--login', 'user', '--json']);
  t.equal(be.code, 0, be.stderr);
  t.match(json(be), { name: 'be1', lmtpPort: 24 });
  t.notOk((json(await gh(['backend', 'set', 'be1', '--lmtp-port', 'none', '--json'])) as { lmtpPort?: number }).lmtpPort, '--lmtp-port none removes it');
  const u = await gh(['user', 'add', 'alice@example.com', '--backend', 'be1', '--delivery', 'no', '--tnef', 'keep', '--json']);
  t.equal(u.code, 0, u.stderr);
  t.match(json(u), { name: 'alice@example.com', delivery: false, tnef: 'keep' });
  t.match(json(await gh(['user', 'set', 'alice@example.com', '--delivery', 'yes', '--tnef', 'default', '--json'])), { delivery: true, tnef: undefined });
  t.match(json(await gh(['domain', 'set', 'example.com', '--delivery', 'no', '--tnef', 'off', '--json'])), { name: 'example.com', delivery: false, tnef: 'off' });
  const bad = await gh(['domain', 'set', 'example.com', '--tnef', 'maybe']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /ERR_USAGE: --tnef must be convert, keep, off or default/);

  t.equal((await gh(['alias', 'add', 'Info@Example.com', 'alice@example.com'])).code, 0);
  t.match(json(await gh(['alias', 'list', '--json'])), [{ name: 'info@example.com', target: 'alice@example.com' }]);
  const shadow = await gh(['alias', 'add', 'alice@example.com', 'alice@example.com']);
  t.match(shadow.stderr, /ERR_EXISTS/, 'an alias cannot shadow a user');
  const dangling = await gh(['alias', 'add', 'x@example.com', 'nobody@example.com']);
  t.match(dangling.stderr, /ERR_NOT_FOUND/, 'the target must be a user');
  t.equal((await gh(['alias', 'del', 'info@example.com'])).code, 0);
  t.match((await gh(['alias', 'list'])).stdout, /^\(none\)\n$/);
});

t.test('tnef FILE: a winmail.dat gives its attachments byte-exact; an .eml is converted', async (t) => {
  const out = join(dir, 'quick');
  const r = await runCli(['tnef', join(fixtures, 'poi-hmef/quick-winmail.dat'), '--out', out, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(json(r), { subject: 'This is a test message', attachments: 5, files: [{ name: 'quick.doc', bytes: 19968 }] });
  for (const f of ['quick.doc', 'quick.html', 'quick.pdf', 'quick.txt', 'quick.xml']) {
    t.ok(readFileSync(join(out, f)).equals(readFileSync(join(fixtures, 'poi-hmef/quick-contents', f))), `${f} byte-exact`);
  }
  const eml = await runCli(['tnef', join(fixtures, 'horde-compress/tnef_task.eml')]);
  t.equal(eml.code, 0, eml.stderr);
  t.notMatch(eml.stdout, /Content-Type: application\/ms-tnef/i, 'the TNEF part was replaced');
  t.match(eml.stdout, /Content-Type: message\/rfc822/, 'the embedded task is a message/rfc822 part');
  const broken = await runCli(['tnef', join(fixtures, 'poi-hmef/oom.tnef')]);
  t.equal(broken.code, 1);
  t.match(broken.stderr, /^gatehouse: ERR_TNEF_TRUNCATED: /);
});
