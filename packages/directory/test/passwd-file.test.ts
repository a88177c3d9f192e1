import t from 'tap';
import { parsePasswdFile } from '../src/index.ts';

const FILE = [
  '# Dovecot passwd-file',
  '',
  'alice@example.com:{SHA512-CRYPT}$6$1dlM8UasKLl9hhZJ$rfleIFdTNoxKvSsudJODSrvR6iWkpYMdWJaadHd1zCkLfYejCghtyfse56PPXWx0BZXfh1VKVsvd721wL/DyC1:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G',
  'Bob@Example.com:{PLAIN}secret::::::',
  '   # indented comment',
  'carol@example.com:$2y$05$6N4EX8uuXkf2OJutot3Tou9ARsnXXIePfVovwWM3VYspwIvglx40u',
  'dave:{SSHA256}skXXdlY31on8FoP2r203MCkHXHFWnQO0u26XwaDb0Fw2utWL',
  'bad user@example.com:{PLAIN}x',
  'eve@example.com:{NOPE}x',
  'frank@example.com',
  'gina@example.com::1000:1000',
  'alice@EXAMPLE.com:{PLAIN}dup',
  'hank@example.com:U8tuygTL1Oqck',
  'ivy"@example.com:{PLAIN}x',
  'jo@example.com:{PLAIN}ok\r',
  '',
].join('\n');

t.test('parsePasswdFile: good lines become entries, bad lines become errors, nothing stops the rest', async (t) => {
  const { entries, errors } = parsePasswdFile(FILE);
  t.same(entries.map((e) => [e.line, e.user, e.hash.slice(0, 16)]), [
    [3, 'alice@example.com', '{SHA512-CRYPT}$6'],
    [4, 'bob@example.com', '{PLAIN}secret'],
    [6, 'carol@example.com', '{CRYPT}$2y$05$6N'],
    [7, 'dave', '{SSHA256}skXXdlY'],
    [15, 'jo@example.com', '{PLAIN}ok'],
  ]);
  t.same(errors.map((e) => [e.line, e.code]), [
    [8, 'ERR_BAD_USERNAME'],
    [9, 'ERR_BAD_HASH'],
    [10, 'ERR_BAD_RECORD'],
    [11, 'ERR_BAD_HASH'],
    [12, 'ERR_EXISTS'],
    [13, 'ERR_BAD_HASH'],
    [14, 'ERR_BAD_USERNAME'],
  ]);
  for (const e of errors) t.notMatch(e.message, /ivy|bad user|secret|PLAIN|U8tu/, 'messages never echo hash payloads or raw names');
});

t.test('parsePasswdFile: defaultDomain qualifies bare names', async (t) => {
  const { entries } = parsePasswdFile('dave:{PLAIN}x\nerin@other.org:{PLAIN}y\n', { defaultDomain: 'example.com' });
  t.same(entries.map((e) => e.user), ['dave@example.com', 'erin@other.org']);
});

t.test('parsePasswdFile: empty input', async (t) => {
  t.same(parsePasswdFile(''), { entries: [], errors: [] });
});
