import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { CertError, generateSelfSigned, loadPemPair } from '../src/index.ts';
import { parseSubjectAltName } from '../src/pem-pair.ts';

const pair = generateSelfSigned({ commonName: 'a.test', altNames: ['b.test', '::1'] });

t.test('loadPemPair: a matching pair returns its facts', async (t) => {
  const info = loadPemPair(pair.certPem, pair.keyPem);
  t.equal(info.subjectCN, 'a.test');
  t.same(info.altNames, ['a.test', 'b.test', '0:0:0:0:0:0:0:1']);
  t.ok(info.notAfter instanceof Date);
});

t.test('loadPemPair: the key of another certificate is rejected', async (t) => {
  const other = generateSelfSigned({ commonName: 'a.test' });
  t.throws(() => loadPemPair(pair.certPem, other.keyPem), { code: 'ERR_CERT_INVALID', name: 'CertError' });
});

t.test('loadPemPair: an EC key against an RSA certificate is rejected', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecPem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  t.throws(() => loadPemPair(pair.certPem, ecPem), { code: 'ERR_CERT_INVALID' });
});

t.test('loadPemPair: unparsable PEM is rejected with the parse error as cause', async (t) => {
  for (const [cert, key] of [
    ['not a cert', pair.keyPem],
    [pair.certPem, 'not a key'],
    [pair.keyPem, pair.keyPem],
    [pair.certPem, pair.certPem],
  ] as const) {
    try {
      loadPemPair(cert, key);
      t.fail('should throw');
    } catch (err) {
      t.ok(err instanceof CertError);
      t.equal((err as CertError).code, 'ERR_CERT_INVALID');
    }
  }
  try {
    loadPemPair('junk', pair.keyPem);
  } catch (err) {
    t.ok((err as Error).cause instanceof Error, 'cause kept');
  }
});

t.test('parseSubjectAltName: keeps DNS and IP entries, decodes quoted values', async (t) => {
  t.same(parseSubjectAltName(''), []);
  t.same(parseSubjectAltName('DNS:a.test, IP Address:127.0.0.1'), ['a.test', '127.0.0.1']);
  t.same(parseSubjectAltName('DNS:"a, DNS:b", email:x@y, DNS:c'), ['a, DNS:b', 'c']);
});
