import { readFileSync } from 'node:fs';
import t from 'tap';
import { checkPasswordHash, DirectoryError, hashPassword, MAX_PASSWORD_BYTES, needsRehash, SCRYPT_PARAMS, verifyPassword } from '../src/index.ts';

type Vector = { scheme: string; args: string; password: string; hash: string };
const fixture = JSON.parse(readFileSync(new URL('./fixtures/dovecot-vectors.json', import.meta.url), 'utf8')) as { generator: string; vectors: Vector[] };

async function rejectsCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof DirectoryError ? err.code : 'not-a-DirectoryError';
  }
  return undefined;
}

t.test('verifyPassword: every doveadm-generated vector verifies, and the wrong password fails', async (t) => {
  const schemes = new Set(fixture.vectors.map((v) => v.scheme));
  for (const s of ['SHA512-CRYPT', 'SHA256-CRYPT', 'BLF-CRYPT', 'ARGON2ID', 'ARGON2I', 'SSHA512', 'SSHA256', 'SSHA', 'SHA512', 'SHA256', 'PLAIN', 'CLEARTEXT', 'MD5-CRYPT', 'CRYPT']) {
    t.ok(schemes.has(s), `fixture covers ${s}`);
  }
  for (const v of fixture.vectors) {
    const name = `${v.scheme}${v.args ? ` ${v.args}` : ''} / ${JSON.stringify(v.password)}`;
    t.equal(await verifyPassword(v.password, v.hash), true, `right: ${name}`);
    t.equal(await verifyPassword(`${v.password}x`, v.hash), false, `wrong: ${name}`);
    t.equal(await verifyPassword(v.password.slice(0, -1), v.hash), false, `prefix: ${name}`);
    t.equal(await verifyPassword(v.password.toUpperCase() === v.password ? v.password.toLowerCase() : v.password.toUpperCase(), v.hash), false, `case: ${name}`);
  }
});

t.test('verifyPassword: a bare crypt string (no {SCHEME}) is read by its $id$', async (t) => {
  for (const v of fixture.vectors.filter((x) => /^\{(SHA512-CRYPT|SHA256-CRYPT|MD5-CRYPT|BLF-CRYPT)\}/.test(x.hash))) {
    const bare = v.hash.slice(v.hash.indexOf('}') + 1);
    t.equal(await verifyPassword(v.password, bare), true, bare.slice(0, 4));
    t.equal(await verifyPassword(`${v.password}x`, bare), false, bare.slice(0, 4));
  }
});

t.test('verifyPassword: scheme names are case-insensitive; hex and base64 digests are both accepted', async (t) => {
  t.ok(await verifyPassword('Secret123!', '{sha256}lOD5vH9aUiW9FButWt+b78wRKu8JuI9HoU4gt1p7vsI='));
  const hex = Buffer.from('lOD5vH9aUiW9FButWt+b78wRKu8JuI9HoU4gt1p7vsI=', 'base64').toString('hex');
  t.ok(await verifyPassword('Secret123!', `{SHA256}${hex}`), 'Dovecot accepts hex of the right length');
  t.ok(await verifyPassword('Secret123!', `{SHA256.HEX}${hex}`));
  t.ok(await verifyPassword('Secret123!', '{MD5}$1$Gb/hB81H$CiQUW1ENvlW6GRL7KN.550'), 'Dovecot MD5 = MD5-crypt');
  t.ok(await verifyPassword('Secret123!', '{MD5}dbd4cd26d06af1db97df0d0aaa46ad59'), 'or PLAIN-MD5 when it is a digest');
});

t.test('hashPassword: writes {SCRYPT} with the current parameters and verifies', async (t) => {
  const h = await hashPassword('correct horse battery staple');
  t.match(h, /^\{SCRYPT\}\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  t.equal(SCRYPT_PARAMS.ln, 15);
  t.ok(await verifyPassword('correct horse battery staple', h));
  t.notOk(await verifyPassword('correct horse battery stapl', h));
  t.notOk(await verifyPassword('', h));
  t.not(await hashPassword('x'), await hashPassword('x'), 'salted');
  const utf8 = await hashPassword('pässwörd €');
  t.ok(await verifyPassword('pässwörd €', utf8));
  t.notOk(await verifyPassword('passwörd €', utf8));
  t.equal(checkPasswordHash(h), 'SCRYPT');
  t.equal(await rejectsCode(hashPassword('x'.repeat(MAX_PASSWORD_BYTES + 1))), 'ERR_BAD_RECORD');
});

t.test('needsRehash: only the current SCRYPT parameters are current', async (t) => {
  t.equal(needsRehash(await hashPassword('x')), false);
  t.equal(needsRehash('{SCRYPT}$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), true);
  for (const v of fixture.vectors.slice(0, 25)) t.equal(needsRehash(v.hash), true, v.scheme);
  t.equal(needsRehash('garbage'), true);
});

t.test('unknown or malformed hashes throw ERR_BAD_HASH (an operator problem, not a failed login)', async (t) => {
  const bad = [
    '', 'garbage', '{NOPE}x', '{SHA256}not base64!', '{SHA256}AAAA', '{SHA256.ZIP}AAAA', '{BLF-CRYPT.HEX}x',
    '{DES-CRYPT}U8tuygTL1Oqck', 'U8tuygTL1Oqck', '$7$scrypt', '$y$yescrypt', '{SHA512-CRYPT}$1$abc$OGyl6dDvZCDiGmIVbeuCq/',
    '{SHA512-CRYPT}$6$salt', '{SHA512-CRYPT}$6$rounds=5000000$salt$' + 'a'.repeat(86), '{BLF-CRYPT}$2y$31$' + 'a'.repeat(53),
    '{ARGON2ID}$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA', '{ARGON2ID}$argon2id$v=16$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
    '{ARGON2I}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA', '{SCRYPT}$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    '{SSHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA=', '{PLAIN}a\nb', '{PBKDF2}$1$salt$0$' + '0'.repeat(40), '{PLAIN}' + 'x'.repeat(2100),
  ];
  for (const h of bad) {
    t.equal(await rejectsCode(verifyPassword('x', h)), 'ERR_BAD_HASH', JSON.stringify(h.slice(0, 60)));
    t.throws(() => checkPasswordHash(h), { code: 'ERR_BAD_HASH' });
  }
});

t.test('PLAIN compares in constant time and handles UTF-8 and encodings', async (t) => {
  t.ok(await verifyPassword('a:b c', '{PLAIN}a:b c'));
  t.notOk(await verifyPassword('a:b', '{PLAIN}a:b c'));
  t.ok(await verifyPassword('pässwörd', `{PLAIN.B64}${Buffer.from('pässwörd').toString('base64')}`));
  t.ok(await verifyPassword('pässwörd', `{CLEAR.HEX}${Buffer.from('pässwörd').toString('hex')}`));
});

t.test('a password over MAX_PASSWORD_BYTES never matches (bounds SHA-crypt work)', async (t) => {
  const long = 'x'.repeat(MAX_PASSWORD_BYTES + 1);
  t.equal(await verifyPassword(long, `{PLAIN}${long}`), false);
  t.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES), `{PLAIN}${'x'.repeat(MAX_PASSWORD_BYTES)}`), true, 'at the cap it still works');
});
