// Two virtual servers on one node, each with its own mail domains, certificate and banner,
// and their policy kept in the directory (gh:vserver:<name>, as `gatehouse vserver set`
// writes it): a user of one domain is refused on the other exactly like an unknown user;
// banner, domains, connection limits, timeouts and protocol defaults change on the running
// node with no restart. Real Redis, two real Dovecot stores, real TLS on loopback.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { startDovecot, startRedis } from '@gatehouse/testkit';
import { defaultImapLimits, startGatehouseNode, type GatehouseNode, type ImapListenerSpec } from '../src/index.ts';
import { RawClient } from './helpers/raw-client.ts';

const corpCert = generateSelfSigned({ commonName: 'imap.example.com', altNames: ['imap.example.com'] });
const clubCert = generateSelfSigned({ commonName: 'imap.example.org', altNames: ['imap.example.org'] });
const ANN = { user: 'ann@example.com', password: 'ann-secret' };
const OLAF = { user: 'olaf@example.org', password: 'olaf-secret' };
let directory: Directory;
let node: GatehouseNode;
const port: Record<string, number> = {};

const listener = (name: string, tls: ImapListenerSpec['tls']): ImapListenerSpec => ({ name, host: '127.0.0.1', port: 0, tls, allowPlaintextAuth: tls === 'starttls' });

t.before(async () => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const [be1, be2] = await Promise.all([
    startDovecot({ name: 'be1', users: [ANN] }),
    startDovecot({ name: 'be2', users: [OLAF] }),
  ]);
  if (!be1 || !be2) throw new Error('dovecot did not start');
  t.teardown(() => be1.stop());
  t.teardown(() => be2.stop());
  directory = await Directory.connect(redis.url, { prefix: `t${randomBytes(4).toString('hex')}:` });
  t.teardown(() => directory.close());
  for (const d of ['example.com', 'example.org']) await directory.addDomain(d);
  for (const be of [be1, be2]) {
    await directory.addBackend({
      name: be.name, host: be.host, imapPort: be.imapPort, pop3Port: be.pop3Port, tls: 'starttls', tlsVerify: false,
      login: 'master', masterUser: be.masterUser, masterPassword: be.masterPassword,
    });
  }
  // No IMAP/POP3 switch of their own: the virtual server's defaults decide.
  await directory.addUser({ name: ANN.user, backend: 'be1', password: await hashPassword(ANN.password) });
  await directory.addUser({ name: OLAF.user, backend: 'be2', password: await hashPassword(OLAF.password) });
  await directory.setVserverPolicy('corp', { domains: ['example.com'], defaultDomain: 'example.com', banner: 'Corp mail ready.' });
  await directory.setVserverPolicy('club', { domains: ['example.org'], defaultDomain: 'example.org', banner: 'Club mail ready.' });
  const limits = { ...defaultImapLimits, authFailureDelayMs: 20 };
  node = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId: 'vs-node',
    accessRefreshMs: 60_000, // the test calls refreshAccess() instead of waiting
    vservers: [
      {
        name: 'corp', defaultDomain: undefined, banner: 'config banner (corp)', tls: { cert: corpCert.certPem, key: corpCert.keyPem }, limits,
        imapListeners: [listener('corp-imaps', 'implicit'), listener('corp-imap', 'starttls')],
        pop3Listeners: [listener('corp-pop3', 'starttls')],
      },
      {
        name: 'club', defaultDomain: undefined, banner: 'config banner (club)', tls: { cert: clubCert.certPem, key: clubCert.keyPem }, limits,
        imapListeners: [listener('club-imaps', 'implicit')],
        pop3Listeners: [listener('club-pop3', 'starttls')],
      },
    ],
  });
  t.teardown(() => node.close());
  for (const l of node.listeners()) port[l.listener] = l.port;
});

async function imaps(vs: 'corp' | 'club', from = '127.0.0.1'): Promise<{ c: RawClient; greeting: string; subject: string }> {
  const cert = vs === 'corp' ? corpCert : clubCert;
  const c = await RawClient.connect(port[`${vs}-imaps`] as number, { tls: true, caPem: cert.certPem, servername: `imap.example.${vs === 'corp' ? 'com' : 'org'}`, localAddress: from });
  const cn = (c.socket as TLSSocket).getPeerCertificate().subject.CN;
  const subject = Array.isArray(cn) ? cn.join(',') : (cn ?? '');
  return { c, greeting: (await c.line()) ?? '(closed)', subject };
}

async function login(vs: 'corp' | 'club', user: string, password: string): Promise<string> {
  const { c } = await imaps(vs);
  try {
    const lines = await c.cmd('a1', `LOGIN "${user}" "${password}"`);
    return lines[lines.length - 1] ?? '';
  } finally {
    c.close();
  }
}

t.test('two virtual servers on one node: their own certificate, banner and domains', async (t) => {
  const corp = await imaps('corp');
  t.equal(corp.subject, 'imap.example.com', 'corp presents its certificate');
  t.match(corp.greeting, /^\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] Corp mail ready\.$/, 'the directory banner replaces the config one');
  const lines = await corp.c.cmd('a1', `LOGIN ann "${ANN.password}"`);
  t.match(lines[lines.length - 1], /^a1 OK /, 'an unqualified name gets corp’s default domain');
  const sel = await corp.c.cmd('a2', 'SELECT INBOX');
  t.match(sel[sel.length - 1], /^a2 OK \[READ-WRITE\]/, 'ann’s own store answers');
  corp.c.close();

  const club = await imaps('club');
  t.equal(club.subject, 'imap.example.org');
  t.match(club.greeting, /Club mail ready\.$/);
  club.c.close();
  t.match(await login('club', 'olaf', OLAF.password), /^a1 OK /, 'olaf logs in on club by his short name');
});

t.test('a user of a domain the virtual server does not serve is refused like an unknown user', async (t) => {
  const unknown = await login('corp', 'nobody@example.com', 'whatever');
  t.match(unknown, /^a1 NO \[AUTHENTICATIONFAILED\] /);
  t.equal(await login('corp', OLAF.user, OLAF.password), unknown, 'right password, other domain: the same answer as an unknown user');
  t.equal(await login('corp', OLAF.user, 'wrong'), unknown, 'and as a wrong password');
  t.equal(await login('club', ANN.user, ANN.password), unknown, 'the other way round too');

  // POP3 the same: one generic -ERR [AUTH].
  const pop = await RawClient.connect(port['corp-pop3'] as number);
  t.match(await pop.line(), /^\+OK Corp mail ready\./);
  pop.send(`USER ${OLAF.user}\r\n`);
  t.match(await pop.line(), /^\+OK/);
  pop.send(`PASS ${OLAF.password}\r\n`);
  t.equal(await pop.line(), '-ERR [AUTH] Authentication failed.');
  pop.close();

  // Opening corp to example.org, live: olaf now logs in there (on his own store).
  await directory.setVserverPolicy('corp', { domains: ['example.com', 'example.org'] });
  await node.refreshAccess();
  t.match(await login('corp', OLAF.user, OLAF.password), /^a1 OK /);
  await directory.setVserverPolicy('corp', { domains: ['example.com'] });
  await node.refreshAccess();
  t.equal(await login('corp', OLAF.user, OLAF.password), unknown, 'and closed again');
});

t.test('banner and auth timeout from the directory apply to the next connection, no restart', async (t) => {
  await directory.setVserverPolicy('club', { banner: 'Club mail, new banner.', authTimeoutMs: 1000 });
  await node.refreshAccess();
  const { c, greeting } = await imaps('club');
  t.match(greeting, /\] Club mail, new banner\.$/);
  t.same(await c.rest(), ['* BYE Autologout; authentication timed out.'], 'the 1 s auth timeout from the directory ended the idle connection');
  await directory.setVserverPolicy('club', { banner: null, authTimeoutMs: null });
  await node.refreshAccess();
  const back = await imaps('club');
  t.match(back.greeting, /\] config banner \(club\)$/, 'removing the field gives the config file its say again');
  back.c.close();
});

t.test('connection limits per client address and in total, per virtual server', async (t) => {
  await directory.setVserverPolicy('corp', { maxConnectionsPerClient: 2, maxConnections: 3 });
  await node.refreshAccess();
  const a1 = await imaps('corp', '127.0.0.2');
  const a2 = await imaps('corp', '127.0.0.2');
  t.match(a1.greeting, /^\* OK /);
  t.match(a2.greeting, /^\* OK /);
  const a3 = await imaps('corp', '127.0.0.2');
  t.equal(a3.greeting, '* BYE [UNAVAILABLE] Too many connections from your address; try again later.');
  t.same(await a3.c.rest(), [], 'then closed');
  const b1 = await imaps('corp', '127.0.0.3');
  t.match(b1.greeting, /^\* OK /, 'another address still gets in');
  const b2 = await imaps('corp', '127.0.0.4');
  t.equal(b2.greeting, '* BYE [UNAVAILABLE] Too many connections; try again later.', 'the fourth connection exceeds the total of 3');
  const club = await imaps('club', '127.0.0.2');
  t.match(club.greeting, /^\* OK /, 'the limits are per virtual server');

  const pop = await RawClient.connect(port['corp-pop3'] as number, { localAddress: '127.0.0.4' });
  t.equal(await pop.line(), '-ERR [SYS/TEMP] Too many connections; try again later.', 'POP3 is counted on the same virtual server');
  pop.close();

  a1.c.send('x LOGOUT\r\n');
  await a1.c.rest();
  // The slot is given back when the session ends (asynchronously after the close).
  let again = await imaps('corp', '127.0.0.2');
  for (let i = 0; i < 50 && !again.greeting.startsWith('* OK'); i++) {
    again.c.close();
    await new Promise((r) => setTimeout(r, 20));
    again = await imaps('corp', '127.0.0.2');
  }
  t.match(again.greeting, /^\* OK /, 'a closed session frees its slot');
  for (const c of [a2.c, b1.c, b2.c, club.c, again.c]) c.close();
  await directory.setVserverPolicy('corp', { maxConnectionsPerClient: null, maxConnections: null });
  await node.refreshAccess();
});

t.test('protocol defaults of a virtual server, and the user’s own switch overriding them', async (t) => {
  await directory.setVserverPolicy('club', { imap: false });
  await node.refreshAccess();
  t.match(await login('club', OLAF.user, OLAF.password), /^a1 NO \[CONTACTADMIN\] /, 'IMAP off by default on club: refused after the right password');
  t.match(await login('club', OLAF.user, 'wrong'), /^a1 NO \[AUTHENTICATIONFAILED\] /, 'a wrong password still reveals nothing');
  await directory.setUser(OLAF.user, { imap: true });
  t.match(await login('club', OLAF.user, OLAF.password), /^a1 OK /, 'the user’s own "on" overrides the default');
  await directory.setUser(OLAF.user, { imap: null });
  await directory.setVserverPolicy('club', { imap: null, pop3: false });
  await node.refreshAccess();
  t.match(await login('club', OLAF.user, OLAF.password), /^a1 OK /);
  const pop = await RawClient.connect(port['club-pop3'] as number);
  await pop.line();
  pop.send(`USER ${OLAF.user}\r\nPASS ${OLAF.password}\r\n`);
  await pop.line();
  t.equal(await pop.line(), '-ERR [SYS/PERM] POP3 access disabled for this account.');
  pop.close();
  await directory.setVserverPolicy('club', { pop3: null });
  await node.refreshAccess();
});

t.test('a virtual server whose stored policy cannot be read refuses logins, not domain checks', async (t) => {
  // A second node started while the stored record is broken never read a policy: it must
  // not fall back to "every domain may log in".
  await directory.redis.hset(`${directory.keys.prefix}vserver:corp`, 'domains', 'example.com,not a domain!');
  const second = await startGatehouseNode({
    directory,
    logger: pino({ level: 'silent' }),
    nodeId: 'vs-node-2',
    vservers: [{ name: 'corp', defaultDomain: 'example.com', banner: 'second', tls: { cert: corpCert.certPem, key: corpCert.keyPem }, limits: defaultImapLimits, imapListeners: [listener('imap', 'starttls')] }],
  });
  t.teardown(() => second.close());
  const c = await RawClient.connect(second.listeners()[0]?.port as number);
  await c.line();
  const lines = await c.cmd('a1', `LOGIN "${OLAF.user}" "${OLAF.password}"`);
  t.match(lines[lines.length - 1], /^a1 NO \[UNAVAILABLE\] /);
  c.close();
  // The running node keeps the last policy it read: olaf is still refused as unknown there.
  await node.refreshAccess();
  t.match(await login('corp', OLAF.user, OLAF.password), /^a1 NO \[AUTHENTICATIONFAILED\] /);
  await directory.setVserverPolicy('corp', { domains: ['example.com'] });
});
