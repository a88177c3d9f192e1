/**
 * Redis key names of the directory — the only place they are spelled out.
 *
 * Every variable part is a name that already passed normalizeUserName,
 * normalizeDomain or validateBackendName, so no key can be built from client bytes
 * (no `:`, `*`, `{`, whitespace or control characters can appear). The names carry no
 * `{hash tag}`: each record lands in its own Redis Cluster slot, and the directory
 * never issues a command that spans two keys.
 */
import { DirectoryError } from './directory-error.ts';

export const DEFAULT_PREFIX = 'gh:';

export interface DirectoryKeys {
  readonly prefix: string;
  /** Hash of one user: `<prefix>user:<user@domain>`. */
  user(name: string): string;
  /** Set of all user names: `<prefix>users`. */
  readonly users: string;
  /** Hash of one back-end: `<prefix>backend:<name>`. */
  backend(name: string): string;
  /** Set of all back-end names: `<prefix>backends`. */
  readonly backends: string;
  /** Hash of one domain: `<prefix>domain:<domain>`. */
  domain(name: string): string;
  /** Set of all domain names: `<prefix>domains`. */
  readonly domains: string;
  /** Hash of one live session (session-registry.ts): `<prefix>session:<id>`. */
  session(id: string): string;
  /** Set of the ids of one node's sessions: `<prefix>node-sessions:<node>`. */
  nodeSessions(node: string): string;
  /** Hash of one node's heartbeat and load: `<prefix>node:<node>`. */
  node(node: string): string;
  /** Sorted set of node ids scored by their last heartbeat (ms since epoch): `<prefix>nodes`. */
  readonly nodes: string;
  /** Pub/sub channel of kick requests: `<prefix>kick`. */
  readonly kickChannel: string;
  /** Pub/sub channel of the live feed's tier events (tier-events.ts): `<prefix>events`. */
  readonly eventsChannel: string;
  /** Hash of one alias address (delivery): `<prefix>alias:<addr@domain>`. */
  alias(name: string): string;
  /** Set of all alias addresses: `<prefix>aliases`. */
  readonly aliases: string;
  /** Hash of one virtual server's access rules (access-rules.ts): `<prefix>access:<vserver>`. */
  access(vserver: string): string;
  /** Hash of one virtual server's policy (vserver-policy.ts): `<prefix>vserver:<name>`. */
  vserver(name: string): string;
  /** Set of the virtual servers with a stored policy: `<prefix>vservers`. */
  readonly vservers: string;
  /** Counter of failed logins from one client address or IPv6 /64 (auth-failures.ts): `<prefix>authfail:<part>`. */
  authFailures(part: string): string;
  /** SCAN pattern matching every authFailures key (the prefix's glob characters escaped). */
  readonly authFailuresPattern: string;
}

/**
 * Builds the key namer for a prefix. The prefix is printable ASCII without spaces,
 * up to 64 characters (it may hold a `{tag}` if an operator wants every directory key in
 * one cluster slot). Throws DirectoryError ERR_BAD_NAME.
 */
export function directoryKeys(prefix: string = DEFAULT_PREFIX): DirectoryKeys {
  if (typeof prefix !== 'string' || !/^[\x21-\x7e]{0,64}$/.test(prefix)) {
    throw new DirectoryError('ERR_BAD_NAME', 'key prefix must be at most 64 printable ASCII characters without spaces');
  }
  return {
    prefix,
    user: (name) => `${prefix}user:${name}`,
    users: `${prefix}users`,
    backend: (name) => `${prefix}backend:${name}`,
    backends: `${prefix}backends`,
    domain: (name) => `${prefix}domain:${name}`,
    domains: `${prefix}domains`,
    session: (id) => `${prefix}session:${id}`,
    nodeSessions: (node) => `${prefix}node-sessions:${node}`,
    node: (node) => `${prefix}node:${node}`,
    nodes: `${prefix}nodes`,
    kickChannel: `${prefix}kick`,
    eventsChannel: `${prefix}events`,
    alias: (name) => `${prefix}alias:${name}`,
    aliases: `${prefix}aliases`,
    access: (vserver) => `${prefix}access:${vserver}`,
    vserver: (name) => `${prefix}vserver:${name}`,
    vservers: `${prefix}vservers`,
    authFailures: (part) => `${prefix}authfail:${part}`,
    authFailuresPattern: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}authfail:*`,
  };
}
