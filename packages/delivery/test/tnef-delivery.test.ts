// TNEF at delivery: a message with a winmail.dat (application/ms-tnef) part, delivered
// over LMTP through Gatehouse and read over IMAP through Gatehouse by imapflow. The
// attachments are ordinary MIME parts (BODYSTRUCTURE), and a partial FETCH of an
// attachment gives back the expected file byte for byte. Policies: convert (default),
// keep (winmail.dat kept as the last part), off (byte-exact); a broken TNEF part is
// delivered unchanged.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessageStructureObject } from 'imapflow';
import t from 'tap';
import { pythonSend } from './helpers/clients.ts';
import { imapAs, inbox, splitDelivered, startDeliveryTier, type DeliveryTier } from './helpers/tier.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const fixturesDir = ((): string => {
  const override = process.env['GATEHOUSE_FIXTURES'];
  if (override !== undefined && override !== '') return existsSync(join(override, 'tnef', 'README.md')) ? join(override, 'tnef') : override;
  return join(repo, '..', 'shared', 'fixtures', 'tnef');
})();
const fixture = (p: string): Buffer => readFileSync(join(fixturesDir, p));

/** An Outlook-style message: a text part and winmail.dat as application/ms-tnef, base64 at 76 columns. */
function outlookMessage(tnef: Buffer, subject: string): Buffer {
  const b64 = tnef.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: Outlook User <outlook@remote.test>',
      'To: <alice@example.com>',
      `Subject: ${subject}`,
      `Message-ID: <${subject}@remote.test>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer-boundary"',
      '',
      '--outer-boundary',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'See the attachments.',
      '--outer-boundary',
      'Content-Type: application/ms-tnef; name="winmail.dat"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="winmail.dat"',
      '',
      b64.endsWith('\r\n') ? b64.slice(0, -2) : b64,
      '--outer-boundary--',
      '',
    ].join('\r\n'),
  );
}

function leaves(node: MessageStructureObject, out: MessageStructureObject[] = []): MessageStructureObject[] {
  if (node.childNodes && node.childNodes.length > 0) for (const c of node.childNodes) leaves(c, out);
  else out.push(node);
  return out;
}

let tier: DeliveryTier;
t.before(async () => {
  tier = await startDeliveryTier(t);
});

const QUICK = ['quick.doc', 'quick.html', 'quick.pdf', 'quick.txt', 'quick.xml'];

t.test('TNEF (convert): attachments arrive as MIME parts; partial FETCH byte-exact', async (t) => {
  const sent = outlookMessage(fixture('poi-hmef/quick-winmail.dat'), 'tnef-convert');
  const r = await pythonSend(t, { protocol: 'lmtp', port: tier.lmtpPort, from: 'outlook@remote.test', to: ['alice@example.com'], message: sent });
  t.match(r.data, [[250, /^2\.0\.0 <alice@example\.com> /]]);
  const c = await imapAs(t, tier, 'alice@example.com');
  await c.mailboxOpen('INBOX');
  const msg = await c.fetchOne('*', { bodyStructure: true, uid: true, source: true });
  if (!msg || !msg.bodyStructure) throw new Error('no message');
  const parts = leaves(msg.bodyStructure);
  const names = parts.map((p) => p.dispositionParameters?.['filename'] ?? p.parameters?.['name']).filter((n): n is string => n !== undefined);
  t.same(names.filter((n) => QUICK.includes(n)).sort(), QUICK, 'BODYSTRUCTURE names every attachment');
  t.notOk(parts.some((p) => p.type === 'application/ms-tnef'), 'no winmail.dat left (policy convert)');
  t.ok(parts.some((p) => p.type === 'text/plain' && p.dispositionParameters?.['filename'] === undefined), 'the text body is there');
  for (const name of QUICK) {
    const part = parts.find((p) => (p.dispositionParameters?.['filename'] ?? p.parameters?.['name']) === name);
    if (!part?.part) {
      t.fail(`no part for ${name}`);
      continue;
    }
    // imapflow's download reads the part with partial FETCHes (BODY.PEEK[n]<offset.4096>) and decodes it.
    const dl = await c.download(String(msg.uid), part.part, { uid: true, chunkSize: 4096 });
    const chunks: Buffer[] = [];
    for await (const chunk of dl.content ?? []) chunks.push(chunk as Buffer);
    t.ok(Buffer.concat(chunks).equals(fixture(`poi-hmef/quick-contents/${name}`)), `${name} (part ${part.part}): byte-exact against the expected file`);
  }
  // One raw partial FETCH, checked against the base64 of the expected file's first bytes.
  const pdf = parts.find((p) => p.dispositionParameters?.['filename'] === 'quick.pdf');
  const partial = await c.fetchOne(String(msg.uid), { bodyParts: [`${pdf?.part ?? '0'}`] }, { uid: true });
  const encoded = partial ? Buffer.from(partial.bodyParts?.get(pdf?.part ?? '0') ?? Buffer.alloc(0)) : Buffer.alloc(0);
  t.ok(Buffer.from(encoded.toString('latin1').replace(/\s+/g, ''), 'base64').equals(fixture('poi-hmef/quick-contents/quick.pdf')), 'BODY[part] of quick.pdf decodes to the file');
  // The outer header and the text part are untouched.
  const stored = msg.source?.toString('latin1') ?? '';
  t.match(stored, /Subject: tnef-convert\r\nMessage-ID: <tnef-convert@remote\.test>\r\n/);
  t.match(stored, /\r\n\r\nSee the attachments\.\r\n/);
});

t.test('TNEF policies: keep adds winmail.dat back, off delivers byte-exact, broken TNEF unchanged', async (t) => {
  await tier.directory.setUser('carol@example.com', { tnef: 'keep' });
  await tier.directory.setUser('dave@example.com', { tnef: 'off' });
  const tnef = fixture('poi-hmef/quick-winmail.dat');
  const sent = outlookMessage(tnef, 'tnef-policies');
  const r = await pythonSend(t, { protocol: 'lmtp', port: tier.lmtpPort, from: 'outlook@remote.test', to: ['carol@example.com', 'dave@example.com', 'bob@example.com'], message: sent });
  t.equal(r.data.filter((d) => d[0] === 250).length, 3, 'three stored copies');
  const carol = (await inbox(t, tier, 'carol@example.com'))[0]?.toString('latin1') ?? '';
  t.match(carol, /filename="?quick\.pdf"?[;\r]/, 'keep: converted');
  t.match(carol, /Content-Type: application\/ms-tnef/, 'keep: winmail.dat kept');
  const dave = (await inbox(t, tier, 'dave@example.com'))[0];
  t.ok(dave && splitDelivered(dave, sent).rest.equals(sent), 'off: byte-exact, not converted');
  const bob = (await inbox(t, tier, 'bob@example.com'))[0]?.toString('latin1') ?? '';
  t.match(bob, /filename="?quick\.pdf"?[;\r]/, 'bob (other store, domain default convert): converted');
  t.notMatch(bob, /application\/ms-tnef/);

  const broken = outlookMessage(fixture('poi-hmef/oom.tnef'), 'tnef-broken');
  const r2 = await pythonSend(t, { protocol: 'smtp', port: tier.smtpPort, from: 'outlook@remote.test', to: ['alice@example.com'], message: broken });
  t.same(r2.data, [[250, '2.0.0 Ok: delivered to 1 mailbox']]);
  const alice = await inbox(t, tier, 'alice@example.com');
  const last = alice[alice.length - 1];
  t.ok(last && splitDelivered(last, broken).rest.equals(broken), 'a TNEF part that fails to decode is delivered exactly as sent');
});
