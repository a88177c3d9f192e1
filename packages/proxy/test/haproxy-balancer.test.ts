// Debian's HAProxy as a real L4 balancer in front of one Gatehouse node: two implicit-TLS
// IMAP listeners behind one frontend (one sent PROXY v2, the other v1, round robin) and
// a POP3 one, every listener trusting only 127.0.0.1 (where HAProxy connects from).
// Clients reach the frontend on 127.0.0.9 from their own loopback addresses, so what
// the node and the Dovecot store report can only come from the PROXY header: the rules
// and logs see 127.0.0.5/127.0.0.6, never HAProxy's 127.0.0.1, and the store's
// "connected to" address is the frontend's, never the node's socket.
// A direct connection from an untrusted peer is covered by proxy-protocol.test.ts.
import t from 'tap';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { PROXY_V2_SIGNATURE } from '@gatehouse/protocol';
import { sampleMessages, startDovecot, startHaproxy, startRedis, type DovecotBackend, type Haproxy } from '@gatehouse/testkit';
import { accessChannel, defaultImapLimits, startGatehouseNode, type AccessDeniedEvent, type GatehouseNode, type ImapListenerSpec } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';
import { b64, pop3, readMulti } from './helpers/pop3.ts';

const VS = 'lb';
const FRONTEND = '127.0.0.9';
const DENIED_CLIENT = '127.0.0.5';
const CLIENT = '127.0.0.6';
const alice = { name: 'alice@example.com', password: 'alice-secret' };
const bob = { name: 'bob@example.com', password: 'bob-secret' };
/** Lives on the recording store below. */
const rita = { name: 'rita@example.com', password: 'rita-secret' };
const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
const inbox = sampleMessages().filter((m) => m.mailbox === 'INBOX').map((m) => m.raw);

let node: GatehouseNode;
let store: DovecotBackend;
let imapLb: Haproxy;
let pop3Lb: Haproxy;
const port: Record<string, number> = {};
/** The node's log, one parsed JSON object per line: what an operator reads. */
const logLines: Array<Record<string, unknown>> = [];
/** IMAP ID commands the recording store received, one line each. */
const idLines: string[] = [];

const listener = (name: string, proxyProtocol: boolean): ImapListenerSpec => ({
  name,
  host: '127.0.0.1',
  port: 0,
  tls: 'implicit',
  allowPlaintextAuth: false,
  ...(proxyProtocol ? { proxyProtocol: true, trustedProxies: ['127.0.0.1'] } : {}),
});

/**
 * A store that records the ID it is sent and logs anyone in: the exact bytes of
 * x-connected-ip, for every kind of header, without depending on what Dovecot logs.
 */
async function startRecordingStore(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write('* OK [CAPABILITY IMAP4rev1 ID SASL-IR AUTH=PLAIN] recording store ready\r\n');
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const [tag = '*', cmd = ''] = line.split(' ');
        if (cmd.toUpperCase() === 'ID') {
          idLines.push(line);
          socket.write(`* ID NIL\r\n${tag} OK ID completed\r\n`);
        } else if (cmd.toUpperCase() === 'AUTHENTICATE') socket.write(`${tag} OK [CAPABILITY IMAP4rev1] Logged in\r\n`);
        else if (cmd.toUpperCase() === 'LOGOUT') socket.end(`* BYE Logging out\r\n${tag} OK Logout completed\r\n`);
        else socket.write(`${tag} BAD Not here\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  store = await startDovecot({
    name: 'be1',
    users: [alice, bob].map((u) => ({ user: u.name, password: u.password })),
    // Dovecot's default login line has rip and lip; the ports, and the socket's own
    // local address (real_lip) next to the one the proxy named (lip), prove the rest.
    extraConfig: 'login_log_format_elements = user=<%u> method=%m rip=%r rport=%{rport} lip=%l lport=%{lport} real_lip=%{real_lip} mpid=%e %c session=<%{session}>\n',
  });
  t.teardown(() => store.stop());
  const recPort = await startRecordingStore();

  const directory = await Directory.connect(redis.url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  for (const be of [
    { name: 'be1', port: store.imapPort, pop3Port: store.pop3Port, tls: 'starttls' as const, masterUser: store.masterUser, masterPassword: store.masterPassword },
    { name: 'rec', port: recPort, pop3Port: recPort, tls: 'none' as const, masterUser: 'master', masterPassword: 'master-secret' },
  ]) {
    await directory.addBackend({
      name: be.name,
      host: '127.0.0.1',
      imapPort: be.port,
      pop3Port: be.pop3Port,
      tls: be.tls,
      tlsVerify: false,
      login: 'master',
      masterUser: be.masterUser,
      masterPassword: be.masterPassword,
      state: 'active',
    });
  }
  for (const [u, backend] of [[alice, 'be1'], [bob, 'be1'], [rita, 'rec']] as const) {
    await directory.addUser({ name: u.name, backend, password: await hashPassword(u.password), state: 'active', imap: true, pop3: true });
  }
  await directory.setAccessRule(VS, DENIED_CLIENT, 'deny');

  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  node = await startGatehouseNode({
    directory,
    logger: pino({ level: 'info' }, sink),
    nodeId: 'lb-node',
    vservers: [
      {
        name: VS,
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, authFailureDelayMs: 50 },
        imapListeners: [listener('imaps-v2', true), listener('imaps-v1', true), listener('imaps', false)],
        pop3Listeners: [listener('pop3s-v2', true)],
      },
    ],
  });
  t.teardown(() => node.close());
  for (const l of node.listeners()) port[l.listener] = l.port;

  imapLb = await startHaproxy({
    host: FRONTEND,
    servers: [
      { port: port['imaps-v2'] as number, proxyProtocol: 'v2' },
      { port: port['imaps-v1'] as number, proxyProtocol: 'v1' },
    ],
  });
  t.teardown(() => imapLb.stop());
  pop3Lb = await startHaproxy({ host: FRONTEND, servers: [{ port: port['pop3s-v2'] as number, proxyProtocol: 'v2' }] });
  t.teardown(() => pop3Lb.stop());
});

/** A TLS client through a balancer (or straight to the node), from `from`. */
function connect(lb: { host: string; port: number }, from: string): Promise<RawClient> {
  return RawClient.connect(lb.port, { tls: true, caPem: cert.certPem, host: lb.host, localAddress: from });
}

/** Every `BODY[]` literal of a FETCH answer, as bytes (RawClient lines are latin1, so joining them with CRLF restores the wire). */
function bodies(lines: string[]): Buffer[] {
  const wire = `${lines.join('\r\n')}\r\n`;
  const out: Buffer[] = [];
  for (const m of wire.matchAll(/^\* \d+ FETCH \(BODY\[\] \{(\d+)\}\r\n/gm)) {
    const start = (m.index ?? 0) + m[0].length;
    out.push(Buffer.from(wire.slice(start, start + Number(m[1])), 'latin1'));
  }
  return out;
}

const logged = (msg: string, fields: Record<string, unknown>): Array<Record<string, unknown>> =>
  logLines.filter((l) => l['msg'] === msg && Object.entries(fields).every(([k, v]) => l[k] === v));

t.test('behind HAProxy the access rules judge the real client: 127.0.0.5 is refused on both listeners', async (t) => {
  const events: AccessDeniedEvent[] = [];
  const onDenied = (msg: unknown): void => void events.push(msg as AccessDeniedEvent);
  diagnostics.subscribe(accessChannel.name, onDenied);
  t.teardown(() => diagnostics.unsubscribe(accessChannel.name, onDenied));
  for (let i = 0; i < 2; i++) {
    const c = await connect(imapLb, DENIED_CLIENT);
    t.same(await c.rest(), ['* BYE [CONTACTADMIN] Access denied.'], 'the one line, then the close');
  }
  t.same(
    events.map((e) => `${e.listener} ${e.remoteAddress} ${e.reason}`).sort((a, b) => a.localeCompare(b)),
    [`imaps-v1 ${DENIED_CLIENT} denied`, `imaps-v2 ${DENIED_CLIENT} denied`],
    'one refusal per listener (round robin), each naming the client, not HAProxy',
  );
});

t.test('a user behind HAProxy logs in and reads mail byte-exact; consecutive logins land on both listeners', async (t) => {
  const cids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await connect(imapLb, CLIENT);
    t.teardown(() => c.close());
    t.match(await c.line(), /^\* OK \[CAPABILITY [^\]]*\bAUTH=PLAIN\b[^\]]*\] Gatehouse ready\.$/);
    t.match((await c.cmd('a', `LOGIN ${alice.name} ${alice.password}`)).at(-1), /^a OK /);
    t.match((await c.cmd('b', 'EXAMINE INBOX')).at(-1), /^b OK \[READ-ONLY\]/);
    const fetched = await c.cmd('c', 'FETCH 1:* (BODY.PEEK[])');
    t.match(fetched.at(-1), /^c OK /);
    t.same(bodies(fetched), inbox, 'every INBOX message, byte for byte');
    t.match(await c.cmd('d', 'LOGOUT'), [/^\* BYE /, /^d OK /]);
    const ok = logged('auth.ok', { user: alice.name, remoteAddress: CLIENT }).at(-1);
    cids.push(String(ok?.['cid']));
  }
  const listeners = cids.map((cid) => String(logged('auth.ok', { cid })[0]?.['listener'])).sort((a, b) => a.localeCompare(b));
  t.same(listeners, ['imaps-v1', 'imaps-v2'], "the node's auth.ok lines: one login per listener, each from the real client");
});

t.test('the store sees the real client: IMAP ID (rip, and lip/lport = the HAProxy frontend) and POP3 XCLIENT (rip)', async (t) => {
  const c = await connect(imapLb, CLIENT);
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.cmd('a', `LOGIN ${alice.name} ${alice.password}`)).at(-1), /^a OK /);
  const cid = String(logged('auth.ok', { user: alice.name, remoteAddress: CLIENT }).at(-1)?.['cid']);
  const imapLine = await store.waitForLog(new RegExp(`imap-login: Info: Login: user=<${alice.name}>.* session=<${cid}>`));
  t.match(imapLine, new RegExp(`rip=127\\.0\\.0\\.6, rport=${c.socket.localPort},`), 'the client, from the PROXY header');
  t.match(imapLine, new RegExp(`lip=127\\.0\\.0\\.9, lport=${imapLb.port},`), 'the address the client connected to: the frontend');
  t.match(imapLine, / real_lip=127\.0\.0\.1,/, "(the store's own socket was Gatehouse's)");
  t.match(await c.cmd('z', 'LOGOUT'), [/^\* BYE /, /^z OK /]);

  // Dovecot 2.3's XCLIENT takes ADDR, PORT, SESSION and TTL, no destination: lip stays the store's own.
  const p = await connect(pop3Lb, CLIENT);
  t.teardown(() => p.close());
  t.match(await p.line(), /^\+OK /);
  t.equal(await pop3(p, `AUTH PLAIN ${b64(`\0${bob.name}\0${bob.password}`)}`), '+OK Logged in.');
  p.send('RETR 1\r\n');
  const retr = await readMulti(p);
  const body = retr.slice(1, -1).map((l) => (l.startsWith('.') ? l.slice(1) : l));
  t.same(Buffer.from(`${body.join('\r\n')}\r\n`, 'latin1'), inbox[0], 'RETR through HAProxy, byte for byte');
  const pcid = String(logged('auth.ok', { user: bob.name, remoteAddress: CLIENT, proto: 'pop3' }).at(-1)?.['cid']);
  t.equal(logged('auth.ok', { cid: pcid })[0]?.['listener'], 'pop3s-v2');
  const popLine = await store.waitForLog(new RegExp(`pop3-login: Info: Login: user=<${bob.name}>.* session=<${pcid}>`));
  t.match(popLine, new RegExp(`rip=127\\.0\\.0\\.6, rport=${p.socket.localPort},`), 'the client, from the PROXY header, by XCLIENT');
  t.equal(await pop3(p, 'QUIT'), '+OK Logging out.');
});

/** A v2 PROXY header, TCP4 or TCP6 by the addresses' family. */
function v2(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  const six = src.includes(':');
  const ip = (a: string): Buffer => {
    if (!six) return Buffer.from(a.split('.').map(Number));
    const b = Buffer.alloc(16);
    const [head = '', tail = ''] = a.split('::');
    const hs = head === '' ? [] : head.split(':');
    const ts = tail === '' ? [] : tail.split(':');
    [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts].forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return b;
  };
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(srcPort, 0);
  ports.writeUInt16BE(dstPort, 2);
  const body = Buffer.concat([ip(src), ip(dst), ports]);
  const head = Buffer.from([0x21, six ? 0x21 : 0x11, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, body]);
}

/** Logs rita in on `listenerName` from 127.0.0.1, after `header` if any, and returns the ID line the store received. */
async function idSeen(listenerName: string, header: Buffer | null): Promise<string> {
  const raw = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: port[listenerName] as number }, () => resolve(s));
    s.once('error', reject);
  });
  if (header !== null) raw.write(header);
  const secure = tls.connect({ socket: raw, ca: cert.certPem, servername: 'localhost' });
  let text = '';
  secure.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const before = idLines.length;
  secure.write(`a LOGIN ${rita.name} ${rita.password}\r\n`);
  await new Promise<void>((resolve, reject) => {
    secure.on('data', () => /\r\na (OK|NO|BAD) /.test(text) && resolve());
    secure.once('close', () => reject(new Error(`closed: ${JSON.stringify(text)}`)));
  });
  secure.destroy();
  if (!/\r\na OK /.test(text)) throw new Error(`login failed: ${JSON.stringify(text)}`);
  return idLines.slice(before).join('\n');
}

t.test('ID x-connected-ip: the PROXY destination behind a balancer, else the address the node was reached on', async (t) => {
  t.match(
    await idSeen('imaps-v2', v2('192.0.2.7', 40000, '198.51.100.7', 993)),
    /"x-originating-ip" "192\.0\.2\.7" "x-originating-port" "40000" "x-connected-ip" "198\.51\.100\.7" "x-connected-port" "993"/,
  );
  t.match(
    await idSeen('imaps-v1', Buffer.from('PROXY TCP6 2001:db8::7 2001:0db8:0:0:0:0:0:0993 40001 993\r\n', 'latin1')),
    /"x-originating-ip" "2001:db8::7" "x-originating-port" "40001" "x-connected-ip" "2001:db8::993" "x-connected-port" "993"/,
    'v1, TCP6: the destination in canonical form',
  );
  t.match(
    await idSeen('imaps-v2', v2('2001:db8::8', 40002, '::ffff:c633:6408', 995)),
    /"x-originating-ip" "2001:db8::8" "x-originating-port" "40002" "x-connected-ip" "198\.51\.100\.8" "x-connected-port" "995"/,
    'v2, TCP6: an IPv4-mapped destination as IPv4',
  );
  const local = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0, 0, 0])]);
  t.match(
    await idSeen('imaps-v2', local),
    new RegExp(`"x-originating-ip" "127\\.0\\.0\\.1" "x-originating-port" "\\d+" "x-connected-ip" "127\\.0\\.0\\.1" "x-connected-port" "${port['imaps-v2']}"`),
    'LOCAL header: the connection itself',
  );
  t.match(
    await idSeen('imaps', null),
    new RegExp(`"x-originating-ip" "127\\.0\\.0\\.1" "x-originating-port" "\\d+" "x-connected-ip" "127\\.0\\.0\\.1" "x-connected-port" "${port['imaps']}"`),
    'no PROXY listener: the node socket',
  );
});
