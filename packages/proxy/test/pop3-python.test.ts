// Python's poplib through Gatehouse: CAPA, STAT, LIST, UIDL, TOP, RETR, DELE, RSET, QUIT
// over implicit TLS and STLS, compared with the same script run straight against the
// store and with the messages as stored (including one whose lines start with "." — the
// store dot-stuffs them and the client unstuffs them; Gatehouse must touch neither). Also
// at the wire level: a RETR through Gatehouse is byte-identical to a RETR at the store.
// And a session cut in the middle of a RETR leaves the maildrop as it was (RFC 1939 §6:
// only QUIT enters the UPDATE state).
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { sampleMessages } from '@gatehouse/testkit';
import { DOTTED_MESSAGE, addMaildirMessage, b64, pop3, pop3Multi } from './helpers/pop3.ts';
import { RawClient } from './helpers/raw-client.ts';
import { startTier, type Tier } from './helpers/tier.ts';

const run = promisify(execFile);

const SCRIPT = String.raw`
import base64, json, os, poplib, ssl

env = os.environ
ctx = ssl.create_default_context(cafile=env['GH_CA'])
host, port = env['GH_HOST'], int(env['GH_PORT'])
out = {}

def text(v):
    return v.decode('utf-8', 'replace') if isinstance(v, bytes) else v

def message(lines):
    # poplib strips each line's CRLF and undoes the dot-stuffing.
    return base64.b64encode(b''.join(l + b'\r\n' for l in lines)).decode('ascii')

if env['GH_MODE'] == 'ssl':
    P = poplib.POP3_SSL(host, port, context=ctx)
else:
    P = poplib.POP3(host, port)
    out['capa_before_tls'] = sorted(P.capa().keys())
    out['stls'] = text(P.stls(context=ctx))
out['capa'] = {k: v for k, v in P.capa().items()}

if env.get('GH_BAD_PASS'):
    P.user(env['GH_USER'])
    try:
        P.pass_(env['GH_BAD_PASS'])
        out['bad_login'] = 'accepted'
    except poplib.error_proto as e:
        out['bad_login'] = text(e.args[0])

out['user'] = text(P.user(env['GH_USER']))
out['pass'] = text(P.pass_(env['GH_PASS']))
out['capa_after_login'] = {k: v for k, v in P.capa().items()}
out['stat'] = list(P.stat())
resp, lines, octets = P.list()
out['list'] = [text(resp), [text(l) for l in lines]]
out['list_1'] = text(P.list(1))
resp, lines, octets = P.uidl()
out['uidl'] = [text(resp), [text(l) for l in lines]]
count = out['stat'][0]
out['top'] = [message(P.top(n, 0)[1]) for n in range(1, count + 1)]
out['top_2_lines'] = message(P.top(count, 2)[1])
out['retr'] = [message(P.retr(n)[1]) for n in range(1, count + 1)]
out['dele'] = text(P.dele(1))
try:
    P.retr(1)
    out['retr_deleted'] = 'accepted'
except poplib.error_proto as e:
    out['retr_deleted'] = text(e.args[0])
out['stat_after_dele'] = list(P.stat())
out['rset'] = text(P.rset())
out['stat_after_rset'] = list(P.stat())
out['noop'] = text(P.noop())
out['quit'] = text(P.quit())
print(json.dumps(out))
`;

let tier: Tier;
t.before(async () => {
  tier = await startTier(t, { extraUsers: [{ name: 'pat@example.com', password: 'pat secret', backend: 'be1' }] });
  await addMaildirMessage(tier.backends.be1, 'pat@example.com', DOTTED_MESSAGE);
});

async function poplib(env: Record<string, string>): Promise<Record<string, unknown>> {
  const { stdout } = await run('python3', ['-c', SCRIPT], { env: { ...process.env, ...env }, timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const inbox = [...sampleMessages().filter((m) => m.mailbox === 'INBOX').map((m) => m.raw), DOTTED_MESSAGE];
const b64raw = (raw: Buffer): string => raw.toString('base64');

for (const mode of ['ssl', 'stls'] as const) {
  t.test(`poplib over ${mode === 'ssl' ? 'implicit TLS' : 'STLS'}: every command, messages byte-exact, the same as at the store`, async (t) => {
    const through = await poplib({
      GH_MODE: mode,
      GH_CA: await caFile(tier.caPem),
      GH_HOST: '127.0.0.1',
      GH_PORT: String(mode === 'ssl' ? tier.pop3sPort : tier.pop3Port),
      GH_USER: 'pat@example.com',
      GH_PASS: 'pat secret',
      GH_BAD_PASS: 'wrong',
    });
    if (mode === 'stls') {
      t.same(through['capa_before_tls'], ['AUTH-RESP-CODE', 'PIPELINING', 'RESP-CODES', 'STLS', 'TOP', 'UIDL']);
      t.equal(through['stls'], '+OK Begin TLS negotiation now.');
    }
    t.same(through['capa'], { TOP: [], UIDL: [], 'RESP-CODES': [], PIPELINING: [], 'AUTH-RESP-CODE': [], USER: [], SASL: ['PLAIN', 'LOGIN'] });
    t.equal(through['bad_login'], '-ERR [AUTH] Authentication failed.');
    t.equal(through['pass'], '+OK Logged in.');
    t.same(through['stat'], [4, inbox.reduce((n, m) => n + m.length, 0)]);
    t.same(through['retr'], inbox.map(b64raw), 'RETR: the stored bytes, the dotted message included');
    t.same(through['top'], inbox.map((m) => b64raw(Buffer.from(`${m.toString('latin1').split('\r\n\r\n')[0]}\r\n\r\n`, 'latin1'))), 'TOP n 0: the header');
    t.equal(Buffer.from(through['top_2_lines'] as string, 'base64').toString('latin1').split('\r\n\r\n')[1], '.\r\n..two dots\r\n', 'TOP 4 2: two body lines');
    t.match(through['dele'], /^\+OK/);
    t.match(through['retr_deleted'], /^-ERR/);
    t.same(through['stat_after_dele'], [3, inbox.slice(1).reduce((n, m) => n + m.length, 0)]);
    t.match(through['rset'], /^\+OK/);
    t.same(through['stat_after_rset'], through['stat']);
    t.match(through['noop'], /^\+OK/);
    t.match(through['quit'], /^\+OK/);

    const direct = await poplib({
      GH_MODE: mode,
      GH_CA: await caFile(tier.backends.be1.caPem),
      GH_HOST: '127.0.0.1',
      GH_PORT: String(mode === 'ssl' ? tier.backends.be1.pop3sPort : tier.backends.be1.pop3Port),
      GH_USER: 'pat@example.com',
      GH_PASS: 'pat secret',
    });
    for (const key of ['capa_after_login', 'stat', 'list', 'list_1', 'uidl', 'top', 'top_2_lines', 'retr', 'dele', 'retr_deleted', 'stat_after_dele', 'rset', 'stat_after_rset', 'quit']) {
      t.same(through[key], direct[key], `${key}: as at the store`);
    }
  });
}

t.test('RETR on the wire: the dot-stuffed bytes through Gatehouse are the bytes the store sends', async (t) => {
  const retr = async (c: RawClient): Promise<Buffer> => {
    t.equal(await pop3(c, 'STAT'), `+OK 4 ${inbox.reduce((n, m) => n + m.length, 0)}`);
    c.socket.removeAllListeners('data');
    const chunks: Buffer[] = [c.takeBuffered()];
    const done = new Promise<void>((resolve) =>
      c.socket.on('data', (d: Buffer) => {
        chunks.push(d);
        if (Buffer.concat(chunks).includes('\r\n.\r\n')) resolve();
      }),
    );
    c.send('RETR 4\r\n');
    await done;
    c.close();
    return Buffer.concat(chunks);
  };
  const through = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
  await through.line();
  t.equal(await pop3(through, `AUTH PLAIN ${b64('\0pat@example.com\0pat secret')}`), '+OK Logged in.');
  const viaGatehouse = await retr(through);
  const be = tier.backends.be1;
  const direct = await RawClient.connect(be.pop3sPort, { tls: true, caPem: be.caPem });
  await direct.line();
  t.equal(await pop3(direct, `AUTH PLAIN ${b64('\0pat@example.com\0pat secret')}`), '+OK Logged in.');
  const atStore = await retr(direct);
  t.same(viaGatehouse, atStore);
  t.match(viaGatehouse.toString('latin1'), /\r\n\r\n\.\.\r\n\.\.\.two dots\r\n\.\.leading dot\r\n\.\. \r\nend\r\n\.\r\n$/, 'dot-stuffed as RFC 1939 §3 says');
});

t.test('a session cut in the middle of a RETR leaves the maildrop unchanged (no UPDATE state)', async (t) => {
  const be = tier.backends.be1;
  const login = async (): Promise<RawClient> => {
    const c = await RawClient.connect(tier.pop3sPort, { tls: true, caPem: tier.caPem });
    t.teardown(() => c.close());
    await c.line();
    t.equal(await pop3(c, `AUTH PLAIN ${b64('\0alice@example.com\0alice-secret')}`), '+OK Logged in.');
    return c;
  };
  const first = await login();
  const uidl = await pop3Multi(first, 'UIDL');
  t.equal(uidl.length, 5, 'three messages');
  t.match(await pop3(first, 'DELE 1'), /^\+OK/);
  first.send('RETR 2\r\n');
  t.match(await first.line(), /^\+OK/, 'the 350 KB message starts to arrive');
  first.socket.destroy();
  await be.waitForLog(/pop3\(alice@example\.com\).*Disconnected/, 10_000);
  t.equal(await be.doveadm(['mailbox', 'status', '-u', 'alice@example.com', 'messages', 'INBOX']), 'INBOX messages=3\n', 'the DELE was never committed');
  // Dovecot sets \Seen when a RETR starts (pop3_no_flag_updates = no): a store's choice,
  // not the UPDATE state. \Deleted, which only QUIT would have expunged, is nowhere.
  t.notMatch(await be.doveadm(['fetch', '-u', 'alice@example.com', 'flags', 'mailbox', 'INBOX', 'all']), /\\Deleted/);
  const again = await login();
  t.same(await pop3Multi(again, 'UIDL'), uidl, 'the same messages, with the same UIDs');
});

const caFiles = new Map<string, string>();
async function caFile(pem: string): Promise<string> {
  let file = caFiles.get(pem);
  if (file === undefined) {
    file = path.join(tier.backends.be2.baseDir, `ca-${caFiles.size}.pem`);
    await writeFile(file, pem);
    caFiles.set(pem, file);
  }
  return file;
}
