// Access rules at accept time, with real sockets from distinct loopback source addresses
// (127.0.0.2, 127.0.0.3 … and ::1), on IPv4, IPv6 and dual-stack (`::`) listeners. The
// rules are written to a real Redis through the Directory, as `gatehouse access` does;
// `node.refreshAccess()` stands in for the 500 ms refresh (the CLI test waits for that).
import t from 'tap';
import diagnostics from 'node:diagnostics_channel';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory } from '@gatehouse/directory';
import { startRedis } from '@gatehouse/testkit';
import { accessChannel, defaultImapLimits, startGatehouseNode, type AccessDeniedEvent, type GatehouseNode, type ImapListenerSpec } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';

const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
let directory: Directory;
let node: GatehouseNode;
const port: Record<string, number> = {};
const VS = 'acl';

const listener = (name: string, host: string, tls: ImapListenerSpec['tls'] = 'starttls'): ImapListenerSpec => ({ name, host, port: 0, tls, allowPlaintextAuth: false });

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  directory = await Directory.connect(redis.url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  // A virtual server whose stored rules do not compile: it must refuse everyone.
  await directory.setAccessRule('broken', '1.2.3', 'grant');
  const common = { defaultDomain: 'example.com', banner: 'Gatehouse ready.', tls: { cert: cert.certPem, key: cert.keyPem }, limits: defaultImapLimits };
  node = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId: 'acl-node',
    accessRefreshMs: 60_000,
    vservers: [
      {
        ...common,
        name: VS,
        imapListeners: [listener('imap4', '127.0.0.1'), listener('imaps4', '127.0.0.1', 'implicit'), listener('imapdual', '::'), listener('imap6', '::1')],
        pop3Listeners: [listener('pop34', '127.0.0.1')],
      },
      { ...common, name: 'broken', imapListeners: [listener('broken', '127.0.0.1')], pop3Listeners: [listener('brokenpop', '127.0.0.1')] },
    ],
  });
  t.teardown(() => node.close());
  for (const l of node.listeners()) port[l.listener] = l.port;
});

async function setRules(def: 'grant' | 'deny', rules: Array<[string, 'grant' | 'deny']>): Promise<void> {
  for (const r of (await directory.getAccessRules(VS)).rules) await directory.delAccessRule(VS, r.network);
  await directory.setAccessDefault(VS, def);
  for (const [network, action] of rules) await directory.setAccessRule(VS, network, action);
  await node.refreshAccess();
}

/** The first line the server sends to a client from `from`, and whether it then closed. */
async function firstLine(listenerName: string, from: string, opts: { host?: string; tls?: boolean } = {}): Promise<{ line: string | null; closed: boolean }> {
  const c = await RawClient.connect(port[listenerName] as number, {
    ...(from === '::1' ? {} : { localAddress: from }),
    host: opts.host ?? (from === '::1' ? '::1' : '127.0.0.1'),
    ...(opts.tls ? { tls: true, caPem: cert.certPem } : {}),
  });
  try {
    const line = await c.line();
    if (line === null || !line.startsWith('* OK') && !line.startsWith('+OK')) return { line, closed: (await c.rest()).length === 0 };
    return { line, closed: false };
  } finally {
    c.close();
  }
}

const DENIED = { line: '* BYE [CONTACTADMIN] Access denied.', closed: true };
const OK = { line: '* OK', closed: false };

t.test('grant all except: a single IPv4 address denied, its neighbours greeted', async (t) => {
  await setRules('grant', [['127.0.0.2', 'deny']]);
  t.same(await firstLine('imap4', '127.0.0.2'), DENIED);
  t.match(await firstLine('imap4', '127.0.0.3'), OK);
});

t.test('deny all except: a subnet given as CIDR granted, everything else refused', async (t) => {
  await setRules('deny', [['127.0.0.4/30', 'grant']]);
  t.match(await firstLine('imap4', '127.0.0.4'), OK);
  t.match(await firstLine('imap4', '127.0.0.7'), OK);
  t.same(await firstLine('imap4', '127.0.0.8'), DENIED);
  t.same(await firstLine('imap4', '127.0.0.3'), DENIED);
});

t.test('order: the most specific rule wins (address+mask subnet denied, one host in it granted)', async (t) => {
  await setRules('grant', [['127.0.0.9', 'grant'], ['127.0.0.8/255.255.255.248', 'deny']]);
  t.match(await firstLine('imap4', '127.0.0.9'), OK, '/32 grant beats the /29 deny');
  t.same(await firstLine('imap4', '127.0.0.10'), DENIED, 'rest of the /29 denied');
  t.match(await firstLine('imap4', '127.0.0.16'), OK, 'outside the /29: default grant');
});

t.test('IPv6: ::1 denied and granted by its own rule, on an IPv6-only and a dual-stack listener', async (t) => {
  await setRules('grant', [['::1', 'deny']]);
  t.same(await firstLine('imap6', '::1'), DENIED);
  t.same(await firstLine('imapdual', '::1'), DENIED);
  t.match(await firstLine('imapdual', '127.0.0.2'), OK, 'IPv6 rule does not touch IPv4 clients');
  await setRules('deny', [['::/64', 'grant']]);
  t.match(await firstLine('imap6', '::1'), OK, 'IPv6 subnet grant');
  t.same(await firstLine('imapdual', '127.0.0.2'), DENIED);
});

t.test('IPv4-mapped: a dual-stack listener sees ::ffff:127.0.0.x, and IPv4 rules still match', async (t) => {
  await setRules('grant', [['127.0.0.2', 'deny'], ['::ffff:127.0.0.32/123', 'deny']]);
  t.same(await firstLine('imapdual', '127.0.0.2'), DENIED, 'mapped peer matches an IPv4 rule');
  t.same(await firstLine('imapdual', '127.0.0.33'), DENIED, 'a rule written in mapped form is an IPv4 rule');
  t.same(await firstLine('imap4', '127.0.0.33'), DENIED, '… on an IPv4 listener too');
  t.match(await firstLine('imapdual', '127.0.0.3'), OK);
});

t.test('implicit TLS and POP3: the refusal is one line before any credentials', async (t) => {
  await setRules('grant', [['127.0.0.2', 'deny']]);
  t.same(await firstLine('imaps4', '127.0.0.2', { tls: true }), DENIED);
  t.match(await firstLine('imaps4', '127.0.0.3', { tls: true }), OK);
  t.same(await firstLine('pop34', '127.0.0.2'), { line: '-ERR Access denied.', closed: true });
  t.match(await firstLine('pop34', '127.0.0.3'), { line: '+OK', closed: false });
});

t.test('a denial is published on gatehouse:access', async (t) => {
  await setRules('deny', []);
  const seen: AccessDeniedEvent[] = [];
  const onEvent = (m: unknown): void => void seen.push(m as AccessDeniedEvent);
  diagnostics.subscribe(accessChannel.name, onEvent);
  t.teardown(() => diagnostics.unsubscribe(accessChannel.name, onEvent));
  t.same(await firstLine('imapdual', '127.0.0.5'), DENIED);
  t.same(seen, [{ nodeId: 'acl-node', vserver: VS, listener: 'imapdual', protocol: 'imap', remoteAddress: '127.0.0.5', reason: 'denied', rule: null }]);
});

t.test('rules that cannot be read fail closed', async (t) => {
  t.same(await firstLine('broken', '127.0.0.2'), { line: '* BYE [UNAVAILABLE] Access rules unavailable; try again later.', closed: true });
  t.same(await firstLine('brokenpop', '127.0.0.2'), { line: '-ERR [SYS/TEMP] Access rules unavailable; try again later.', closed: true });
  // Once fixed, the next read lets clients in.
  await directory.delAccessRule('broken', '1.2.3');
  await node.refreshAccess();
  t.match(await firstLine('broken', '127.0.0.2'), OK);
});
