// Starts the delivery front door (@gatehouse/delivery) for the virtual servers of the
// config that have `protocol: lmtp` or `protocol: smtp` listeners. Kept beside serve.ts
// so that serve only calls it.
import { readFileSync } from 'node:fs';
import type { Directory } from '@gatehouse/directory';
import { defaultDeliveryLimits, startDeliveryNode, type DeliveryListenerSpec, type DeliveryNode, type DeliveryVirtualServer } from '@gatehouse/delivery';
import type { Logger } from 'pino';
import type { GatehouseConfig, VserverConfig } from './config-schema.ts';
import { CliError } from './cli-error.ts';

/** Starts the LMTP/SMTP listeners; null when the config has none. */
export async function startDeliveryFromConfig(config: GatehouseConfig, directory: Directory, logger: Logger): Promise<DeliveryNode | null> {
  const vservers = config.vservers.map(buildDeliveryServer).filter((v): v is DeliveryVirtualServer => v !== null);
  if (vservers.length === 0) return null;
  try {
    return await startDeliveryNode({ vservers, directory, logger, ...(config.node.id ? { nodeId: config.node.id } : {}) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    throw new CliError('ERR_LISTEN', `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'} (delivery): ${e.code ?? e.message}`);
  }
}

function buildDeliveryServer(v: VserverConfig): DeliveryVirtualServer | null {
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
  // The certificate was checked when the IMAP/POP3 side loaded it (buildVirtualServer).
  return { name: v.name, banner: v.banner, tls: { cert: readFileSync(v.tls.cert), key: readFileSync(v.tls.key) }, limits, listeners };
}
