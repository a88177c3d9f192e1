// @gatehouse/testkit: real services for tests (never imported by production code).
export { startRedis } from './redis-server.ts';
export type { RedisServer, StartRedisOptions } from './redis-server.ts';
export { startRedisSentinel } from './redis-sentinel.ts';
export type { RedisSentinel, StartRedisSentinelOptions } from './redis-sentinel.ts';
export { startRedisCluster } from './redis-cluster.ts';
export type { RedisCluster, StartRedisClusterOptions } from './redis-cluster.ts';
export { startDovecot } from './dovecot-backend.ts';
export type { DovecotBackend, DovecotUser, StartDovecotOptions } from './dovecot-backend.ts';
export {
  sampleMessages,
  publicSampleMessages,
  sampleAttachment,
  SAMPLE_ATTACHMENT_BYTES,
  SAMPLE_FOLDERS,
  PUBLIC_FOLDERS,
  PUBLIC_PREFIX,
} from './sample-mail.ts';
export type { SampleMessage } from './sample-mail.ts';
export { freePort, freePorts } from './free-port.ts';
export { tmpDir, removeDir } from './tmp-dir.ts';
export { startHaproxy } from './haproxy.ts';
export type { Haproxy, HaproxyServer, StartHaproxyOptions } from './haproxy.ts';
export { startDnsServer, reverseName } from './dns-server.ts';
export type { TestDnsServer, DnsRecordType } from './dns-server.ts';
export { LineClient, imapLogin, pop3Login } from './tls-line-client.ts';
