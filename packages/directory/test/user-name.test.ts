import t from 'tap';
import { DirectoryError, normalizeDomain, normalizeUserName, validateBackendName } from '../src/index.ts';

/** A test name that TAP can carry: JSON with every non-ASCII character escaped (U+2028 would end the line). */
function show(raw: string): string {
  return JSON.stringify(raw).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof DirectoryError ? err.code : 'not-a-DirectoryError';
  }
  return undefined;
}

t.test('normalizeUserName: lower-cases and keeps valid names', async (t) => {
  t.equal(normalizeUserName('Alice@Example.COM'), 'alice@example.com');
  t.equal(normalizeUserName('first.last+tag_x-y@mail.example-1.org'), 'first.last+tag_x-y@mail.example-1.org');
  t.equal(normalizeUserName('bob'), 'bob');
  t.equal(normalizeUserName('bob', 'Example.com'), 'bob@example.com');
  t.equal(normalizeUserName('bob@other.net', 'example.com'), 'bob@other.net', 'a qualified name keeps its domain');
  t.equal(normalizeUserName('a'.repeat(64) + '@x.y'), 'a'.repeat(64) + '@x.y', 'local part at the 64 cap');
  const domain = Array.from({ length: 4 }, () => 'd'.repeat(63)).join('.').slice(0, 253);
  t.equal(normalizeUserName(`u@${domain}`), `u@${domain}`, 'domain at the 253 cap');
});

t.test('normalizeUserName: rejects injection and malformed names with ERR_BAD_USERNAME', async (t) => {
  const bad = [
    '', 'a\r\nb', 'a\rb', 'a\nb', 'a\u0000b', 'a"b', "a'b", 'a b', ' a', 'a ', 'a\tb', 'user:x', '*', 'a*', '%', 'a%b',
    '{', 'a{5}', 'a}', 'a\\b', 'a/b', 'a;b', 'a,b', 'a(b)', 'a@', '@example.com', 'a@@b.c', 'a@b@c.d', 'a@b..c', 'a@.b',
    'a@b.', 'a@-b.c', 'a@b-.c', 'a@b_c.d', '.a', 'a.', 'a..b', 'ä@b.c', 'a@bü.c', 'K\u212a', '\u212aelvin',
    'İ', 'a\u200bb', 'a'.repeat(65), `a@${'b'.repeat(64)}.c`, `a@${'b.'.repeat(127)}c`, 'a'.repeat(400),
    'a@b.c\n', 'a\u2028b', 'a@b.c ', 'a@[127.0.0.1]',
  ];
  for (const raw of bad) t.equal(code(() => normalizeUserName(raw)), 'ERR_BAD_USERNAME', show(raw));
  t.equal(code(() => normalizeUserName('a', 'bad domain')), 'ERR_BAD_NAME', 'an invalid default domain is a configuration error');
});

t.test('normalizeDomain and validateBackendName', async (t) => {
  t.equal(normalizeDomain('Example.COM'), 'example.com');
  t.equal(normalizeDomain('xn--bcher-kva.example'), 'xn--bcher-kva.example');
  for (const raw of ['', 'a b', 'a..b', '-a.b', 'a-.b', 'a.b.', 'a_b.c', 'ä.b', 'a:b', 'd'.repeat(64) + '.c', 'a'.repeat(254)]) {
    t.equal(code(() => normalizeDomain(raw)), 'ERR_BAD_NAME', show(raw));
  }
  t.equal(validateBackendName('be1'), 'be1');
  t.equal(validateBackendName('store-2.dc_a'), 'store-2.dc_a');
  t.equal(validateBackendName('a'.repeat(63)), 'a'.repeat(63));
  for (const raw of ['', 'Be1', '-be', '.be', '_be', 'be 1', 'be:1', 'be*', 'a'.repeat(64), 'bé']) {
    t.equal(code(() => validateBackendName(raw)), 'ERR_BAD_NAME', show(raw));
  }
});
