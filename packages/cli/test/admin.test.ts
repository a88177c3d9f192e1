// The admin verbs, run as the real command against a real Redis: what an operator types
// and what comes back on stdout, stderr and the exit code.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRedis, tmpDir } from '@gatehouse/testkit';
import { runCli, type CliResult } from './helpers.ts';

let redisUrl: string;
let dir: string;
const prefix = `cli${randomBytes(3).toString('hex')}:`;
t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  redisUrl = redis.url;
  dir = await tmpDir('gh-cli-admin-');
});

const gh = (args: string[], stdin?: string): Promise<CliResult> =>
  runCli(args, { env: { GATEHOUSE_REDIS_URL: redisUrl, GATEHOUSE_KEY_PREFIX: prefix }, ...(stdin === undefined ? {} : { stdin }) });
const json = (r: CliResult): unknown => JSON.parse(r.stdout);

t.test('domain add, list (table and JSON), del', async (t) => {
  t.equal((await gh(['domain', 'add', 'Example.COM'])).code, 0);
  const table = await gh(['domain', 'list']);
  t.match(table.stdout, /^NAME\s+DELIVERY\s+TNEF\s+CREATED\nexample\.com\s+yes\s+-\s+\S+\n$/);
  t.match(json(await gh(['domain', 'list', '--json'])), [{ name: 'example.com' }]);
  const dup = await gh(['domain', 'add', 'example.com']);
  t.equal(dup.code, 1);
  t.match(dup.stderr, /^gatehouse: ERR_EXISTS: /);
  t.equal(dup.stdout, '');
});

t.test('backend add: master credentials from a file, never printed', async (t) => {
  const secret = join(dir, 'be1.secret');
  writeFileSync(secret, 'super-secret-master\n');
  const r = await gh(['backend', 'add', 'be1', '--host', '127.0.0.1', '--imap-port', '1143', '--tls', 'starttls', '--master-user', 'gh', '--master-password-file', secret, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(json(r), { name: 'be1', host: '127.0.0.1', imapPort: 1143, tls: 'starttls', login: 'master', masterUser: 'gh', masterPassword: '(set)', state: 'active' });
  const list = await gh(['backend', 'list']);
  t.notMatch(list.stdout, /super-secret-master/);
  t.match(list.stdout, /^NAME\s+HOST\s+IMAPPORT/);
  const usage = await gh(['backend', 'add', 'be2', '--host', 'h', '--imap-port', '143']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /--login master needs --master-user/);
  const badPort = await gh(['backend', 'add', 'be2', '--host', 'h', '--imap-port', '99999', '--login', 'user']);
  t.equal(badPort.code, 2);
  t.match(badPort.stderr, /--imap-port must be a port number/);
  t.equal((await gh(['backend', 'drain', 'be1', '--json'])).code, 0);
  t.match(json(await gh(['backend', 'show', 'be1', '--json'])), { state: 'drain' });
  t.equal((await gh(['backend', 'undrain', 'be1'])).code, 0);
});

t.test('user add with --password-stdin: stored as a hash, shown as its scheme only', async (t) => {
  const r = await gh(['user', 'add', 'Alice@Example.com', '--backend', 'be1', '--password-stdin', '--json'], 'correct horse\n');
  t.equal(r.code, 0, r.stderr);
  t.match(json(r), { name: 'alice@example.com', backend: 'be1', state: 'active', imap: 'default', pop3: 'default', password: 'SCRYPT' });
  t.notMatch(r.stdout + r.stderr, /correct horse/);
  const set = await gh(['user', 'set', 'alice@example.com', '--disabled', '--imap', 'no', '--json']);
  t.match(json(set), { state: 'disabled', imap: false });
  const on = await gh(['user', 'set', 'alice@example.com', '--imap', 'on', '--pop3', 'off', '--json']);
  t.match(json(on), { imap: true, pop3: false }, 'on|off as the docs write them');
  const dflt = await gh(['user', 'set', 'alice@example.com', '--pop3', 'default', '--json']);
  t.match(json(dflt), { imap: true, pop3: 'default' }, 'default: the virtual server decides again');
  const bad = await gh(['user', 'set', 'alice@example.com', '--imap', 'maybe']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--imap must be on, off or default/);
  const show = await gh(['user', 'show', 'alice@example.com']);
  t.match(show.stdout, /^name\s+alice@example\.com$/m);
  t.match(show.stdout, /^state\s+disabled$/m);
});

t.test('user add: unknown domain, unknown back-end, injected names and empty passwords are refused', async (t) => {
  const noDomain = await gh(['user', 'add', 'x@nowhere.example', '--backend', 'be1', '--password-stdin'], 'pw\n');
  t.equal(noDomain.code, 1);
  t.match(noDomain.stderr, /ERR_NOT_FOUND/);
  const noBackend = await gh(['user', 'add', 'y@example.com', '--backend', 'nope', '--password-stdin'], 'pw\n');
  t.equal(noBackend.code, 1);
  t.match(noBackend.stderr, /ERR_NOT_FOUND: no back-end named nope/);
  for (const evil of ['a\r\nb@example.com', 'a"b@example.com', 'a b@example.com', 'user:x@example.com', '*']) {
    const r = await gh(['user', 'add', evil, '--backend', 'be1', '--password-stdin'], 'pw\n');
    t.equal(r.code, 1, JSON.stringify(evil));
    t.match(r.stderr, /ERR_BAD_USERNAME/);
  }
  const empty = await gh(['user', 'add', 'z@example.com', '--backend', 'be1', '--password-stdin'], '\n');
  t.equal(empty.code, 2);
  t.match(empty.stderr, /empty password/);
  t.equal((await gh(['user', 'show', 'z@example.com'])).code, 1, 'nothing was created');
});

t.test('user import: a Dovecot passwd-file, bad lines reported by number, idempotent', async (t) => {
  const file = join(dir, 'users');
  writeFileSync(
    file,
    [
      '# exported from dovecot',
      'bob@example.com:{SHA512-CRYPT}$6$saltsalt$kc5bAl6ZzuIbGHbQrvKCDiodsR.gILcvHUpVTN1jkv3Pr2.eN/e2ADr9Kc7TPnPSq5bAKD10ASJbzEC1iXvGB.::::::',
      'carol@example.com:{PLAIN}carol-pw',
      'not a valid line',
      'dave@unknown.example:{PLAIN}x',
      'erin@example.com:{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui',
      '',
    ].join('\n'),
  );
  const first = await gh(['user', 'import', file, '--backend', 'be1', '--json']);
  t.equal(first.code, 1, 'bad lines make the exit code non-zero');
  t.match(json(first), { added: 3, updated: 0, unchanged: 0, errors: 2 });
  t.match(first.stderr, new RegExp(`${file}:4: `));
  t.match(first.stderr, new RegExp(`${file}:5: ERR_NOT_FOUND`));
  const again = await gh(['user', 'import', file, '--backend', 'be1', '--json']);
  t.match(json(again), { added: 0, updated: 0, unchanged: 3 });
  t.match(json(await gh(['user', 'show', 'bob@example.com', '--json'])), { password: 'SHA512-CRYPT', backend: 'be1' });
});

t.test('backend del refuses while users are on it', async (t) => {
  const r = await gh(['backend', 'del', 'be1']);
  t.equal(r.code, 1);
  t.match(r.stderr, /ERR_IN_USE/);
});

t.test('usage errors exit 2; a missing directory is a usage error; a down directory is ERR_DIRECTORY_UNAVAILABLE', async (t) => {
  const unknown = await gh(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown verb "frobnicate"/);
  const noRedis = await runCli(['user', 'list']);
  t.equal(noRedis.code, 2);
  t.match(noRedis.stderr, /no directory/);
  const badFlag = await gh(['user', 'list', '--bogus']);
  t.equal(badFlag.code, 2);
  const down = await runCli(['user', 'list', '--json'], { env: { GATEHOUSE_REDIS_URL: 'redis://127.0.0.1:1' } });
  t.equal(down.code, 1);
  t.match(JSON.parse(down.stderr), { error: { code: 'ERR_DIRECTORY_UNAVAILABLE' } });
});

t.test('help lists the verbs', async (t) => {
  const r = await runCli(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /serve --config FILE/);
  t.match(r.stdout, /user add\|set/);
});
