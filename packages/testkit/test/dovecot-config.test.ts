import t from 'tap';
import { dovecotLayout, renderDovecotConfig, renderPasswdFile } from '../src/dovecot-config.ts';

const ports = { imap: 1, imaps: 2, pop3: 3, pop3s: 4, lmtp: 5 };

t.test('config keeps every path inside the instance directory', async (t) => {
  const conf = renderDovecotConfig({ layout: dovecotLayout('/tmp/gh-abc'), ports, instanceName: 'gatehouse-x', mailUser: { uid: 8, gid: 8 } });
  const paths = [...conf.matchAll(/(?<=[\s<:=])\/[\w./%-]+/g)].map((m) => m[0]).filter((p) => p !== '/');
  t.ok(paths.length >= 8);
  for (const p of paths) t.match(p, /^\/tmp\/gh-abc\//, p);
  t.notMatch(conf, /\/etc\/dovecot|\/var\//);
  t.match(conf, /^first_valid_uid = 8$/m);
});

t.test('config refuses paths that would need quoting', async (t) => {
  t.throws(() => renderDovecotConfig({ layout: dovecotLayout('/tmp/a b'), ports, instanceName: 'x', mailUser: { uid: 8, gid: 8 } }), /unsafe value/);
});

t.test('passwd file: lowercased names, PLAIN scheme, unsafe input refused', async (t) => {
  t.equal(renderPasswdFile([{ user: 'Alice@Example.com', password: 'p w' }]), 'alice@example.com:{PLAIN}p w::::::\n');
  t.throws(() => renderPasswdFile([{ user: '../x', password: 'p' }]));
  t.throws(() => renderPasswdFile([{ user: 'a*b', password: 'p' }]));
  t.throws(() => renderPasswdFile([{ user: 'a', password: 'p\nb:{PLAIN}x' }]));
});
