// Builds the delivery front door (@gatehouse/delivery) from the config: the virtual
// servers that have `protocol: lmtp` or `protocol: smtp` listeners, started at start and
// applied again at each SIGHUP. Kept beside serve.ts so that serve only calls it.
import type { Directory } from '@gatehouse/directory';
import { defaultDeliveryLimits, startDeliveryNode, type DeliveryListenerSpec, type DeliveryNode, type DeliveryReloadReport, type DeliveryVirtualServer } from '@gatehouse/delivery';
import type { VirtualServerTls } from '@gatehouse/certs';
import type { Logger } from 'pino';
import type { GatehouseConfig, VserverConfig } from './config-schema.ts';
import { CliError } from './cli-error.ts';

/**
 * The delivery side of each virtual server. `tls[i]` is the TLS material serve loaded and
 * checked for `config.vservers[i]` (default certificate and SNI ones with their names), so
 * both front doors serve the same certificates and the files are read once.
 */
export function deliveryServers(config: GatehouseConfig, tls: readonly VirtualServerTls[]): DeliveryVirtualServer[] {
  return config.vservers.flatMap((v, i) => {
    const material = tls[i];
    const built = material === undefined ? null : buildDeliveryServer(v, material);
    return built === null ? [] : [built];
  });
}

/** Starts the LMTP/SMTP listeners; null when the config has none. */
export async function startDeliveryFromConfig(config: GatehouseConfig, tls: readonly VirtualServerTls[], directory: Directory, logger: Logger): Promise<DeliveryNode | null> {
  const vservers = deliveryServers(config, tls);
  if (vservers.length === 0) return null;
  try {
    return await startDeliveryNode({ vservers, directory, logger, ...nodeIdOf(config) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    throw new CliError('ERR_LISTEN', `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'} (delivery): ${e.code ?? e.message}`);
  }
}

/**
 * SIGHUP: applies the new config's LMTP/SMTP listeners. The first delivery listener of a
 * node started without any starts the front door; when the last one goes, the node keeps
 * no listener but stays, so that the transactions under way on the closed ones finish and
 * shutdown still ends them. Throws (changing nothing) only if a certificate does not load.
 */
export async function reloadDelivery(
  running: DeliveryNode | null,
  config: GatehouseConfig,
  tls: readonly VirtualServerTls[],
  directory: Directory,
  logger: Logger,
): Promise<{ node: DeliveryNode | null; report: DeliveryReloadReport }> {
  const vservers = deliveryServers(config, tls);
  if (running === null && vservers.length === 0) return { node: null, report: { opened: [], closed: [], failed: [], certificatesReloaded: [] } };
  // Started empty, then reloaded: a listener that cannot be bound is reported like any
  // other at a reload instead of failing the whole front door.
  const node = running ?? (await startDeliveryNode({ vservers: [], directory, logger, ...nodeIdOf(config) }));
  return { node, report: await node.reload(vservers) };
}

function nodeIdOf(config: GatehouseConfig): { nodeId?: string } {
  return config.node.id ? { nodeId: config.node.id } : {};
}

function buildDeliveryServer(v: VserverConfig, tls: VirtualServerTls): DeliveryVirtualServer | null {
  const listeners: DeliveryListenerSpec[] = [];
  v.listeners.forEach((l, i) => {
    if (l.protocol !== 'lmtp' && l.protocol !== 'smtp') return;
    const at = l.listen.lastIndexOf(':');
    const kind = `${l.protocol}${l.tls === 'implicit' ? 's' : ''}`;
    const sameKindBefore = v.listeners.slice(0, i).filter((o) => o.name === undefined && o.protocol === l.protocol && o.tls === l.tls).length;
    listeners.push({
      name: l.name ?? `${kind}${sameKindBefore === 0 ? '' : sameKindBefore + 1}`,
      host: l.listen.slice(0, at).replace(/^\[(.*)\]$/, '$1'),
      port: Number(l.listen.slice(at + 1)),
      protocol: l.protocol,
      tls: l.tls,
    });
  });
  if (listeners.length === 0) return null;
  const limits = { ...defaultDeliveryLimits };
  for (const [k, val] of Object.entries(v.deliveryLimits)) if (val !== undefined) (limits as Record<string, number>)[k] = val;
  return { name: v.name, banner: v.banner, tls, limits, listeners };
}
