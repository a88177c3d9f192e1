// The bench's private world: a Redis, one Dovecot store sized for thousands of
// sessions, a directory under its own key prefix, and the Gatehouse certificate.
// Everything started here is registered with the Cleanup, so it is stopped on success,
// on error and on Ctrl-C.
import { createHash, randomBytes } from 'node:crypto';
import { Directory, hashPassword } from '@gatehouse/directory';
import { generateSelfSigned } from '@gatehouse/certs';
import { startDovecot, startRedis, type DovecotBackend, type RedisServer } from '@gatehouse/testkit';
import type { Cleanup } from './cleanup.ts';

export const DOMAIN = 'example.com';
export const KEY_PREFIX = 'bench:';

export type BenchUser = { name: string; password: string; hash: 'scrypt' | 'ssha512' };

/** The login and FETCH user: a default (scrypt) directory hash, like a real account. */
export const SCRYPT_USER: BenchUser = { name: `bench@${DOMAIN}`, password: 'bench-secret-1', hash: 'scrypt' };
/** Same store, a cheap legacy hash: shows the proxy's own cost of a login. */
export const FAST_USER: BenchUser = { name: `fast@${DOMAIN}`, password: 'fast-secret-2', hash: 'ssha512' };

export type BackendTls = 'none' | 'starttls' | 'implicit';

export type Environment = {
  redis: RedisServer;
  dovecot: DovecotBackend;
  directory: Directory;
  gatehouseCert: { certPem: string; keyPem: string };
  backendTls: BackendTls;
};

/**
 * Dovecot's defaults stop near 1,000 sessions: `service imap` has process_limit 1024
 * (one process per session), anvil/stats/log serve at most default_client_limit (1000)
 * clients, and one user may hold mail_max_userip_connections sessions from one address
 * (the testkit sets 1000). For the idle-session test every imap process serves up to
 * 50 sessions (client_limit; all mail runs as one uid, so that is allowed), which keeps
 * thousands of sessions to a few dozen processes on a 2-core box.
 */
export function dovecotExtraConfig(sessions: number): string {
  const headroom = sessions + 500;
  const perProcess = 50;
  return [
    `default_client_limit = ${Math.max(1000, headroom * 2)}`,
    'service imap {',
    `  client_limit = ${perProcess}`,
    '  service_count = 0',
    `  process_limit = ${Math.max(100, Math.ceil(headroom / perProcess) * 2)}`,
    '}',
    'protocol imap {',
    `  mail_max_userip_connections = ${Math.max(1000, headroom)}`,
    '}',
  ].join('\n');
}

/** `{SSHA512}` as Dovecot/LDAP write it: base64(SHA-512(password ‖ salt) ‖ salt). */
function ssha512(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha512').update(password, 'utf8').update(salt).digest();
  return `{SSHA512}${Buffer.concat([digest, salt]).toString('base64')}`;
}

export async function startEnvironment(cleanup: Cleanup, opts: { sessions: number; backendTls: BackendTls }): Promise<Environment> {
  // Started side by side; whichever started is registered even if the other failed.
  const [redisR, dovecotR] = await Promise.allSettled([
    startRedis(),
    startDovecot({
      name: 'bench',
      users: [SCRYPT_USER, FAST_USER].map((u) => ({ user: u.name, password: u.password })),
      sampleMail: false,
      extraConfig: dovecotExtraConfig(opts.sessions),
    }),
  ]);
  if (redisR.status === 'fulfilled') cleanup.add('redis', () => redisR.value.stop());
  if (dovecotR.status === 'fulfilled') cleanup.add('dovecot', () => dovecotR.value.stop());
  if (redisR.status === 'rejected') throw redisR.reason;
  if (dovecotR.status === 'rejected') throw dovecotR.reason;
  const redis = redisR.value;
  const dovecot = dovecotR.value;

  const directory = await Directory.connect(redis.url, { prefix: KEY_PREFIX });
  cleanup.add('directory', () => directory.close());
  await directory.addDomain(DOMAIN);
  const port = opts.backendTls === 'implicit' ? dovecot.imapsPort : dovecot.imapPort;
  await directory.addBackend({
    name: 'store1',
    host: dovecot.host,
    imapPort: port,
    tls: opts.backendTls,
    tlsVerify: false,
    login: 'master',
    masterUser: dovecot.masterUser,
    masterPassword: dovecot.masterPassword,
    state: 'active',
  });
  for (const u of [SCRYPT_USER, FAST_USER]) {
    const hash = u.hash === 'scrypt' ? await hashPassword(u.password) : ssha512(u.password);
    await directory.addUser({ name: u.name, backend: 'store1', password: hash, state: 'active', imap: true, pop3: false });
  }
  const gatehouseCert = generateSelfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  return { redis, dovecot, directory, gatehouseCert, backendTls: opts.backendTls };
}
