// A delivery tier for one test file: its own Redis, two Dovecot stores (each with its
// LMTP), a directory with a key prefix of its own, a delivery node with an LMTP and an
// SMTP listener (both STARTTLS) and a Gatehouse IMAP node to read the mail back the
// way a client would. Everything is real and stopped in the test's teardown.
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import type { Test } from 'tap';
import { generateSelfSigned, type PemPair } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { defaultImapLimits, startGatehouseNode, type GatehouseNode } from '@gatehouse/proxy';
import { startDovecot, startRedis, type DovecotBackend } from '@gatehouse/testkit';
import { defaultDeliveryLimits, startDeliveryNode, type DeliveryLimits, type DeliveryNode, type DeliveryVirtualServer } from '../../src/index.ts';

export interface TierUser {
  name: string;
  password: string;
  backend: 'be1' | 'be2';
}

export const users: TierUser[] = [
  { name: 'alice@example.com', password: 'alice-secret', backend: 'be1' },
  { name: 'bob@example.com', password: 'bob-secret', backend: 'be2' },
  { name: 'carol@example.com', password: 'carol-secret', backend: 'be1' },
  { name: 'dave@example.com', password: 'dave-secret', backend: 'be2' },
];

export interface DeliveryTier {
  delivery: DeliveryNode;
  imap: GatehouseNode;
  directory: Directory;
  prefix: string;
  backends: Record<'be1' | 'be2', DovecotBackend>;
  caPem: string;
  /** The certificate of the delivery and IMAP listeners (CN and names `localhost`). */
  cert: PemPair;
  /** The delivery node's virtual server as started (a reload test changes a copy). */
  vserver: DeliveryVirtualServer;
  host: string;
  lmtpPort: number;
  smtpPort: number;
  imapsPort: number;
  users: TierUser[];
}

export interface DeliveryTierOptions {
  limits?: Partial<DeliveryLimits>;
  extraUsers?: TierUser[];
  /** dovecot.conf text for both stores. */
  dovecotExtraConfig?: string;
}

export async function startDeliveryTier(t: Test, opts: DeliveryTierOptions = {}): Promise<DeliveryTier> {
  const all = [...users, ...(opts.extraUsers ?? [])];
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const [be1, be2] = await Promise.all(
    (['be1', 'be2'] as const).map((name) =>
      startDovecot({
        name,
        sampleMail: false,
        users: all.filter((u) => u.backend === name).map((u) => ({ user: u.name, password: u.password })),
        ...(opts.dovecotExtraConfig === undefined ? {} : { extraConfig: opts.dovecotExtraConfig }),
      }),
    ),
  );
  if (!be1 || !be2) throw new Error('dovecot did not start');
  t.teardown(() => be1.stop());
  t.teardown(() => be2.stop());

  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const directory = await Directory.connect(redis.url, { prefix });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  for (const be of [be1, be2]) {
    await directory.addBackend({
      name: be.name,
      host: be.host,
      imapPort: be.imapPort,
      lmtpPort: be.lmtpPort,
      tls: 'starttls',
      tlsVerify: false,
      login: 'master',
      masterUser: be.masterUser,
      masterPassword: be.masterPassword,
    });
  }
  for (const u of all) await directory.addUser({ name: u.name, backend: u.backend, password: await hashPassword(u.password) });

  const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const logger = pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' });
  const vserver: DeliveryVirtualServer = {
    name: 'default',
    banner: 'Gatehouse delivery',
    tls: { cert: cert.certPem, key: cert.keyPem },
    limits: { ...defaultDeliveryLimits, ...opts.limits },
    listeners: [
      { name: 'lmtp', host: '127.0.0.1', port: 0, protocol: 'lmtp', tls: 'starttls' },
      { name: 'smtp', host: '127.0.0.1', port: 0, protocol: 'smtp', tls: 'starttls' },
    ],
  };
  const delivery = await startDeliveryNode({ directory, logger, nodeId: 'test-node', serverName: 'gatehouse.test', vservers: [vserver] });
  t.teardown(() => delivery.close());
  const imap = await startGatehouseNode({
    directory,
    logger,
    nodeId: 'test-node',
    vservers: [
      {
        name: 'default',
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, authFailureDelayMs: 50 },
        imapListeners: [{ name: 'imaps', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false }],
      },
    ],
  });
  t.teardown(() => imap.close());
  const port = (name: string): number => delivery.listeners().find((l) => l.listener === name)?.port ?? 0;
  return {
    delivery,
    imap,
    directory,
    prefix,
    backends: { be1, be2 },
    caPem: cert.certPem,
    cert,
    vserver,
    host: '127.0.0.1',
    lmtpPort: port('lmtp'),
    smtpPort: port('smtp'),
    imapsPort: imap.listeners()[0]?.port ?? 0,
    users: all,
  };
}

/** An imapflow client logged in through Gatehouse's IMAPS listener. */
export async function imapAs(t: Test, tier: DeliveryTier, name: string): Promise<ImapFlow> {
  const u = tier.users.find((x) => x.name === name);
  if (u === undefined) throw new Error(`no test user ${name}`);
  const client = new ImapFlow({
    host: tier.host,
    port: tier.imapsPort,
    secure: true,
    tls: { ca: [tier.caPem], servername: 'localhost' },
    auth: { user: u.name, pass: u.password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.close());
  return client;
}

/** Every message of the user's INBOX, raw, in UID order (through Gatehouse). */
export async function inbox(t: Test, tier: DeliveryTier, name: string): Promise<Buffer[]> {
  const c = await imapAs(t, tier, name);
  const box = await c.mailboxOpen('INBOX');
  const out: Buffer[] = [];
  if (box.exists === 0) return out;
  for await (const m of c.fetch('1:*', { source: true, uid: true })) if (m.source) out.push(m.source);
  await c.logout();
  return out;
}

/** The headers a store prepends at delivery (Return-Path, Delivered-To, Received), then the message as sent. */
export function splitDelivered(stored: Buffer, sent: Buffer): { prefix: string; rest: Buffer } {
  const at = stored.length - sent.length;
  return { prefix: stored.subarray(0, Math.max(0, at)).toString('latin1'), rest: stored.subarray(Math.max(0, at)) };
}
