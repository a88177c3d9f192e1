import { readFileSync } from 'node:fs';
import t from 'tap';
import { md5Crypt } from '../src/md5-crypt.ts';
import { shaCrypt } from '../src/sha-crypt.ts';
import { verifyPassword } from '../src/index.ts';

type Vector = { setting: string; password: string; hash: string };
const load = (file: string): Vector[] =>
  (JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

t.test('SHA-crypt: Drepper spec test vectors', async (t) => {
  const vectors = load('drepper-sha-crypt-vectors.json');
  t.equal(vectors.length, 14);
  for (const v of vectors) {
    t.equal(await shaCrypt(Buffer.from(v.password), v.setting), v.hash, v.setting);
    t.ok(await verifyPassword(v.password, v.hash), `verifies ${v.setting}`);
    t.notOk(await verifyPassword(`${v.password}!`, v.hash), `wrong password fails ${v.setting}`);
  }
});

t.test('SHA-crypt and MD5-crypt: system crypt(3) vectors (lengths around digest sizes, empty salt, UTF-8)', async (t) => {
  const vectors = load('libc-crypt-vectors.json');
  t.ok(vectors.length >= 100);
  for (const v of vectors) {
    const pw = Buffer.from(v.password, 'utf8');
    const got = v.setting.startsWith('$1$') ? md5Crypt(pw, v.setting) : await shaCrypt(pw, v.setting);
    t.equal(got, v.hash, `${v.setting} / ${v.password.length} chars`);
  }
});

t.test('SHA-crypt: keeps the event loop turning during the rounds', async (t) => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  await shaCrypt(Buffer.from('pw'), '$6$rounds=200000$salt');
  clearInterval(timer);
  t.ok(ticks > 10, `event loop ran ${ticks} times during 200000 rounds`);
});
