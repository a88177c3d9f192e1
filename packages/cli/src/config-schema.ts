// The node's YAML configuration: one zod schema is both the TypeScript type and the
// validator, and holds every default (docs/configuration.md is written from it).
import { z } from 'zod';
import { normalizeDomain, parseRedisAddress } from '@gatehouse/directory';
import { parseIp, parseNetwork } from '@gatehouse/policy';

/** The schemes of a directory address (the rest is checked by parseRedisAddress). */
const REDIS_SCHEME = /^rediss?(?:\+(?:sentinel|cluster))?:\/\//;

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected ADDRESS:PORT, e.g. 0.0.0.0:993 or [::]:993')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0..65535');

/** A DNS server as node's Resolver#setServers takes it: `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`. */
const dnsServer = z.string().refine((v) => {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(v) ?? /^([0-9.]+)(?::(\d{1,5}))?$/.exec(v) ?? /^([0-9a-fA-F:]*:[0-9a-fA-F:.]*)()$/.exec(v);
  const port = m?.[2] ? Number(m[2]) : 53;
  return m !== null && parseIp(m[1] as string) !== null && port >= 1 && port <= 65535;
}, 'expected an IP address with an optional port: 192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353');

/** A server name a client may ask for with SNI: a DNS name, or `*.` and one (RFC 6125 §6.4.3); a trailing dot is allowed. */
const sniName = z
  .string()
  .regex(/^(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.?$/, 'a DNS name (mail.example.org) or a wildcard (*.example.org)')
  .max(254);

const limits = z
  .object({
    maxLineBytes: z.number().int().min(1024).max(1 << 20),
    maxLiteralBytes: z.number().int().min(1024).max(16 << 20),
    maxPreAuthCommands: z.number().int().min(1).max(10_000),
    maxAuthFailures: z.number().int().min(1).max(100),
    authTimeoutMs: z.number().int().min(1000),
    tlsHandshakeTimeoutMs: z.number().int().min(100),
    proxyHeaderTimeoutMs: z.number().int().min(100).max(60_000),
    authFailureDelayMs: z.number().int().min(0).max(60_000),
    backendConnectTimeoutMs: z.number().int().min(100),
    backendResponseTimeoutMs: z.number().int().min(100),
    sessionIdleTimeoutMs: z.number().int().min(60_000),
    /** Connections at once on the virtual server, per node (0: no limit); `gatehouse vserver set --max-connections` overrides. */
    maxConnections: z.number().int().min(0).max(10_000_000),
    /** Connections at once from one client address, per node (0: no limit); `--max-per-client` overrides. */
    maxConnectionsPerClient: z.number().int().min(0).max(1_000_000),
  })
  .partial()
  .strict();

/** Limits of the LMTP/SMTP listeners (packages/delivery/src/delivery-limits.ts has the defaults and reasons). */
const deliveryLimits = z
  .object({
    maxMessageBytes: z.number().int().min(1024).max(1 << 30),
    maxRecipients: z.number().int().min(1).max(10_000),
    clientIdleTimeoutMs: z.number().int().min(1000),
    storeConnectTimeoutMs: z.number().int().min(100),
    storeResponseTimeoutMs: z.number().int().min(100),
    storeDataTimeoutMs: z.number().int().min(1000),
  })
  .partial()
  .strict();

const listener = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/).optional(),
    /** IMAP (993/143), POP3 (995/110), or the delivery front door: LMTP (RFC 2033) or SMTP (25, MX role). */
    protocol: z.enum(['imap', 'pop3', 'lmtp', 'smtp']).default('imap'),
    listen: hostPort,
    /** `starttls` is STARTTLS for IMAP and STLS for POP3. */
    tls: z.enum(['implicit', 'starttls']),
    /** LOGIN/AUTHENTICATE (IMAP) or USER/PASS/AUTH (POP3) before STARTTLS/STLS; only for trusted networks or tests. */
    allowPlaintextAuth: z.boolean().default(false),
    /** Expect a PROXY protocol v1/v2 header (docs/access.md) before anything else, only from `trustedProxies`. IMAP and POP3 only. */
    proxyProtocol: z.boolean().default(false),
    /** The load balancers allowed to send it: addresses or networks (CIDR or address/mask). */
    trustedProxies: z.array(z.string().refine((n) => parseNetwork(n) !== null, 'an IP address or network, e.g. 10.0.0.0/8')).default([]),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.proxyProtocol && l.trustedProxies.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['trustedProxies'], message: 'required (at least one address or network) when proxyProtocol is true' });
    }
    if (l.proxyProtocol && (l.protocol === 'lmtp' || l.protocol === 'smtp')) {
      ctx.addIssue({ code: 'custom', path: ['proxyProtocol'], message: 'only IMAP and POP3 listeners accept the PROXY protocol' });
    }
  });

const vserver = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, ".", "_" and "-"'),
    defaultDomain: z
      .string()
      .min(1)
      .refine((d) => {
        try {
          return normalizeDomain(d) === d;
        } catch {
          return false;
        }
      }, 'a lower-case DNS domain name, e.g. example.com')
      .optional(),
    banner: z.string().regex(/^[\x20-\x7e]{1,200}$/, 'printable ASCII, at most 200 characters').default('Gatehouse ready.'),
    /** The default certificate (`cert`, `key`) and more chosen by the client's SNI name (`sni`). */
    tls: z
      .object({
        cert: z.string().min(1),
        key: z.string().min(1),
        sni: z
          .array(
            z
              .object({
                cert: z.string().min(1),
                key: z.string().min(1),
                /** Absent: the certificate's DNS subjectAltNames (its CN if it has none), read when the files load. */
                names: z.array(sniName).min(1).optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict(),
    listeners: z.array(listener).min(1),
    limits: limits.default({}),
    /** Limits of this virtual server's LMTP/SMTP listeners. */
    deliveryLimits: deliveryLimits.default({}),
  })
  .strict();

export const configSchema = z
  .object({
    redis: z
      .string()
      .regex(REDIS_SCHEME, 'expected a redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster:// address')
      .superRefine((v, ctx) => {
        if (!REDIS_SCHEME.test(v)) return; // reported above
        try {
          parseRedisAddress(v);
        } catch (err) {
          // The parser's messages name what is wrong and never contain a password.
          ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^directory address: /, '') });
        }
      })
      .optional(),
    // Braces allow a Redis Cluster hash tag ("{gh}:") that keeps every key on one slot.
    keyPrefix: z.string().regex(/^[a-zA-Z0-9:_{}-]{1,32}$/).default('gh:'),
    /** Trust a verified password this long, per node (0 turns the cache off). */
    authCache: z
      .object({ ttlMs: z.number().int().min(0).max(24 * 3_600_000).default(300_000), maxEntries: z.number().int().min(0).max(10_000_000).default(10_000) })
      .strict()
      .default({ ttlMs: 300_000, maxEntries: 10_000 }),
    /** The tier-wide limit on failed logins per client address (docs/security.md); maxFailures 0 turns it off. */
    authThrottle: z
      .object({
        maxFailures: z.number().int().min(0).max(1_000_000).default(20),
        windowMs: z.number().int().min(1000).max(7 * 24 * 3_600_000).default(600_000),
        /** Networks never counted nor throttled (a webmail host, a trusted office). */
        exempt: z.array(z.string().refine((n) => parseNetwork(n) !== null, 'an IP address or network, e.g. 10.0.0.0/8')).max(1000).default([]),
      })
      .strict()
      .default({ maxFailures: 20, windowMs: 600_000, exempt: [] }),
    node: z
      .object({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, '1..64 characters of [A-Za-z0-9._-], starting with a letter or digit').optional() })
      .strict()
      .default({}),
    /** The tier-wide session registry (docs/directory.md#sessions): heartbeat period and how long a silent node's sessions stay listed. */
    sessionRegistry: z
      .object({
        heartbeatMs: z.number().int().min(100).max(600_000).default(10_000),
        ttlMs: z.number().int().min(250).max(3_600_000).default(30_000),
        /** How often each node publishes its load on the live feed (0: never). */
        loadEventMs: z.number().int().min(0).max(600_000).default(5_000),
      })
      .strict()
      .refine((r) => r.ttlMs >= 2 * r.heartbeatMs, { message: 'ttlMs must be at least twice heartbeatMs', path: ['ttlMs'] })
      .default({ heartbeatMs: 10_000, ttlMs: 30_000, loadEventMs: 5_000 }),
    /** The admin HTTP listener (API, /metrics): off unless `listen` is given; loopback unless a token is set. */
    admin: z
      .object({
        listen: hostPort.optional(),
        /** Bearer token for every admin route; required when `listen` is not a loopback address. */
        token: z.string().regex(/^[\x21-\x7e]{16,256}$/, '16..256 printable ASCII characters without spaces').optional(),
        /** The WebSocket live feed (docs/admin-feed.md); `enabled: false` turns it off. */
        feed: z
          .object({
            enabled: z.boolean().default(true),
            maxConsumers: z.number().int().min(1).max(10_000).default(100),
            maxBufferedBytes: z.number().int().min(64 * 1024).max(256 << 20).default(4 << 20),
          })
          .strict()
          .default({ enabled: true, maxConsumers: 100, maxBufferedBytes: 4 << 20 }),
      })
      .strict()
      .default({ feed: { enabled: true, maxConsumers: 100, maxBufferedBytes: 4 << 20 } }),
    /** The resolver of the domain access rules (docs/access.md): forward-confirmed reverse lookups, cached per node. */
    dns: z
      .object({
        /** Default: the system resolver (/etc/resolv.conf). */
        servers: z.array(dnsServer).min(1).max(16).optional(),
        timeoutMs: z.number().int().min(100).max(30_000).default(2000),
        cacheTtlMs: z.number().int().min(0).max(24 * 3_600_000).default(300_000),
        negativeCacheTtlMs: z.number().int().min(0).max(24 * 3_600_000).default(60_000),
        cacheMaxEntries: z.number().int().min(0).max(10_000_000).default(10_000),
      })
      .strict()
      .default({ timeoutMs: 2000, cacheTtlMs: 300_000, negativeCacheTtlMs: 60_000, cacheMaxEntries: 10_000 }),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().default({ level: 'info' }),
    vservers: z.array(vserver).min(1),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const adminHost = cfg.admin.listen?.slice(0, cfg.admin.listen.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
    if (adminHost !== undefined && cfg.admin.token === undefined && !/^(127(\.\d{1,3}){3}|::1|localhost)$/.test(adminHost)) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'token'], message: `required: the admin listener ${cfg.admin.listen} is not on loopback` });
    }
    const names = new Set<string>();
    const binds = new Set<string>();
    cfg.vservers.forEach((v, i) => {
      if (names.has(v.name)) ctx.addIssue({ code: 'custom', path: ['vservers', i, 'name'], message: `duplicate virtual server "${v.name}"` });
      names.add(v.name);
      v.listeners.forEach((l, j) => {
        if (binds.has(l.listen) && !l.listen.endsWith(':0')) {
          ctx.addIssue({ code: 'custom', path: ['vservers', i, 'listeners', j, 'listen'], message: `${l.listen} is already used by another listener` });
        }
        binds.add(l.listen);
      });
    });
  });

export type GatehouseConfig = z.infer<typeof configSchema>;
export type VserverConfig = GatehouseConfig['vservers'][number];
