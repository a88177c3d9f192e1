// The YAML configuration: validated once at start, every problem reported with its key
// path and line, defaults filled in, the result frozen.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '@gatehouse/testkit';
import { parseConfig } from '../src/index.ts';
import { runCli } from './helpers.ts';

const good = `redis: redis://127.0.0.1:6379
vservers:
  - name: example
    defaultDomain: example.com
    tls: { cert: /etc/gh/cert.pem, key: /etc/gh/key.pem }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit }
      - { listen: "[::]:143", tls: starttls }
`;

t.test('config: a valid file gets its defaults and is frozen', async (t) => {
  const cfg = parseConfig(good, 'good.yaml');
  t.equal(cfg.keyPrefix, 'gh:');
  t.equal(cfg.log.level, 'info');
  t.equal(cfg.vservers[0]?.banner, 'Gatehouse ready.');
  t.equal(cfg.vservers[0]?.listeners[1]?.allowPlaintextAuth, false);
  t.ok(Object.isFrozen(cfg.vservers[0]?.listeners[0]));
});

t.test('config: every error at once, each with its key path and line', async (t) => {
  const bad = `redis: http://wrong
vservers:
  - name: Example!
    tls: { cert: /c, key: /k }
    listeners:
      - { listen: "0.0.0.0:99999", tls: implicit }
      - { listen: "0.0.0.0:143", tls: sometimes }
    limits: { maxLineBytes: 10, nonsense: 1 }
`;
  try {
    parseConfig(bad, 'bad.yaml');
    t.fail('should throw');
  } catch (err) {
    const e = err as { code: string; message: string; details: Array<{ path: string; line: number | null }> };
    t.equal(e.code, 'ERR_CONFIG');
    const byPath = Object.fromEntries(e.details.map((d) => [d.path, d.line]));
    t.equal(byPath['redis'], 1);
    t.equal(byPath['vservers.0.name'], 3);
    t.equal(byPath['vservers.0.listeners.0.listen'], 6);
    t.equal(byPath['vservers.0.listeners.1.tls'], 7);
    t.equal(byPath['vservers.0.limits.maxLineBytes'], 8);
    t.equal(byPath['vservers.0.limits'], 8, 'the unknown key is reported at its object');
    t.match(e.message, /bad\.yaml:6: vservers\.0\.listeners\.0\.listen: port must be 0\.\.65535/);
  }
});

t.test('config: redis accepts Sentinel and Cluster addresses; a malformed one is reported at its line', async (t) => {
  for (const url of [
    'rediss://node:pw@redis.internal:6380/1',
    'redis+sentinel://s1:26379,s2:26379,s3:26379/gatehouse?db=1&sentinelPassword=x',
    'rediss+sentinel://node:pw@[::1]:26379/gatehouse',
    'redis+cluster://n1:7000,n2:7001,n3:7002',
    'rediss+cluster://node:pw@n1:7000',
  ]) {
    t.equal(parseConfig(good.replace('redis://127.0.0.1:6379', url), 'ok.yaml').redis, url);
  }
  const cases: [string, RegExp][] = [
    ['http://wrong', /^ *bad\.yaml:1: redis: expected a redis:\/\/, rediss:\/\/, redis\+sentinel:\/\/, rediss\+sentinel:\/\/, redis\+cluster:\/\/ or rediss\+cluster:\/\/ address$/m],
    ['redis+sentinel://:Secret9@s1:26379,s2:26379', /^ *bad\.yaml:1: redis: missing master name/m],
    ['redis+cluster://:Secret9@n1:70000', /^ *bad\.yaml:1: redis: bad port "70000" for host "n1"/m],
    ['redis+cluster://', /^ *bad\.yaml:1: redis: empty host list/m],
  ];
  for (const [url, message] of cases) {
    try {
      parseConfig(good.replace('redis://127.0.0.1:6379', url), 'bad.yaml');
      t.fail(`${url} should be refused`);
    } catch (err) {
      const e = err as { code: string; message: string };
      t.equal(e.code, 'ERR_CONFIG');
      t.match(e.message, message);
      t.notMatch(e.message, /Secret9/, 'no password in the message');
      t.equal(e.message.split('\n').filter((l) => l.includes('redis:')).length, 1, 'one issue for the key');
    }
  }
});

t.test('config: YAML syntax errors name the line', async (t) => {
  t.throws(() => parseConfig('vservers:\n  - name: [unclosed\n', 'broken.yaml'), { code: 'ERR_CONFIG', message: /broken\.yaml:\d+:/ });
});

t.test('config: duplicate virtual servers and listen addresses are refused', async (t) => {
  const dup = `${good}  - name: example
    tls: { cert: /c, key: /k }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit }
`;
  t.throws(() => parseConfig(dup, 'dup.yaml'), { message: /duplicate virtual server "example"[\s\S]*0\.0\.0\.0:993 is already used/ });
});

t.test('serve --config with a bad file: exits non-zero with the problems on stderr, nothing on stdout', async (t) => {
  const dir = await tmpDir('gh-cli-config-');
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'vservers: []\nbogus: 1\n');
  const r = await runCli(['serve', '--config', file]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /ERR_CONFIG: invalid configuration/);
  t.match(r.stderr, /bad\.yaml:1: vservers: /);
  t.match(r.stderr, /bad\.yaml:1: : Unrecognized key: "bogus"|bad\.yaml:\d+: .*bogus/);
});

t.test('serve: missing certificate file is a clear error', async (t) => {
  const r = await runCli(['serve', '--redis', 'redis://127.0.0.1:1', '--imaps', '127.0.0.1:0', '--cert', '/nonexistent.pem', '--key', '/nonexistent.key']);
  t.equal(r.code, 1);
  t.match(r.stderr, /ERR_CERT_INVALID: virtual server default: cannot load certificate \/nonexistent\.pem/);
});

t.test('config check and print: validated without starting, defaults shown, Redis password redacted', async (t) => {
  const dir = await tmpDir('gh-cli-config-');
  const file = join(dir, 'good.yaml');
  writeFileSync(file, good.replace('redis://127.0.0.1:6379', 'redis://:hunter2@127.0.0.1:6379'));
  const check = await runCli(['config', 'check', '--config', file]);
  t.equal(check.code, 0);
  t.equal(check.stdout, `${file}: ok\n`);
  const print = await runCli(['config', 'print', '--config', file, '--json']);
  t.equal(print.code, 0);
  const shown = JSON.parse(print.stdout) as { redis: string; keyPrefix: string; vservers: Array<{ banner: string }> };
  t.equal(shown.redis, 'redis://:redacted@127.0.0.1:6379');
  t.equal(shown.keyPrefix, 'gh:');
  t.equal(shown.vservers[0]?.banner, 'Gatehouse ready.');
  t.notMatch(print.stdout, /hunter2/);

  writeFileSync(file, good.replace('redis://127.0.0.1:6379', 'redis+sentinel://node:hunter2@s1:26379,s2:26379/gatehouse?sentinelPassword=hunter3'));
  const sentinel = await runCli(['config', 'print', '--config', file, '--json']);
  t.equal(sentinel.code, 0);
  t.equal((JSON.parse(sentinel.stdout) as { redis: string }).redis, 'redis+sentinel://node:redacted@s1:26379,s2:26379/gatehouse?sentinelPassword=redacted');
  t.notMatch(sentinel.stdout, /hunter/);
});

t.test('config: POP3 listeners take protocol: pop3; an unknown protocol is an error with its line', async (t) => {
  const cfg = parseConfig(
    `vservers:
  - name: example
    tls: { cert: /c.pem, key: /k.pem }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit }
      - { protocol: pop3, listen: "0.0.0.0:995", tls: implicit }
      - { protocol: pop3, listen: "0.0.0.0:110", tls: starttls, allowPlaintextAuth: true }
`,
    'pop3.yaml',
  );
  t.same(
    cfg.vservers[0]?.listeners.map((l) => [l.protocol, l.tls, l.allowPlaintextAuth]),
    [
      ['imap', 'implicit', false],
      ['pop3', 'implicit', false],
      ['pop3', 'starttls', true],
    ],
  );
  t.throws(
    () =>
      parseConfig(
        `vservers:
  - name: example
    tls: { cert: /c.pem, key: /k.pem }
    listeners:
      - { protocol: nntp, listen: "0.0.0.0:119", tls: starttls }
`,
        'nntp.yaml',
      ),
    { code: 'ERR_CONFIG', message: /nntp\.yaml:5: vservers\.0\.listeners\.0\.protocol: / },
  );
  const delivery = parseConfig(
    `vservers:
  - name: example
    tls: { cert: /c.pem, key: /k.pem }
    listeners:
      - { protocol: lmtp, listen: "127.0.0.1:24", tls: starttls }
      - { protocol: smtp, listen: "0.0.0.0:25", tls: starttls }
    deliveryLimits: { maxMessageBytes: 10485760 }
`,
    'delivery.yaml',
  );
  t.same(delivery.vservers[0]?.listeners.map((l) => l.protocol), ['lmtp', 'smtp'], 'LMTP and SMTP listeners');
  t.same(delivery.vservers[0]?.deliveryLimits, { maxMessageBytes: 10485760 });
});

t.test('config: PROXY protocol listeners need trusted balancers; networks are checked', async (t) => {
  const cfg = parseConfig(
    `vservers:
  - name: example
    tls: { cert: /c.pem, key: /k.pem }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit, proxyProtocol: true, trustedProxies: ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"] }
      - { listen: "0.0.0.0:143", tls: starttls }
    limits: { proxyHeaderTimeoutMs: 2000 }
`,
    'lb.yaml',
  );
  t.same(cfg.vservers[0]?.listeners.map((l) => [l.proxyProtocol, l.trustedProxies]), [
    [true, ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32']],
    [false, []],
  ]);
  t.equal(cfg.vservers[0]?.limits.proxyHeaderTimeoutMs, 2000);
  try {
    parseConfig(
      `vservers:
  - name: example
    tls: { cert: /c.pem, key: /k.pem }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit, proxyProtocol: true }
      - { listen: "0.0.0.0:143", tls: starttls, proxyProtocol: true, trustedProxies: ["10.0.0.0/33"] }
      - { protocol: lmtp, listen: "0.0.0.0:24", tls: starttls, proxyProtocol: true, trustedProxies: ["10.0.0.1"] }
`,
      'lb-bad.yaml',
    );
    t.fail('should throw');
  } catch (err) {
    const paths = (err as { details: Array<{ path: string }> }).details.map((d) => d.path).sort();
    t.same(paths, ['vservers.0.listeners.0.trustedProxies', 'vservers.0.listeners.1.trustedProxies.0', 'vservers.0.listeners.2.proxyProtocol']);
  }
});

t.test('config: SNI certificates and connection limits are validated with their key paths', async (t) => {
  const cfg = parseConfig(
    `vservers:
  - name: example
    tls:
      cert: /c.pem
      key: /k.pem
      sni:
        - { cert: /org.pem, key: /org.key }
        - { cert: /net.pem, key: /net.key, names: ["*.example.net", "Mail.Example.NET."] }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit }
    limits: { maxConnections: 5000, maxConnectionsPerClient: 0 }
`,
    'sni.yaml',
  );
  t.same(cfg.vservers[0]?.tls.sni?.map((s) => s.names ?? null), [null, ['*.example.net', 'Mail.Example.NET.']], 'names are optional: the certificate’s own names apply');
  t.same([cfg.vservers[0]?.limits.maxConnections, cfg.vservers[0]?.limits.maxConnectionsPerClient], [5000, 0]);
  try {
    parseConfig(
      `vservers:
  - name: example
    tls:
      cert: /c.pem
      key: /k.pem
      sni:
        - { cert: /a.pem }
        - { cert: /b.pem, key: /b.key, names: [] }
        - { cert: /c.pem, key: /c.key, names: ["mail example.org", "*.*.example.org", "a\\r\\nb"] }
    listeners:
      - { listen: "0.0.0.0:993", tls: implicit }
    limits: { maxConnections: -1, maxConnectionsPerClient: 1.5 }
`,
      'sni-bad.yaml',
    );
    t.fail('should throw');
  } catch (err) {
    const details = (err as { details: Array<{ path: string; line?: number }> }).details;
    t.same(details.map((d) => d.path).sort(), [
      'vservers.0.limits.maxConnections',
      'vservers.0.limits.maxConnectionsPerClient',
      'vservers.0.tls.sni.0.key',
      'vservers.0.tls.sni.1.names',
      'vservers.0.tls.sni.2.names.0',
      'vservers.0.tls.sni.2.names.1',
      'vservers.0.tls.sni.2.names.2',
    ]);
  }
});
