// A whole tier for one test file: its own Redis, two Dovecot stores, a directory with a
// key prefix of its own, and a Gatehouse node on loopback with an implicit-TLS and a
// STARTTLS listener for IMAP, and the same two for POP3 (995-style and STLS). Everything
// is real and is stopped in the test's teardown.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Test } from 'tap';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { startDovecot, startRedis, type DovecotBackend } from '@gatehouse/testkit';
import { defaultImapLimits, startGatehouseNode, type GatehouseNode, type ImapLimits } from '../../src/index.ts';

export interface TierUser {
  name: string;
  password: string;
  backend: 'be1' | 'be2';
}

export const users: TierUser[] = [
  { name: 'alice@example.com', password: 'alice-secret', backend: 'be1' },
  { name: 'bob@example.com', password: 'bob-secret', backend: 'be2' },
  { name: 'carol@example.com', password: 'carol "quoted" \\ secret', backend: 'be1' },
];

export interface Tier {
  node: GatehouseNode;
  directory: Directory;
  redisUrl: string;
  prefix: string;
  stopRedis: () => Promise<void>;
  backends: Record<'be1' | 'be2', DovecotBackend>;
  /** PEM of the node's self-signed certificate, to trust it. */
  caPem: string;
  imapsPort: number;
  imapPort: number;
  /** POP3 with implicit TLS. */
  pop3sPort: number;
  /** POP3 in cleartext with STLS. */
  pop3Port: number;
  host: string;
}

export interface TierOptions {
  limits?: Partial<ImapLimits>;
  /** Extra users (all get a password; their store must know them too). */
  extraUsers?: TierUser[];
  /** Raw dovecot.conf text for both stores (e.g. `protocol pop3 { pop3_lock_session = yes }`). */
  dovecotExtraConfig?: string;
}

export async function startTier(t: Test, opts: TierOptions = {}): Promise<Tier> {
  const all = [...users, ...(opts.extraUsers ?? [])];
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const [be1, be2] = await Promise.all(
    (['be1', 'be2'] as const).map((name) =>
      startDovecot({
        name,
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
      pop3Port: be.pop3Port,
      tls: 'starttls',
      tlsVerify: false,
      login: 'master',
      masterUser: be.masterUser,
      masterPassword: be.masterPassword,
      state: 'active',
    });
  }
  for (const u of all) {
    await directory.addUser({ name: u.name, backend: u.backend, password: await hashPassword(u.password), state: 'active', imap: true, pop3: true });
  }

  const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const node = await startGatehouseNode({
    directory,
    logger: pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' }),
    nodeId: 'test-node',
    // Failure tests make many wrong logins from 127.0.0.1: counted (the code path runs) but
    // far from the limit, which auth-throttle.test.ts tests on its own tier.
    authThrottle: { maxFailures: 1000, windowMs: 600_000, exempt: [] },
    vservers: [
      {
        name: 'default',
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, authFailureDelayMs: 50, ...opts.limits },
        imapListeners: [
          { name: 'imaps', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false },
          { name: 'imap', host: '127.0.0.1', port: 0, tls: 'starttls', allowPlaintextAuth: false },
        ],
        pop3Listeners: [
          { name: 'pop3s', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false },
          { name: 'pop3', host: '127.0.0.1', port: 0, tls: 'starttls', allowPlaintextAuth: false },
        ],
      },
    ],
  });
  t.teardown(() => node.close());
  const ls = node.listeners();
  const port = (name: string): number => ls.find((l) => l.listener === name)?.port ?? 0;
  return {
    node,
    directory,
    redisUrl: redis.url,
    prefix,
    stopRedis: () => redis.stop(),
    backends: { be1, be2 },
    caPem: cert.certPem,
    imapsPort: port('imaps'),
    imapPort: port('imap'),
    pop3sPort: port('pop3s'),
    pop3Port: port('pop3'),
    host: '127.0.0.1',
  };
}
