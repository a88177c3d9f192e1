// Python's imaplib through Gatehouse: a different client stack (OpenSSL via Python's ssl,
// imaplib's own parser, AUTHENTICATE without SASL-IR). Each run is one `python3 -c`
// process configured through environment variables; it prints what it saw as JSON, with
// message bytes in base64, and the test compares that with the sample mail and with the
// same script run straight against the store.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PUBLIC_FOLDERS, PUBLIC_PREFIX, SAMPLE_FOLDERS, publicSampleMessages, sampleMessages } from '@gatehouse/testkit';
import { startTier, users, type Tier, type TierUser } from './helpers/tier.ts';

const run = promisify(execFile);

const SCRIPT = String.raw`
import base64, imaplib, json, os, ssl

env = os.environ
ctx = ssl.create_default_context(cafile=env['GH_CA'])
host, port = env['GH_HOST'], int(env['GH_PORT'])
out = {}

def text(v):
    return v.decode('utf-8', 'replace') if isinstance(v, bytes) else v

if env['GH_MODE'] == 'ssl':
    M = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
else:
    M = imaplib.IMAP4(host, port)
    out['caps_before_tls'] = sorted(M.capabilities)
    typ, dat = M.starttls(ssl_context=ctx)
    out['starttls'] = typ
out['caps'] = sorted(M.capabilities)
typ, dat = M.capability()
out['capability_cmd'] = [typ, [text(d) for d in dat]]

if env.get('GH_BAD_PASS'):
    try:
        M.login(env['GH_USER'], env['GH_BAD_PASS'])
        out['bad_login'] = 'accepted'
    except imaplib.IMAP4.error as e:
        out['bad_login'] = str(e)

if env['GH_AUTH'] == 'plain':
    creds = ('\0' + env['GH_USER'] + '\0' + env['GH_PASS']).encode('utf-8')
    challenges = []
    def answer(challenge):
        challenges.append(text(challenge))
        return creds
    typ, dat = M.authenticate('PLAIN', answer)
    out['challenges'] = challenges
else:
    typ, dat = M.login(env['GH_USER'], env['GH_PASS'])
out['login'] = typ
out['state'] = M.state
# The CAPABILITY code of the tagged OK to the login (kept apart from the command's answer).
out['login_caps'] = [text(d) for d in M.untagged_responses.pop('CAPABILITY', [])]

typ, dat = M.capability()
out['post_login_capability'] = [typ, [text(d) for d in dat]]
typ, dat = M.list()
out['list'] = [typ, sorted(text(d) for d in dat)]

out['mailboxes'] = {}
for box in json.loads(env['GH_MAILBOXES']):
    typ, dat = M.select('"%s"' % box, readonly=True)
    selected = {k: sorted(text(x) for x in v) for k, v in M.untagged_responses.items()}
    box_out = {'select': [typ, [text(d) for d in dat]], 'untagged': selected}
    typ, dat = M.search(None, 'ALL')
    box_out['search_all'] = [typ, [text(d) for d in dat]]
    nums = dat[0].split()
    typ, dat = M.search(None, 'SUBJECT', '"Quarterly"')
    box_out['search_subject'] = [typ, [text(d) for d in dat]]
    messages = []
    for num in nums:
        typ, dat = M.fetch(num, '(BODY.PEEK[])')
        literals = [part[1] for part in dat if isinstance(part, tuple)]
        messages.append(base64.b64encode(literals[0]).decode('ascii') if typ == 'OK' and len(literals) == 1 else None)
    box_out['messages'] = messages
    out['mailboxes'][box] = box_out
    M.close()

typ, dat = M.logout()
out['logout'] = typ
print(json.dumps(out))
`;

interface PyResult {
  caps_before_tls?: string[];
  starttls?: string;
  caps: string[];
  capability_cmd: [string, string[]];
  bad_login?: string;
  challenges?: string[];
  login: string;
  state: string;
  login_caps: string[];
  post_login_capability: [string, string[]];
  list: [string, string[]];
  mailboxes: Record<string, { select: [string, string[]]; untagged: Record<string, string[]>; search_all: [string, string[]]; search_subject: [string, string[]]; messages: (string | null)[] }>;
  logout: string;
}

const ALL_FOLDERS = ['INBOX', ...SAMPLE_FOLDERS, ...PUBLIC_FOLDERS.map((f) => PUBLIC_PREFIX + f)];
const alice = users[0] as TierUser;
const bob = users[1] as TierUser;
const carol = users[2] as TierUser;

let tier: Tier;
let dir: string;
let gatehouseCa: string;
t.before(async () => {
  tier = await startTier(t);
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-python-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  gatehouseCa = path.join(dir, 'gatehouse-ca.pem');
  await writeFile(gatehouseCa, tier.caPem);
});

interface RunOptions {
  mode: 'ssl' | 'starttls';
  auth: 'login' | 'plain';
  user: TierUser;
  badPassword?: string;
  /** Run against the user's store directly instead of Gatehouse. */
  direct?: boolean;
}

async function imaplib(o: RunOptions): Promise<PyResult> {
  let target = { port: o.mode === 'ssl' ? tier.imapsPort : tier.imapPort, ca: gatehouseCa };
  if (o.direct === true) {
    const be = tier.backends[o.user.backend];
    const ca = path.join(dir, `${be.name}-ca.pem`);
    await writeFile(ca, be.caPem);
    target = { port: o.mode === 'ssl' ? be.imapsPort : be.imapPort, ca };
  }
  const { stdout } = await run('python3', ['-c', SCRIPT], {
    timeout: 30_000,
    env: {
      ...process.env,
      GH_HOST: '127.0.0.1',
      GH_PORT: String(target.port),
      GH_CA: target.ca,
      GH_MODE: o.mode,
      GH_AUTH: o.auth,
      GH_USER: o.user.name,
      GH_PASS: o.user.password,
      GH_BAD_PASS: o.badPassword ?? '',
      GH_MAILBOXES: JSON.stringify(ALL_FOLDERS),
    },
  });
  return JSON.parse(stdout) as PyResult;
}

/** The samples of each mailbox, base64, in UID order. */
function expectedMessages(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of [...sampleMessages(), ...publicSampleMessages()]) (out[m.mailbox] ??= []).push(m.raw.toString('base64'));
  return out;
}

/** Everything the script saw after login, which must be the store's own answers. */
function afterLogin(r: PyResult): unknown {
  return { post_login_capability: r.post_login_capability, list: r.list, mailboxes: r.mailboxes, logout: r.logout };
}

t.test('python imaplib: IMAP4_SSL and LOGIN, then LIST, SELECT, SEARCH and FETCH BODY.PEEK[] give the sample bytes, as the store does', async (t) => {
  const [r, store] = await Promise.all([imaplib({ mode: 'ssl', auth: 'login', user: alice }), imaplib({ mode: 'ssl', auth: 'login', user: alice, direct: true })]);
  t.ok(r.caps.includes('AUTH=PLAIN') && r.caps.includes('IMAP4REV1'), 'pre-login capabilities from the greeting');
  t.equal(r.capability_cmd[0], 'OK');
  t.equal(r.login, 'OK');
  t.equal(r.state, 'AUTH');
  t.notMatch(r.post_login_capability[1].join(' '), /AUTH=/, 'post-login capabilities carry no AUTH=');
  t.match(r.post_login_capability[1].join(' '), /\bIDLE\b/);
  t.same(Object.fromEntries(Object.entries(r.mailboxes).map(([box, m]) => [box, m.messages])), expectedMessages(), 'every message byte-identical');
  t.same(r.mailboxes['INBOX']?.search_subject, ['OK', ['2']]);
  t.same(r.mailboxes['INBOX']?.search_all, ['OK', ['1 2 3']]);
  for (const box of ALL_FOLDERS) t.match(r.list[1].join('\n'), new RegExp(`"/" "?${box}"?$`, 'm'), `LIST has ${box}`);
  t.equal(r.logout, 'BYE');
  t.same(afterLogin(r), afterLogin(store), 'after login: the same answers as straight from the store');
  const storeCaps = (store.login_caps[0] ?? '').split(' ');
  t.same(
    (r.login_caps[0] ?? '').split(' '),
    storeCaps.filter((c) => c !== 'SASL-IR' && c !== 'LOGIN-REFERRALS'),
    'the login\'s CAPABILITY code is the store\'s, less what only applies before login',
  );
});

t.test('python imaplib: IMAP4 + starttls(), then LOGIN: capabilities change with TLS and messages are byte-identical', async (t) => {
  const r = await imaplib({ mode: 'starttls', auth: 'login', user: bob });
  t.ok(r.caps_before_tls?.includes('STARTTLS') && r.caps_before_tls.includes('LOGINDISABLED'), 'cleartext: STARTTLS, LOGINDISABLED');
  t.equal(r.starttls, 'OK');
  t.notOk(r.caps.includes('STARTTLS') || r.caps.includes('LOGINDISABLED'), 'after TLS: neither');
  t.ok(r.caps.includes('AUTH=PLAIN'), 'after TLS: AUTH=PLAIN');
  t.equal(r.login, 'OK');
  t.same(Object.fromEntries(Object.entries(r.mailboxes).map(([box, m]) => [box, m.messages])), expectedMessages(), 'every message byte-identical');
  t.equal(r.logout, 'BYE');
});

t.test('python imaplib: AUTHENTICATE PLAIN answering the empty "+" challenge (no SASL-IR) logs in', async (t) => {
  const r = await imaplib({ mode: 'ssl', auth: 'plain', user: carol });
  t.same(r.challenges, [''], 'one empty challenge');
  t.equal(r.login, 'OK', 'a password with quotes and a backslash goes through SASL untouched');
  t.same(Object.fromEntries(Object.entries(r.mailboxes).map(([box, m]) => [box, m.messages])), expectedMessages(), 'every message byte-identical');
  t.equal(r.logout, 'BYE');
});

t.test('python imaplib: a wrong password raises [AUTHENTICATIONFAILED] and a second LOGIN on the same connection succeeds', async (t) => {
  const r = await imaplib({ mode: 'starttls', auth: 'login', user: alice, badPassword: 'not-alices-password' });
  t.match(r.bad_login, /\[AUTHENTICATIONFAILED\]/, 'imaplib raised with the response code');
  t.equal(r.login, 'OK', 'the retry on the same connection logged in');
  t.same(r.mailboxes['INBOX']?.messages, expectedMessages()['INBOX'], 'and reads the mailbox');
  t.equal(r.logout, 'BYE');
});
