import t from 'tap';
import { DirectoryError, parseRedisAddress, redactRedisAddress } from '../src/index.ts';

/** The ERR_BAD_NAME message a parse fails with (or a marker if it does not fail that way). */
function failure(address: string): string {
  try {
    parseRedisAddress(address);
  } catch (err) {
    if (err instanceof DirectoryError && err.code === 'ERR_BAD_NAME') return err.message;
    return `unexpected error: ${String(err)}`;
  }
  return 'parsed';
}

t.test('redis:// and rediss://: one server', async (t) => {
  t.same(parseRedisAddress('redis://127.0.0.1:6380'), { kind: 'standalone', tls: false, host: '127.0.0.1', port: 6380, db: 0 });
  t.same(parseRedisAddress('redis://redis.internal'), { kind: 'standalone', tls: false, host: 'redis.internal', port: 6379, db: 0 }, 'default port');
  t.same(parseRedisAddress('rediss://gatehouse-node:NODE-SECRET@redis.internal:6380/3'), {
    kind: 'standalone', tls: true, host: 'redis.internal', port: 6380, db: 3, username: 'gatehouse-node', password: 'NODE-SECRET',
  });
  t.same(parseRedisAddress('redis://:p%40ss%3Aw%2Fd@h:1/'), { kind: 'standalone', tls: false, host: 'h', port: 1, db: 0, password: 'p@ss:w/d' }, 'percent-decoded password, default user');
  t.same(parseRedisAddress('redis://u:a:b@h'), { kind: 'standalone', tls: false, host: 'h', port: 6379, db: 0, username: 'u', password: 'a:b' }, 'a ":" in the password');
  t.same(parseRedisAddress('redis://u:a@b@h'), { kind: 'standalone', tls: false, host: 'h', port: 6379, db: 0, username: 'u', password: 'a@b' }, 'the last "@" ends the user part');
  t.same(parseRedisAddress('redis://admin@h'), { kind: 'standalone', tls: false, host: 'h', port: 6379, db: 0, username: 'admin' });
  t.same(parseRedisAddress('REDIS://[::1]:7000'), { kind: 'standalone', tls: false, host: '::1', port: 7000, db: 0 }, 'IPv6, scheme case');
  t.same(parseRedisAddress('redis://[fe80::1]'), { kind: 'standalone', tls: false, host: 'fe80::1', port: 6379, db: 0 });
});

t.test('redis+sentinel:// and rediss+sentinel://', async (t) => {
  t.same(parseRedisAddress('redis+sentinel://s1:26379,s2:26380,10.0.0.3/mymaster'), {
    kind: 'sentinel',
    tls: false,
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: '10.0.0.3', port: 26379 }],
    masterName: 'mymaster',
    db: 0,
    sentinelTls: false,
  });
  t.same(parseRedisAddress('rediss+sentinel://node:pw@[::1]:5000/gh.master-1?db=2&sentinelUsername=watch&sentinelPassword=s%26cret&sentinelTls=1'), {
    kind: 'sentinel',
    tls: true,
    sentinels: [{ host: '::1', port: 5000 }],
    masterName: 'gh.master-1',
    db: 2,
    sentinelTls: true,
    username: 'node',
    password: 'pw',
    sentinelUsername: 'watch',
    sentinelPassword: 's&cret',
  });
  t.match(parseRedisAddress('redis+sentinel://s1/m?sentinelTls=0&'), { sentinelTls: false, db: 0 });
  t.match(parseRedisAddress('redis+sentinel://s1/m?sentinelPassword=a+b/c?d'), { sentinelPassword: 'a+b/c?d' }, '"+" stays a plus; "/" and "?" are fine in a value');
});

t.test('redis+cluster:// and rediss+cluster://', async (t) => {
  t.same(parseRedisAddress('redis+cluster://n1:7000,n2:7001,n3'), {
    kind: 'cluster',
    tls: false,
    nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }, { host: 'n3', port: 6379 }],
  });
  t.same(parseRedisAddress('rediss+cluster://gh:pw@n1:7000/'), { kind: 'cluster', tls: true, nodes: [{ host: 'n1', port: 7000 }], username: 'gh', password: 'pw' });
});

t.test('every error is ERR_BAD_NAME and names the problem', async (t) => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['127.0.0.1:6379', /must start with redis:\/\/, rediss:\/\/, redis\+sentinel:\/\/, rediss\+sentinel:\/\/, redis\+cluster:\/\/ or rediss\+cluster:\/\//],
    ['http://127.0.0.1:6379', /unknown scheme "http:\/\/"/],
    ['redis+sentinal://s1/m', /unknown scheme "redis\+sentinal:\/\/"/],
    ['redis://', /missing host/],
    ['redis://:pw@/0', /missing host/],
    ['redis://h1:6379,h2:6379', /redis:\/\/ takes one host; for several, use redis\+sentinel:\/\/ or redis\+cluster:\/\//],
    ['rediss://h1,h2', /rediss:\/\/ takes one host; for several, use rediss\+sentinel:\/\//],
    ['redis://h:0', /bad port "0" for host "h" \(expected 1\.\.65535\)/],
    ['redis://h:65536', /bad port "65536"/],
    ['redis://h:', /bad port ""/],
    ['redis://h:63a', /bad port "63a"/],
    ['redis://:6379', /port but no host/],
    ['redis://bad_host!:1', /bad host "bad_host!"/],
    ['redis://a..b', /bad host "a\.\.b"/],
    ['redis://::1', /IPv6 address in brackets, e.g. \[::1\]:6379/],
    ['redis://[::1', /unclosed "\["/],
    ['redis://[::1]x', /expected ":port" after "\[::1\]"/],
    ['redis://[zz]:1', /bad IPv6 address "\[zz\]"/],
    ['redis://h/x', /bad database "x"/],
    ['redis://h/01', /bad database "01"/],
    ['redis://h?db=1', /redis:\/\/ takes no \?parameters/],
    ['redis://h#frag', /"#" is not allowed/],
    ['redis://u:p%zz@h', /bad percent-encoding in the password/],
    ['redis://u%zz:p@h', /bad percent-encoding in the user name/],
    ['redis+sentinel://s1:26379,s2:26379', /missing master name \(expected redis\+sentinel:\/\/host:port\[,host:port…\]\/MASTERNAME\)/],
    ['redis+sentinel://s1:26379/', /missing master name/],
    ['rediss+sentinel://s1/', /missing master name \(expected rediss\+sentinel:\/\//],
    ['redis+sentinel://s1/my master', /bad master name "my master"/],
    ['redis+sentinel://s1/a/b', /bad master name "a\/b"/],
    ['redis+sentinel:///m', /empty host list/],
    ['redis+sentinel://s1,,s3/m', /host 2 of 3 is empty/],
    ['redis+sentinel://s1,s2:x/m', /bad port "x" for host "s2"/],
    ['redis+sentinel://s1/m?db=x', /bad database "x"/],
    ['redis+sentinel://s1/m?db=1&db=2', /parameter db given twice/],
    ['redis+sentinel://s1/m?db', /parameter db has no value/],
    ['redis+sentinel://s1/m?sentinelTls=yes', /sentinelTls must be 1 or 0/],
    ['redis+sentinel://s1/m?db=0&password=x', /unknown parameter 2 \(redis\+sentinel:\/\/ takes db, sentinelUsername, sentinelPassword, sentinelTls\)/],
    ['redis+sentinel://s1/m?sentinelPassword=%', /bad percent-encoding in parameter sentinelPassword/],
    ['redis+cluster://', /empty host list \(expected host:port\[,host:port…\]\)/],
    ['redis+cluster://u:p@', /empty host list/],
    ['redis+cluster://n1:7000,', /host 2 of 2 is empty/],
    ['redis+cluster://n1:99999', /bad port "99999"/],
    ['redis+cluster://n1/0', /redis\+cluster:\/\/ takes no \/path \(a cluster has only database 0\)/],
    ['rediss+cluster://n1?x=1', /rediss\+cluster:\/\/ takes no \?parameters/],
  ];
  for (const [address, message] of cases) {
    const got = failure(address);
    t.match(got, message, `${address || '(empty)'} -> ${got}`);
    t.match(got, /^directory address: /);
  }
});

t.test('passwords never appear in error messages, even in malformed addresses', async (t) => {
  const secret = 'Hunter2Secret';
  const addresses = [
    `redis://u:${secret}@h:badport`,
    `redis://u:${secret}@h1,h2`,
    `redis://u:${secret}@h/x`,
    `redis://u:${secret}@`,
    `redis://u:${secret}%zz@h`,
    `redis://u:${secret}/x@h`, // unencoded "/" in the password
    `redis://u:${secret}?x@h`, // unencoded "?"
    `redis://u:${secret}#x@h`, // unencoded "#"
    `redis://u:Hunter2:${secret}@h:0`,
    `redis+sentinel://u:${secret}@s1,s2`,
    `redis+sentinel://u:${secret}@s1/m?bogus=1`,
    `redis+sentinel://s1/m?sentinelPassword=a&${secret}`, // unencoded "&" in a parameter value
    `redis+sentinel://s1/m?sentinelPassword=${secret}&sentinelPassword=${secret}`,
    `redis+sentinel://s1/m?sentinelPassword=${secret}&sentinelTls=2`,
    `redis+sentinel://s1/m?sentinelPassword=${secret}@x`,
    `redis+cluster://u:${secret}@n1:0`,
    `redis+cluster://u:${secret}@n1/0`,
    `redis+cluster://${secret}:${secret}@n1,,n2`,
    `rediss+cluster://u:${secret}@[::1`,
  ];
  for (const address of addresses) {
    const got = failure(address);
    t.notMatch(got, /^parsed$|^unexpected/, `${address.replaceAll(secret, 'SECRET')} fails with ERR_BAD_NAME`);
    t.notOk(got.includes(secret) || got.includes('Hunter2'), `no password in: ${got}`);
  }
});

t.test('redactRedisAddress hides both passwords and shows the rest', async (t) => {
  t.equal(redactRedisAddress('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  t.equal(redactRedisAddress('redis://:hunter2@127.0.0.1:6379'), 'redis://:redacted@127.0.0.1:6379');
  t.equal(redactRedisAddress('rediss://node:p%40ss@h:6380/2'), 'rediss://node:redacted@h:6380/2');
  t.equal(redactRedisAddress('redis://u:a@b@h'), 'redis://u:redacted@h');
  t.equal(redactRedisAddress('redis://admin@h'), 'redis://admin@h', 'a user without a password stays');
  t.equal(
    redactRedisAddress('redis+sentinel://n:pw@s1:26379,s2:26379/mymaster?db=1&sentinelPassword=sp&sentinelTls=1'),
    'redis+sentinel://n:redacted@s1:26379,s2:26379/mymaster?db=1&sentinelPassword=redacted&sentinelTls=1',
  );
  t.equal(redactRedisAddress('redis+sentinel://s1/m?sentinelPassword=sp'), 'redis+sentinel://s1/m?sentinelPassword=redacted');
  t.equal(redactRedisAddress('rediss+cluster://gh:pw@n1:7000,n2:7001'), 'rediss+cluster://gh:redacted@n1:7000,n2:7001');
  t.equal(redactRedisAddress('redis+cluster://u:secret/x@n1'), 'redis+cluster://(invalid address)', 'unparsable: scheme only');
  t.equal(redactRedisAddress('nonsense secret'), '(invalid address)');
});
