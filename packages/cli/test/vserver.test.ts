// `gatehouse vserver` end to end: the real command writes a virtual server's policy to a
// real Redis, and a running node (500 ms refresh, the default) greets the next client
// with it within a second, with no restart.
import t from 'tap';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory } from '@gatehouse/directory';
import { defaultImapLimits, startGatehouseNode } from '@gatehouse/proxy';
import { startRedis } from '@gatehouse/testkit';
import { runCli, type CliResult } from './helpers.ts';

const prefix = `vs${randomBytes(3).toString('hex')}:`;
let redisUrl = '';
let imapPort = 0;
const gh = (args: string[]): Promise<CliResult> => runCli(args, { env: { GATEHOUSE_REDIS_URL: redisUrl, GATEHOUSE_KEY_PREFIX: prefix } });

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  redisUrl = redis.url;
  const directory = await Directory.connect(redis.url, { prefix });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  await directory.addDomain('example.org');
  const cert = generateSelfSigned({ commonName: 'localhost' });
  const node = await startGatehouseNode({
    directory,
    logger: pino({ level: 'silent' }),
    nodeId: 'vs-cli',
    vservers: [
      {
        name: 'example',
        defaultDomain: 'example.com',
        banner: 'Config banner.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: defaultImapLimits,
        imapListeners: [{ name: 'imap', host: '127.0.0.1', port: 0, tls: 'starttls', allowPlaintextAuth: false }],
      },
    ],
  });
  t.teardown(() => node.close());
  imapPort = node.listeners()[0]?.port ?? 0;
});

function greeting(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: imapPort });
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        s.destroy();
        resolve(buf.slice(0, i));
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(buf));
  });
}

/** Milliseconds until the greeting ends with `text`, trying every 25 ms for up to 3 s. */
async function msUntilBanner(text: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await greeting()).endsWith(`] ${text}`)) return Date.now() - started;
    if (Date.now() - started > 3000) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('vserver set/del through the CLI reach a running node within a second', async (t) => {
  t.match(await greeting(), /\] Config banner\.$/, 'no stored policy: the config file decides');
  let r = await gh(['vserver', 'set', 'example', '--banner', 'Welcome to Example mail.', '--domains', 'example.com,Example.ORG']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^banner\s+Welcome to Example mail\.$/m);
  t.match(r.stdout, /^domains\s+example\.com,example\.org$/m);
  t.ok((await msUntilBanner('Welcome to Example mail.')) < 1000, 'the new banner reached the node within a second');
  r = await gh(['vserver', 'del', 'example']);
  t.equal(r.code, 0, r.stderr);
  t.ok((await msUntilBanner('Config banner.')) < 1000, 'deleting the policy gives the config back within a second');
});

t.test('vserver show/list/--json, durations, and clear errors that change nothing', async (t) => {
  let r = await gh(['vserver', 'set', 'example', '--max-connections', '500', '--max-per-client', '20', '--auth-timeout', '45s', '--idle-timeout', '30m', '--pop3', 'off', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { name: 'example', maxConnections: 500, maxConnectionsPerClient: 20, authTimeoutMs: 45_000, idleTimeoutMs: 1_800_000, pop3: false });
  r = await gh(['vserver', 'show', 'example']);
  t.match(r.stdout, /^domains\s+\(any\)$/m, 'no domain list: every domain');
  t.match(r.stdout, /^banner\s+\(config\)$/m);
  t.match(r.stdout, /^pop3\s+no$/m);
  r = await gh(['vserver', 'list']);
  t.match(r.stdout, /^NAME\s+DOMAINS/m);
  t.match(r.stdout, /^example\s+\(any\)/m);
  r = await gh(['vserver', 'set', 'example', '--max-connections', 'none', '--json']);
  t.equal(JSON.parse(r.stdout).maxConnections, undefined, 'none removes the setting');

  const before = (await gh(['vserver', 'show', 'example', '--json'])).stdout;
  const cases: Array<[string[], number, RegExp]> = [
    [['vserver', 'set', 'example', '--domains', 'nowhere.net'], 1, /ERR_NOT_FOUND: domain nowhere\.net is not in the directory/],
    [['vserver', 'set', 'example', '--banner', 'two\r\nlines'], 1, /ERR_BAD_RECORD: .*banner/],
    [['vserver', 'set', 'example', '--max-connections', 'lots'], 2, /--max-connections must be a whole number/],
    [['vserver', 'set', 'example', '--auth-timeout', '5 minutes'], 2, /--auth-timeout must be a duration/],
    [['vserver', 'set', 'example', '--auth-timeout', '10ms'], 1, /ERR_BAD_RECORD: .*authTimeoutMs must be an integer 1000\.\./],
    [['vserver', 'set', 'example', '--imap', 'perhaps'], 2, /--imap must be on or off/],
    [['vserver', 'set', 'example'], 2, /vserver set needs something to change/],
    [['vserver', 'set', 'Bad:Name', '--banner', 'x'], 1, /ERR_BAD_NAME/],
    [['vserver', 'del', 'nothing-here'], 1, /ERR_NOT_FOUND/],
  ];
  for (const [args, code, stderr] of cases) {
    const e = await gh(args);
    t.equal(e.code, code, args.join(' '));
    t.match(e.stderr, stderr, args.join(' '));
    t.equal(e.stdout, '', 'nothing on stdout');
  }
  t.equal((await gh(['vserver', 'show', 'example', '--json'])).stdout, before, 'refused commands changed nothing');
});
