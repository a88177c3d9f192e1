// `gatehouse who` and `gatehouse kick`: the sessions of the whole tier, read from the
// session registry that every node keeps in Redis, and ending them wherever they are
// (the owning node is told on the registry's kick channel).
import { SessionRegistry, normalizeUserName, type Directory, type NodeStatus, type SessionFilter, type SessionRecord } from '@gatehouse/directory';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printTable } from '../output.ts';

const SESSION_COLUMNS = ['id', 'user', 'client', 'vserver', 'protocol', 'tls', 'node', 'backend', 'since', 'lastActivity', 'bytesIn', 'bytesOut', 'state'];

function registryOf(dir: Directory): SessionRegistry {
  return new SessionRegistry({ redis: dir.redis, keys: dir.keys });
}

/** The user name as the registry stores it (normalized); a name that cannot be normalized is a usage error. */
function userArg(raw: string): string {
  return normalizeUserName(raw);
}

export async function whoCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { values, positionals } = ctx.parse({
    user: { type: 'string' },
    vserver: { type: 'string' },
    node: { type: 'string' },
    backend: { type: 'string' },
  });
  if (positionals.length > 0) throw new CliError('ERR_USAGE', 'usage: gatehouse who [--user U] [--vserver V] [--node N] [--backend B] [--json]', 2);
  const filter: SessionFilter = {
    ...(values.user !== undefined ? { user: userArg(values.user) } : {}),
    ...(values.vserver !== undefined ? { vserver: values.vserver } : {}),
    ...(values.node !== undefined ? { node: values.node } : {}),
    ...(values.backend !== undefined ? { backend: values.backend } : {}),
  };
  const registry = registryOf(dir);
  const nodes = (await registry.nodes()).filter((n) => values.node === undefined || n.node === values.node);
  const sessions = await registry.list(filter);
  if (ctx.json) return printJson({ sessions, nodes });
  printTable(
    sessions.map((s) => ({ ...s, client: formatClient(s) })),
    SESSION_COLUMNS,
  );
  for (const n of nodes) process.stdout.write(`${nodeSummary(n)}\n`);
}

export async function kickCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { values, positionals } = ctx.parse({
    user: { type: 'string' },
    text: { type: 'string' },
    'wait-ms': { type: 'string' },
  });
  const [sessionId, ...extra] = positionals;
  if (extra.length > 0 || (sessionId === undefined) === (values.user === undefined)) {
    throw new CliError('ERR_USAGE', 'usage: gatehouse kick SESSION_ID | gatehouse kick --user USER [--text TEXT] [--wait-ms MS]', 2);
  }
  const waitMs = values['wait-ms'] === undefined ? 5000 : Number(values['wait-ms']);
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 60_000) throw new CliError('ERR_USAGE', '--wait-ms must be 0..60000', 2);
  const registry = registryOf(dir);
  const text = values.text === undefined ? {} : { text: values.text };
  let targets: SessionRecord[];
  if (sessionId !== undefined) {
    const s = await registry.get(sessionId);
    if (s === null) throw new CliError('ERR_NOT_FOUND', `no session ${sessionId} in the registry`);
    targets = [s];
    await registry.kick({ session: sessionId, ...text });
  } else {
    const user = userArg(values.user as string);
    targets = await registry.list({ user });
    // Published even when the registry lists nothing: a node that could not write its
    // sessions during an outage still ends them.
    await registry.kick({ user, ...text });
  }
  // The owning nodes end the sessions and remove them: wait until they are gone.
  const deadline = Date.now() + waitMs;
  let remaining = targets;
  while (remaining.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const still = await Promise.all(remaining.map((s) => registry.get(s.id)));
    remaining = remaining.filter((_, i) => still[i] !== null);
  }
  const ended = targets.filter((s) => !remaining.includes(s));
  if (ctx.json) printJson({ kicked: ended.map((s) => s.id), remaining: remaining.map((s) => s.id) });
  else if (targets.length === 0) process.stdout.write(`no session of ${values.user ?? ''} is registered; the kick was sent to every node anyway\n`);
  else for (const s of ended) process.stdout.write(`kicked ${s.id} (${s.user} on ${s.node})\n`);
  if (remaining.length > 0) {
    throw new CliError('ERR_KICK_TIMEOUT', `still registered after ${waitMs} ms: ${remaining.map((s) => `${s.id} on ${s.node}`).join(', ')} (is the node reachable?)`);
  }
}

function formatClient(s: SessionRecord): string {
  return s.remoteAddress.includes(':') ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

function formatRate(bytesPerSec: number): string {
  if (bytesPerSec < 1024) return `${bytesPerSec} B/s`;
  if (bytesPerSec < 1024 * 1024) return `${(bytesPerSec / 1024).toFixed(1)} KiB/s`;
  return `${(bytesPerSec / 1024 / 1024).toFixed(1)} MiB/s`;
}

/** One line per node: sessions, logins per second, bytes per second each way, over its last heartbeat interval. */
export function nodeSummary(n: NodeStatus): string {
  return `node ${n.node}: ${n.sessions} session${n.sessions === 1 ? '' : 's'}, ${n.loginsPerSec} logins/s, in ${formatRate(n.bytesInPerSec)}, out ${formatRate(n.bytesOutPerSec)} (heartbeat ${n.heartbeatAt})`;
}
