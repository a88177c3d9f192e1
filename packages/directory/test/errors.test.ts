import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { DIRECTORY_ERROR_CODES, DirectoryError, directoryKeys, isDirectoryError } from '../src/index.ts';

t.test('every ERR_* code in the sources is in DIRECTORY_ERROR_CODES, and every listed code is used', async (t) => {
  const srcDir = new URL('../src/', import.meta.url);
  const used = new Set<string>();
  for (const f of readdirSync(srcDir).filter((n) => n.endsWith('.ts') && n !== 'directory-error.ts')) {
    for (const m of readFileSync(new URL(f, srcDir), 'utf8').matchAll(/'(ERR_[A-Z_]+)'/g)) used.add(m[1] ?? '');
  }
  const listed = Object.keys(DIRECTORY_ERROR_CODES);
  t.same([...used].filter((c) => !listed.includes(c)), [], 'no unlisted code');
  t.same(listed.filter((c) => !used.has(c)), [], 'no listed code unused');
});

t.test('DirectoryError keeps code and cause', async (t) => {
  const cause = new Error('low level');
  const err = new DirectoryError('ERR_NOT_FOUND', 'x', { cause });
  t.equal(err.code, 'ERR_NOT_FOUND');
  t.equal(err.cause, cause);
  t.equal(err.name, 'DirectoryError');
  t.ok(isDirectoryError(err));
  t.ok(isDirectoryError(err, 'ERR_NOT_FOUND'));
  t.notOk(isDirectoryError(err, 'ERR_EXISTS'));
  t.notOk(isDirectoryError(cause));
});

t.test('directoryKeys: documented names; a prefix with spaces or control bytes is refused', async (t) => {
  const k = directoryKeys();
  t.same([k.user('a@b.c'), k.users, k.backend('be1'), k.backends, k.domain('b.c'), k.domains],
    ['gh:user:a@b.c', 'gh:users', 'gh:backend:be1', 'gh:backends', 'gh:domain:b.c', 'gh:domains']);
  t.equal(directoryKeys('{mail}:').user('a@b.c'), '{mail}:user:a@b.c');
  for (const bad of ['a b', 'x\r\n', 'é', 'x'.repeat(65)]) t.throws(() => directoryKeys(bad), { code: 'ERR_BAD_NAME' });
});
