import t from 'tap';
import { decodeBase64Strict, encodeBase64, encodeSaslPlain, parseSaslPlain } from '../src/index.ts';

t.test('decodeBase64Strict: canonical base64 decodes', async (t) => {
  t.same(decodeBase64Strict('dGVzdA=='), Buffer.from('test'));
  t.same(decodeBase64Strict('dGVzdDE='), Buffer.from('test1'));
  t.same(decodeBase64Strict('dGVzdDEy'), Buffer.from('test12'));
  t.same(decodeBase64Strict('+/+/'), Buffer.from([0xfb, 0xff, 0xbf]));
  t.same(decodeBase64Strict('='), Buffer.alloc(0), '"=" is the empty initial response');
  t.same(decodeBase64Strict(''), Buffer.alloc(0), 'an empty continuation line');
});

t.test('decodeBase64Strict: anything else is null', async (t) => {
  const invalid = {
    'missing padding': 'dGVzdA',
    'too much padding': 'dGVzdA===',
    'padding in the middle': 'dG==dA==',
    'non-zero pad bits': 'dGVzdB==',
    'a space': 'dGVz dA==',
    'a newline': 'dGVzdA==\n',
    'the URL alphabet': 'ab-_',
    'a stray character': 'dGV*dA==',
    '"==" alone': '==',
    '"*" (a SASL cancel)': '*',
  };
  for (const [name, text] of Object.entries(invalid)) {
    t.equal(decodeBase64Strict(text), null, name);
  }
});

t.test('encodeBase64: UTF-8 text', async (t) => {
  t.equal(encodeBase64('caf\u00e9'), 'Y2Fmw6k=');
  t.equal(encodeBase64(''), '');
});

t.test('SASL PLAIN: without authzid', async (t) => {
  t.same(parseSaslPlain(Buffer.from('\0user\0pass')), { authzid: '', authcid: 'user', password: 'pass' });
});

t.test('SASL PLAIN: with authzid, UTF-8 everywhere', async (t) => {
  t.same(parseSaslPlain(Buffer.from('admin\0us\u00e9r\0p\u00e4ss word')), {
    authzid: 'admin',
    authcid: 'us\u00e9r',
    password: 'p\u00e4ss word',
  });
});

t.test('SASL PLAIN: malformed messages are null', async (t) => {
  const invalid: Record<string, Buffer> = {
    'no NUL': Buffer.from('userpass'),
    'one NUL': Buffer.from('user\0pass'),
    'three NULs': Buffer.from('\0user\0pa\0ss'),
    'an empty authcid': Buffer.from('admin\0\0pass'),
    'an empty password': Buffer.from('\0user\0'),
    'empty': Buffer.alloc(0),
    'invalid UTF-8': Buffer.from([0, 0x75, 0, 0xff]),
  };
  for (const [name, msg] of Object.entries(invalid)) {
    t.equal(parseSaslPlain(msg), null, name);
  }
});

t.test('SASL PLAIN: encoding round-trips', async (t) => {
  const encoded = encodeSaslPlain('user@example.org', 'master', 'p\u00e4ss');
  t.equal(encoded, Buffer.from('user@example.org\0master\0p\u00e4ss').toString('base64'));
  const decoded = decodeBase64Strict(encoded);
  t.ok(decoded);
  t.same(parseSaslPlain(decoded as Buffer), { authzid: 'user@example.org', authcid: 'master', password: 'p\u00e4ss' });
  t.equal(encodeSaslPlain('', 'u', 'p'), 'AHUAcA==');
});

t.test('SASL PLAIN: encoding refuses a NUL in any field and empty authcid or password', async (t) => {
  const cases: Array<[string, string, string]> = [['a\0b', 'u', 'p'], ['', 'u\0admin', 'p'], ['', 'u', 'p\0admin'], ['', '', 'p'], ['', 'u', '']];
  for (const [authzid, authcid, password] of cases) {
    t.throws(() => encodeSaslPlain(authzid, authcid, password), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify([authzid, authcid, password]));
  }
});
