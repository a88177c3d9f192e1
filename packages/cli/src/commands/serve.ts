// `gatehouse serve`: runs one node, from a config file or, for a single virtual server,
// from flags. Stops on SIGINT/SIGTERM after ending every session with a BYE. On SIGHUP
// re-reads the config file and applies its virtual servers (listeners, certificates,
// banners, limits) to new connections without touching established sessions.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { loadPemPair } from '@gatehouse/certs';
import { GatehouseMetrics, startAdminServer } from '@gatehouse/admin';
import { Directory } from '@gatehouse/directory';
import { certificateNames, defaultImapLimits, startGatehouseNode, startSessionRegistrar, type ImapListenerSpec, type ReloadReport, type TlsCertificate, type VirtualServer } from '@gatehouse/proxy';
import type { GatehouseConfig, VserverConfig } from '../config-schema.ts';
import { loadConfig, parseConfig } from '../config-load.ts';
import { CliError } from '../cli-error.ts';
import { createLogger } from '../logger.ts';
import { reloadDelivery, startDeliveryFromConfig } from '../delivery-wiring.ts';
import type { DeliveryNode, DeliveryReloadReport } from '@gatehouse/delivery';
import type { CommandContext } from '../command-context.ts';
import type { Logger } from 'pino';

export async function serveCommand(ctx: CommandContext): Promise<void> {
  const { values } = ctx.parse({
    config: { type: 'string' },
    imaps: { type: 'string' },
    imap: { type: 'string' },
    pop3s: { type: 'string' },
    pop3: { type: 'string' },
    lmtp: { type: 'string' },
    smtp: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    domain: { type: 'string' },
    'allow-plaintext-auth': { type: 'boolean' },
    'log-level': { type: 'string' },
    admin: { type: 'string' },
  });
  const config = values.config !== undefined ? loadConfig(values.config) : configFromFlags(values);
  const redisUrl = ctx.redisUrl ?? config.redis;
  if (redisUrl === undefined) throw new CliError('ERR_USAGE', 'no directory: give --redis URL, GATEHOUSE_REDIS_URL or `redis:` in the config', 2);
  const logger = createLogger(values['log-level'] ?? config.log.level);
  // `--admin PORT` binds loopback; `--admin ADDR:PORT` any address (a token is then required).
  const adminListen = values.admin === undefined ? config.admin.listen : /^\d{1,5}$/.test(values.admin) ? `127.0.0.1:${values.admin}` : values.admin;
  const admin = adminListen === undefined ? null : parseHostPort(adminListen, '--admin');
  // Metrics subscribe before the first connection, so every counter starts at the first event.
  const metrics = admin === null ? null : new GatehouseMetrics(config.node.id ? { nodeId: config.node.id } : {});
  const vservers = config.vservers.map(buildVirtualServer);
  // A node starts even while the directory is down: logins answer NO [UNAVAILABLE] until
  // Redis is back, instead of the node crash-looping. Outages are logged once each.
  let directoryDown = false;
  const directory = await Directory.connect(redisUrl, {
    prefix: ctx.prefix ?? config.keyPrefix,
    waitReady: false,
    verifiedPasswordCache: config.authCache.ttlMs > 0 ? config.authCache : false,
    onError: (err) => {
      if (directoryDown) return;
      directoryDown = true;
      logger.error({ err: { message: err.message, code: (err as { code?: string }).code } }, 'directory.down');
    },
  });
  directory.redis.on('ready', () => {
    if (directoryDown) logger.info('directory.up');
    directoryDown = false;
  });
  let node: Awaited<ReturnType<typeof startGatehouseNode>>;
  try {
    node = await startGatehouseNode({ vservers, directory, logger, dns: config.dns, authThrottle: config.authThrottle, ...(config.node.id ? { nodeId: config.node.id } : {}) });
  } catch (err) {
    await directory.close();
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    throw new CliError('ERR_LISTEN', `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: ${e.code ?? e.message}`);
  }
  // Registers this node's sessions tier-wide and carries out kicks; never blocks a login on Redis.
  let registrar: Awaited<ReturnType<typeof startSessionRegistrar>>;
  try {
    registrar = await startSessionRegistrar({ directory, nodeId: node.nodeId, logger, ...config.sessionRegistry });
  } catch (err) {
    await node.close();
    await directory.close();
    throw err;
  }
  let adminServer: Awaited<ReturnType<typeof startAdminServer>> | null = null;
  if (admin !== null && metrics !== null) {
    try {
      adminServer = await startAdminServer({
        ...admin,
        ...(config.admin.token !== undefined ? { token: config.admin.token } : {}),
        directory,
        nodeId: node.nodeId,
        metrics,
        logger,
        feed: config.admin.feed.enabled ? { maxConsumers: config.admin.feed.maxConsumers, maxBufferedBytes: config.admin.feed.maxBufferedBytes } : false,
      });
    } catch (err) {
      await node.close();
      await registrar.close();
      await directory.close();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_ADMIN_TOKEN_REQUIRED') throw err;
      throw new CliError('ERR_LISTEN', `cannot listen on ${adminListen ?? '?'} (admin): ${e.code ?? e.message}`);
    }
    process.stderr.write(`gatehouse: admin listening on http://${adminServer.host.includes(':') ? `[${adminServer.host}]` : adminServer.host}:${adminServer.port}/\n`);
  }
  // The LMTP/SMTP front door (protocol: lmtp|smtp listeners), if the config has any.
  let delivery: DeliveryNode | null;
  try {
    delivery = await startDeliveryFromConfig(config, vservers.map((v) => v.tls), directory, logger);
  } catch (err) {
    await adminServer?.close();
    metrics?.close();
    await node.close();
    await registrar.close();
    await directory.close();
    throw err;
  }
  // Installed before the listeners are announced: whoever reads that line may send SIGHUP.
  const started = { config, vservers };
  const runningNode = node;
  // A reload may start the delivery front door (its first listener) or empty it.
  const front = { delivery, directory };
  let reloads = Promise.resolve();
  const onHup = (): void => {
    reloads = reloads.then(() => reloadConfig(values.config, started, runningNode, front, logger));
  };
  process.on('SIGHUP', onHup);
  for (const l of [...(delivery?.listeners() ?? []), ...node.listeners()]) printListener(l);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'node.stopping');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.off('SIGHUP', onHup);
  await reloads;
  await adminServer?.close();
  metrics?.close();
  await front.delivery?.close();
  await node.close();
  await registrar.close();
  await directory.close();
  logger.flush();
}

function configFromFlags(values: Record<string, string | boolean | undefined>): GatehouseConfig {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  const listeners: Array<Record<string, unknown>> = [];
  if (str('imaps')) listeners.push({ name: 'imaps', listen: str('imaps'), tls: 'implicit' });
  if (str('imap')) listeners.push({ name: 'imap', listen: str('imap'), tls: 'starttls', allowPlaintextAuth: values['allow-plaintext-auth'] === true });
  if (str('pop3s')) listeners.push({ name: 'pop3s', protocol: 'pop3', listen: str('pop3s'), tls: 'implicit' });
  if (str('pop3')) listeners.push({ name: 'pop3', protocol: 'pop3', listen: str('pop3'), tls: 'starttls', allowPlaintextAuth: values['allow-plaintext-auth'] === true });
  if (str('lmtp')) listeners.push({ name: 'lmtp', protocol: 'lmtp', listen: str('lmtp'), tls: 'starttls' });
  if (str('smtp')) listeners.push({ name: 'smtp', protocol: 'smtp', listen: str('smtp'), tls: 'starttls' });
  if (listeners.length === 0) throw new CliError('ERR_USAGE', 'serve needs --config FILE, or --imaps/--imap/--pop3s/--pop3/--lmtp/--smtp ADDR:PORT with --cert and --key', 2);
  if (!str('cert') || !str('key')) throw new CliError('ERR_USAGE', 'serve needs --cert FILE and --key FILE', 2);
  const vserver: Record<string, unknown> = { name: 'default', tls: { cert: str('cert'), key: str('key') }, listeners };
  if (str('domain')) vserver['defaultDomain'] = str('domain');
  return parseConfig(JSON.stringify({ vservers: [vserver] }), 'command line');
}

function printListener(l: { vserver: string; listener: string; host: string; port: number; protocol: 'imap' | 'pop3' | 'lmtp' | 'smtp'; tls: 'implicit' | 'starttls' }): void {
  const tlsMode = l.tls === 'implicit' ? 'implicit TLS' : l.protocol === 'pop3' ? 'STLS' : 'STARTTLS';
  process.stderr.write(`gatehouse: ${l.vserver}/${l.listener} listening on ${l.host}:${l.port} (${l.protocol}, ${tlsMode})\n`);
}

/**
 * SIGHUP: the file is read and checked like at start (schema, certificates); any problem
 * leaves the running config in force. Settings the node cannot change while running are
 * compared with those it started with and named in `config.restart_required`.
 */
async function reloadConfig(
  file: string | undefined,
  started: { config: GatehouseConfig; vservers: VirtualServer[] },
  node: { reload(v: VirtualServer[]): Promise<ReloadReport> },
  front: { delivery: DeliveryNode | null; directory: Directory },
  logger: Logger,
): Promise<void> {
  if (file === undefined) {
    logger.error({ code: 'ERR_USAGE', message: 'started with flags, not --config FILE: nothing to re-read' }, 'config.reload_failed');
    return;
  }
  let next: GatehouseConfig;
  let vservers: VirtualServer[];
  try {
    next = loadConfig(file);
    vservers = next.vservers.map(buildVirtualServer);
  } catch (err) {
    logger.error({ code: (err as { code?: unknown }).code, message: (err as Error).message }, 'config.reload_failed');
    return;
  }
  const restart = restartRequired(started, next);
  if (restart.length > 0) logger.warn({ keys: restart }, 'config.restart_required');
  let report: ReloadReport;
  let deliveryReport: DeliveryReloadReport;
  try {
    report = await node.reload(vservers);
    const applied = await reloadDelivery(front.delivery, next, vservers.map((v) => v.tls), front.directory, logger);
    front.delivery = applied.node;
    deliveryReport = applied.report;
  } catch (err) {
    logger.error({ code: (err as { code?: unknown }).code, message: (err as Error).message }, 'config.reload_failed');
    return;
  }
  for (const l of [...deliveryReport.opened, ...report.opened]) printListener(l);
  const where = (l: { vserver: string; listener: string; host: string; port: number }): string => `${l.vserver}/${l.listener} ${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
  // The IMAP/POP3 and the LMTP/SMTP listeners in the same lists.
  const failed = [...report.failed, ...deliveryReport.failed];
  logger[failed.length > 0 ? 'warn' : 'info'](
    {
      file,
      opened: [...report.opened, ...deliveryReport.opened].map(where),
      closed: [...report.closed, ...deliveryReport.closed].map(where),
      failed: failed.map((f) => ({ listener: where(f), code: f.code })),
      certificatesReloaded: [...new Set([...report.certificatesReloaded, ...deliveryReport.certificatesReloaded])],
      vserversAdded: report.vserversAdded,
      vserversRemoved: report.vserversRemoved,
    },
    'config.reloaded',
  );
}

/**
 * The keys whose change a reload cannot apply: everything outside `vservers` (the
 * directory connection, the registry, the admin listener, the logger are made once).
 */
function restartRequired(started: { config: GatehouseConfig }, next: GatehouseConfig): string[] {
  const keys = new Set([...Object.keys(started.config), ...Object.keys(next)]);
  keys.delete('vservers');
  const changed = [...keys].filter((k) => JSON.stringify((started.config as Record<string, unknown>)[k]) !== JSON.stringify((next as Record<string, unknown>)[k]));
  return changed.sort();
}

/** Reads and checks one certificate and key; ERR_CERT_INVALID names the virtual server, the config key and the files. */
function loadCertificate(vserver: string, key: string, certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  try {
    const pair = { cert: readFileSync(certPath), key: readFileSync(keyPath) };
    loadPemPair(pair.cert.toString('latin1'), pair.key.toString('latin1'));
    tls.createSecureContext(pair);
    return pair;
  } catch (err) {
    throw new CliError('ERR_CERT_INVALID', `virtual server ${vserver}: cannot load certificate ${certPath} / key ${keyPath} (${key}): ${(err as Error).message}`);
  }
}

function buildVirtualServer(v: VserverConfig, index: number): VirtualServer {
  const at = `vservers.${index}.tls`;
  const { cert, key } = loadCertificate(v.name, at, v.tls.cert, v.tls.key);
  const sni = (v.tls.sni ?? []).map((entry, j): TlsCertificate => {
    const where = `${at}.sni.${j}`;
    const pair = loadCertificate(v.name, where, entry.cert, entry.key);
    const names = entry.names ?? certificateNames(pair.cert);
    if (names.length === 0) {
      throw new CliError('ERR_CERT_INVALID', `virtual server ${v.name}: certificate ${entry.cert} (${where}) names no DNS name (no subjectAltName DNS entry, no CN): give ${where}.names`);
    }
    return { ...pair, names };
  });
  const limits = { ...defaultImapLimits };
  for (const [k, val] of Object.entries(v.limits)) if (val !== undefined) (limits as Record<string, number>)[k] = val;
  return {
    name: v.name,
    defaultDomain: v.defaultDomain,
    banner: v.banner,
    tls: { cert, key, ...(sni.length > 0 ? { sni } : {}) },
    limits,
    imapListeners: listenersOf(v, 'imap'),
    pop3Listeners: listenersOf(v, 'pop3'),
  };
}

/**
 * The listeners of one protocol. Unnamed ones are called imaps, imap, pop3s, pop3 (by
 * protocol and TLS mode), then imaps2, imap2… in file order.
 */
function listenersOf(v: VserverConfig, protocol: 'imap' | 'pop3'): ImapListenerSpec[] {
  const out: ImapListenerSpec[] = [];
  v.listeners.forEach((l, i) => {
    if (l.protocol !== protocol) return;
    const at = l.listen.lastIndexOf(':');
    const kind = `${protocol}${l.tls === 'implicit' ? 's' : ''}`;
    const sameKindBefore = v.listeners.slice(0, i).filter((o) => o.name === undefined && o.protocol === protocol && o.tls === l.tls).length;
    out.push({
      name: l.name ?? `${kind}${sameKindBefore === 0 ? '' : sameKindBefore + 1}`,
      host: l.listen.slice(0, at).replace(/^\[(.*)\]$/, '$1'),
      port: Number(l.listen.slice(at + 1)),
      tls: l.tls,
      allowPlaintextAuth: l.allowPlaintextAuth,
      ...(l.proxyProtocol ? { proxyProtocol: true, trustedProxies: l.trustedProxies } : {}),
    });
  });
  return out;
}

function parseHostPort(listen: string, what: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  const port = Number(listen.slice(at + 1));
  if (at < 1 || !Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('ERR_USAGE', `${what}: expected PORT or ADDRESS:PORT`, 2);
  return { host: listen.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port };
}
