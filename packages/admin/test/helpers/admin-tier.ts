// A node with its admin listener for one test file: its own Redis, two Dovecot stores,
// a directory under a prefix of its own, a Gatehouse node with IMAP and POP3 over
// implicit TLS, the session registrar, the metrics and the admin server. Stopped in the
// test's teardown.
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { Test } from 'tap';
import { generateSelfSigned } from '@gatehouse/certs';
import { Directory, hashPassword } from '@gatehouse/directory';
import { defaultImapLimits, startGatehouseNode, startSessionRegistrar, type GatehouseNode } from '@gatehouse/proxy';
import { startDovecot, startRedis, type RedisServer } from '@gatehouse/testkit';
import { GatehouseMetrics, startAdminServer, type AdminRoute, type AdminServer, type LiveFeedOptions } from '../../src/index.ts';

export const USERS = [
  { name: 'alice@example.com', password: 'alice-secret', backend: 'be1' },
  { name: 'bob@example.com', password: 'bob-secret', backend: 'be2' },
] as const;

export interface AdminTier {
  redis: RedisServer;
  directory: Directory;
  node: GatehouseNode;
  metrics: GatehouseMetrics;
  admin: AdminServer;
  base: string;
  ca: string;
  imaps: number;
  pop3s: number;
  prefix: string;
  cert: { certPem: string; keyPem: string };
}

/** Another node of the same tier (same Redis, same directory prefix), without an admin listener. */
export interface ExtraNode {
  node: GatehouseNode;
  imaps: number;
  pop3s: number;
}

export interface AdminTierOptions {
  token?: string;
  extraRoutes?: (tier: Omit<AdminTier, 'admin' | 'base'>) => AdminRoute[];
  heartbeatMs?: number;
  feed?: LiveFeedOptions | false;
  /** Load events of the registrar (default 200 ms here). */
  loadEventMs?: number;
  /** Default: silent (or GATEHOUSE_TEST_LOG's level). */
  logger?: Logger;
}

export async function startAdminTier(t: Test, opts: AdminTierOptions = {}): Promise<AdminTier> {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const [be1, be2] = await Promise.all(
    (['be1', 'be2'] as const).map((name) => startDovecot({ name, users: USERS.filter((u) => u.backend === name).map((u) => ({ user: u.name, password: u.password })) })),
  );
  if (!be1 || !be2) throw new Error('dovecot did not start');
  t.teardown(() => be1.stop());
  t.teardown(() => be2.stop());
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const directory = await Directory.connect(redis.url, { prefix, waitReady: true });
  t.teardown(() => directory.close());
  await directory.addDomain('example.com');
  for (const be of [be1, be2]) {
    await directory.addBackend({ name: be.name, host: be.host, imapPort: be.imapPort, pop3Port: be.pop3Port, tls: 'starttls', login: 'master', masterUser: be.masterUser, masterPassword: be.masterPassword });
  }
  for (const u of USERS) await directory.addUser({ name: u.name, backend: u.backend, password: await hashPassword(u.password) });
  const cert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const nodeId = `node-${randomBytes(3).toString('hex')}`;
  const metrics = new GatehouseMetrics({ nodeId });
  t.teardown(() => metrics.close());
  const { node, imaps, pop3s } = await startNode(t, directory, cert, nodeId, opts);
  const partial = { redis, directory, node, metrics, ca: cert.certPem, imaps, pop3s, prefix, cert };
  const admin = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    directory,
    nodeId,
    metrics,
    logger: opts.logger ?? logger,
    ...(opts.extraRoutes ? { extraRoutes: opts.extraRoutes(partial) } : {}),
    ...(opts.feed !== undefined ? { feed: opts.feed } : {}),
  });
  t.teardown(() => admin.close());
  return { ...partial, admin, base: `http://127.0.0.1:${admin.port}` };
}

const logger = pino({ level: process.env['GATEHOUSE_TEST_LOG'] ?? 'silent' });

/** A second node of the tier: it shares the first one's Redis and directory. */
export async function startExtraNode(t: Test, tier: AdminTier, opts: AdminTierOptions = {}): Promise<ExtraNode> {
  return startNode(t, tier.directory, tier.cert, `node-${randomBytes(3).toString('hex')}`, opts);
}

async function startNode(t: Test, directory: Directory, cert: { certPem: string; keyPem: string }, nodeId: string, opts: AdminTierOptions): Promise<ExtraNode> {
  const node = await startGatehouseNode({
    directory,
    logger: opts.logger ?? logger,
    nodeId,
    vservers: [
      {
        name: 'default',
        defaultDomain: 'example.com',
        banner: 'Gatehouse ready.',
        tls: { cert: cert.certPem, key: cert.keyPem },
        limits: { ...defaultImapLimits, authFailureDelayMs: 20 },
        imapListeners: [{ name: 'imaps', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false }],
        pop3Listeners: [{ name: 'pop3s', host: '127.0.0.1', port: 0, tls: 'implicit', allowPlaintextAuth: false }],
      },
    ],
  });
  const hb = opts.heartbeatMs ?? 200;
  const registrar = await startSessionRegistrar({ directory, nodeId, logger: opts.logger ?? logger, heartbeatMs: hb, ttlMs: Math.max(1000, 5 * hb), loadEventMs: opts.loadEventMs ?? 200 });
  t.teardown(() => registrar.close());
  t.teardown(() => node.close());
  const port = (p: string): number => node.listeners().find((l) => l.protocol === p)?.port ?? 0;
  return { node, imaps: port('imap'), pop3s: port('pop3') };
}
