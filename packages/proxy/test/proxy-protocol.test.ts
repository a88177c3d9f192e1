// PROXY protocol v1/v2 on listeners that enable it: real sockets from distinct loopback
// source addresses play the balancer (127.0.0.2, trusted) and strangers (127.0.0.3).
// The access rules must see the client named inside the header.
import t from 'tap';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory } from '@gatehouse/directory';
import { PROXY_V2_SIGNATURE } from '@gatehouse/protocol';
import { startRedis } from '@gatehouse/testkit';
import { defaultImapLimits, startGatehouseNode, type GatehouseNode, type ImapListenerSpec } from '../src/index.ts';

const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
let node: GatehouseNode;
const port: Record<string, number> = {};
const VS = 'lb';

const proxied = (name: string, host: string, tls: ImapListenerSpec['tls'] = 'starttls'): ImapListenerSpec => ({
  name, host, port: 0, tls, allowPlaintextAuth: false, proxyProtocol: true, trustedProxies: ['127.0.0.2', '::1'],
});

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const directory = await Directory.connect(redis.url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  await directory.setAccessRule(VS, '192.0.2.66', 'deny');
  await directory.setAccessRule(VS, '2001:db8::66', 'deny');
  await directory.setAccessRule(VS, '127.0.0.2', 'deny'); // the balancer itself: only LOCAL headers fall back to it
  node = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId: 'lb-node',
    vservers: [
      {
        name: VS,
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, proxyHeaderTimeoutMs: 300 },
        imapListeners: [proxied('pimap', '127.0.0.1'), proxied('pimaps', '127.0.0.1', 'implicit'), proxied('pdual', '::')],
        pop3Listeners: [proxied('ppop3', '127.0.0.1')],
      },
    ],
  });
  t.teardown(() => node.close());
  for (const l of node.listeners()) port[l.listener] = l.port;
});

function v1(src: string, srcPort = 50000): Buffer {
  return Buffer.from(`PROXY ${src.includes(':') ? 'TCP6' : 'TCP4'} ${src} ${src.includes(':') ? '::1' : '127.0.0.1'} ${srcPort} 143\r\n`, 'latin1');
}

function v2(src: string | null): Buffer {
  const head = Buffer.alloc(4);
  let body = Buffer.alloc(0);
  if (src === null) {
    head[0] = 0x20; // LOCAL
  } else if (src.includes(':')) {
    head[0] = 0x21;
    head[1] = 0x21;
    body = Buffer.alloc(36);
    const groups = src === '2001:db8::66' ? [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x66] : [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0242]; // ::ffff:192.0.2.66
    groups.forEach((g, i) => body.writeUInt16BE(g, i * 2));
    body[31] = 1;
    body.writeUInt16BE(40000, 32);
    body.writeUInt16BE(143, 34);
  } else {
    head[0] = 0x21;
    head[1] = 0x11;
    body = Buffer.concat([Buffer.from(src.split('.').map(Number)), Buffer.from([127, 0, 0, 1, 0x9c, 0x40, 0, 143]), Buffer.from([0x04, 0, 1, 0])]); // + a NOOP TLV
  }
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, body]);
}

/** Connects from `from`, sends `bytes`, returns every line received until the server closes or `until` matches. */
function exchange(listener: string, from: string, bytes: Buffer | null, until: (lines: string[]) => boolean = () => false): Promise<{ lines: string[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const v6 = from === '::1';
    const s = net.connect({ host: v6 ? '::1' : '127.0.0.1', port: port[listener] as number, ...(v6 ? {} : { localAddress: from }) }, () => {
      if (bytes !== null) s.write(bytes);
    });
    let buf = '';
    const lines = (): string[] => buf.split('\r\n').slice(0, -1);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer; have ${JSON.stringify(buf)}`));
    }, 5000);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (until(lines())) {
        clearTimeout(timer);
        s.destroy();
        resolve({ lines: lines(), closed: false });
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ lines: lines(), closed: true });
    });
  });
}

const greeted = (ls: string[]): boolean => ls.some((l) => l.startsWith('* OK ') || l.startsWith('+OK '));
const DENIED = { lines: ['* BYE [CONTACTADMIN] Access denied.'], closed: true };
const CLOSED_SILENTLY = { lines: [], closed: true };

t.test('v1 from a trusted balancer: the rules see the address inside the header', async (t) => {
  t.match(await exchange('pimap', '127.0.0.2', v1('192.0.2.7'), greeted), { lines: [/^\* OK /], closed: false });
  t.same(await exchange('pimap', '127.0.0.2', v1('192.0.2.66')), DENIED);
  t.same(await exchange('pimap', '127.0.0.2', v1('2001:db8::66')), DENIED, 'TCP6');
  t.same(await exchange('pimap', '127.0.0.2', v1('::ffff:192.0.2.66')), DENIED, 'TCP6 with a mapped address matches the IPv4 rule');
  t.same(await exchange('ppop3', '127.0.0.2', v1('192.0.2.66')), { lines: ['-ERR Access denied.'], closed: true }, 'POP3');
  t.match(await exchange('pdual', '::1', v1('192.0.2.7'), greeted), { lines: [/^\* OK /], closed: false }, 'balancer on ::1');
  t.same(await exchange('pdual', '::1', v1('192.0.2.66')), DENIED, 'balancer on ::1, denied client');
});

t.test('v2 from a trusted balancer: TCP4, TCP6 (mapped too), LOCAL falls back to the balancer address', async (t) => {
  t.match(await exchange('pimap', '127.0.0.2', v2('192.0.2.7'), greeted), { lines: [/^\* OK /] });
  t.same(await exchange('pimap', '127.0.0.2', v2('192.0.2.66')), DENIED);
  t.same(await exchange('pimap', '127.0.0.2', v2('2001:db8::66')), DENIED);
  t.same(await exchange('pimap', '127.0.0.2', v2('::ffff:192.0.2.66')), DENIED);
  t.same(await exchange('pimap', '127.0.0.2', v2(null)), DENIED, 'LOCAL: the balancer 127.0.0.2 itself, denied by its rule');
  t.match(await exchange('pdual', '127.0.0.2', v2('192.0.2.7'), greeted), { lines: [/^\* OK /] }, 'dual-stack listener: balancer seen as ::ffff:127.0.0.2 is trusted');
});

t.test('the session carries the real client, and bytes behind the header reach it', async (t) => {
  const r = await exchange('pimap', '127.0.0.2', Buffer.concat([v1('192.0.2.7', 41234), Buffer.from('a CAPABILITY\r\n')]), (ls) => ls.some((l) => l.startsWith('a OK')));
  t.match(r.lines, [/^\* OK /, /^\* CAPABILITY /, /^a OK/]);
  const seen = await new Promise<string>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: port['pimap'] as number, localAddress: '127.0.0.2' }, () => s.write(v1('192.0.2.8', 41235)));
    s.once('data', () => {
      const session = [...node.sessions()].find((x) => x.remotePort === 41235);
      resolve(`${session?.remoteAddress}:${session?.remotePort}`);
      s.destroy();
    });
  });
  t.equal(seen, '192.0.2.8:41235');
});

t.test('implicit TLS behind the header', async (t) => {
  for (const header of [v1('192.0.2.7'), v2('192.0.2.7'), v1('192.0.2.66')]) {
    const line = await new Promise<string>((resolve, reject) => {
      const raw = net.connect({ host: '127.0.0.1', port: port['pimaps'] as number, localAddress: '127.0.0.2' }, () => {
        raw.write(header);
        const s = tls.connect({ socket: raw, ca: cert.certPem, servername: 'localhost' });
        s.once('data', (d: Buffer) => {
          resolve(d.toString('latin1').split('\r\n')[0] as string);
          s.destroy();
        });
        s.once('error', reject);
      });
    });
    t.match(line, header.includes('192.0.2.66') ? /^\* BYE \[CONTACTADMIN\] Access denied\.$/ : /^\* OK /);
  }
});

t.test('implicit TLS: a ClientHello in the same segment as the header is not lost', async (t) => {
  const line = await new Promise<string>((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port: port['pimaps'] as number, localAddress: '127.0.0.2' }, () => {
      let first = true;
      // The TLS client writes through this stream; its first write (the ClientHello) goes out glued to the header.
      const glued = new Duplex({
        write(chunk: Buffer, _enc, cb) {
          raw.write(first ? Buffer.concat([v2('192.0.2.7'), chunk]) : chunk, cb);
          first = false;
        },
        read() {},
      });
      raw.on('data', (d: Buffer) => glued.push(d));
      const s = tls.connect({ socket: glued, ca: cert.certPem, servername: 'localhost' });
      s.once('data', (d: Buffer) => {
        resolve(d.toString('latin1').split('\r\n')[0] as string);
        s.destroy();
        raw.destroy();
      });
      s.once('error', reject);
    });
  });
  t.match(line, /^\* OK /);
});

t.test('a header from an untrusted peer closes the connection without a word', async (t) => {
  t.same(await exchange('pimap', '127.0.0.3', v1('192.0.2.7')), CLOSED_SILENTLY);
  t.same(await exchange('pimap', '127.0.0.3', v2('192.0.2.7')), CLOSED_SILENTLY);
  t.same(await exchange('pdual', '127.0.0.3', v1('192.0.2.7')), CLOSED_SILENTLY);
});

t.test('a missing, garbage or late header from the balancer closes the connection', async (t) => {
  t.same(await exchange('pimap', '127.0.0.2', Buffer.from('a CAPABILITY\r\n')), CLOSED_SILENTLY, 'IMAP instead of a header');
  t.same(await exchange('pimap', '127.0.0.2', Buffer.from('PROXY TCP4 192.0.2.7 nonsense\r\n')), CLOSED_SILENTLY, 'garbage header');
  t.same(await exchange('pimap', '127.0.0.2', null), CLOSED_SILENTLY, 'nothing within proxyHeaderTimeoutMs');
  t.same(await exchange('pimap', '127.0.0.2', Buffer.from('PROXY TCP4 192.0.2.7')), CLOSED_SILENTLY, 'incomplete header');
});
