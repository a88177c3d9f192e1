/**
 * The policy of a virtual server, stored in the directory so that `gatehouse vserver set`
 * on any host changes every node at once (docs/access.md#virtual-server-policy). Listeners
 * and certificates stay node-local (config file); what an administrator changes while the
 * tier runs lives here:
 *
 *   gh:vserver:<name>  hash  domains                  comma-separated mail domains whose users may
 *                                                     log in here (absent: every domain)
 *                            defaultDomain            appended to unqualified user names
 *                            banner                   greeting text
 *                            maxConnections           connections at once per node (absent: no limit)
 *                            maxConnectionsPerClient  connections at once per client address per node
 *                            authTimeoutMs            accept → login
 *                            idleTimeoutMs            no byte either way after login
 *                            imap, pop3               1 | 0   the protocol's default for users
 *                                                     without their own switch (absent = 1)
 *                            updated                  ISO 8601 time
 *   gh:vservers        set   every virtual server with a stored policy
 *
 * An absent field means "the node's config file decides" (docs/configuration.md). A field
 * that does not parse makes the whole record unreadable (ERR_BAD_RECORD): the nodes then
 * keep the policy they last read, or refuse logins if they never read one, rather than
 * dropping a domain restriction because of a hand-edit.
 */
import { DirectoryError } from './directory-error.ts';
import { normalizeDomain } from './user-name.ts';

export interface VserverPolicy {
  readonly name: string;
  /** Mail domains whose users may log in; absent: every domain of the directory. */
  readonly domains?: readonly string[];
  readonly defaultDomain?: string;
  readonly banner?: string;
  readonly maxConnections?: number;
  readonly maxConnectionsPerClient?: number;
  readonly authTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  /** Default of users without their own IMAP switch; absent: on. */
  readonly imap?: boolean;
  readonly pop3?: boolean;
  readonly updated?: string;
}

/** A change: a value sets the field, null removes it (the config file decides again). */
export type VserverPolicyPatch = {
  readonly [K in Exclude<keyof VserverPolicy, 'name' | 'updated'>]?: VserverPolicy[K] | null;
};

/** Bounds of the numeric fields; the same as the config file's where both exist. */
export const VSERVER_POLICY_BOUNDS = {
  maxConnections: { min: 1, max: 10_000_000 },
  maxConnectionsPerClient: { min: 1, max: 1_000_000 },
  authTimeoutMs: { min: 1000, max: 3_600_000 },
  idleTimeoutMs: { min: 60_000, max: 24 * 3_600_000 },
} as const;

/** At most this many domains per virtual server: every login scans the list. */
export const MAX_VSERVER_DOMAINS = 1000;

const BANNER = /^[\x20-\x7e]{1,200}$/;

function bad(message: string): DirectoryError {
  return new DirectoryError('ERR_BAD_RECORD', message);
}

function domainList(v: readonly string[] | string, what: string): string[] {
  const list = typeof v === 'string' ? v.split(',') : [...v];
  if (list.length === 0 || list.length > MAX_VSERVER_DOMAINS) throw bad(`${what} must list 1..${MAX_VSERVER_DOMAINS} domains`);
  const out = new Set<string>();
  for (const d of list) {
    try {
      out.add(normalizeDomain(d.trim()));
    } catch {
      throw bad(`${what}: ${JSON.stringify(d.slice(0, 80))} is not a domain name`);
    }
  }
  return [...out].sort();
}

function bounded(field: keyof typeof VSERVER_POLICY_BOUNDS, v: number | string, what: string): number {
  const n = typeof v === 'number' ? v : /^\d{1,10}$/.test(v) ? Number(v) : Number.NaN;
  const { min, max } = VSERVER_POLICY_BOUNDS[field];
  if (!Number.isInteger(n) || n < min || n > max) throw bad(`${what}: ${field} must be an integer ${min}..${max}`);
  return n;
}

function banner(v: string, what: string): string {
  if (typeof v !== 'string' || !BANNER.test(v)) throw bad(`${what}: banner must be 1..200 printable ASCII characters`);
  return v;
}

function onOff(v: string, what: string): boolean {
  if (v === '1') return true;
  if (v === '0') return false;
  throw bad(`${what} must be 1 or 0`);
}

/** Reads a stored hash; throws ERR_BAD_RECORD for any field that does not parse. */
export function parseVserverPolicy(name: string, h: Record<string, string>): VserverPolicy {
  const w = `virtual server ${name}`;
  const num = (f: keyof typeof VSERVER_POLICY_BOUNDS): Record<string, number> => (h[f] === undefined ? {} : { [f]: bounded(f, h[f], w) });
  let defaultDomain: string | undefined;
  if (h['defaultDomain'] !== undefined) {
    try {
      defaultDomain = normalizeDomain(h['defaultDomain']);
    } catch {
      throw bad(`${w}: defaultDomain is not a domain name`);
    }
  }
  return {
    name,
    ...(h['domains'] !== undefined ? { domains: domainList(h['domains'], `${w}: domains`) } : {}),
    ...(defaultDomain !== undefined ? { defaultDomain } : {}),
    ...(h['banner'] !== undefined ? { banner: banner(h['banner'], w) } : {}),
    ...num('maxConnections'),
    ...num('maxConnectionsPerClient'),
    ...num('authTimeoutMs'),
    ...num('idleTimeoutMs'),
    ...(h['imap'] !== undefined ? { imap: onOff(h['imap'], `${w}: imap`) } : {}),
    ...(h['pop3'] !== undefined ? { pop3: onOff(h['pop3'], `${w}: pop3`) } : {}),
    ...(h['updated'] !== undefined ? { updated: h['updated'] } : {}),
  } as VserverPolicy;
}

/** The HSET and HDEL halves of a patch, validated. */
export function vserverPolicyFields(patch: VserverPolicyPatch): { set: Record<string, string>; del: string[] } {
  const set: Record<string, string> = {};
  const del: string[] = [];
  const w = 'virtual server';
  const put = (field: string, value: unknown, encode: () => string): void => {
    if (value === undefined) return;
    if (value === null) del.push(field);
    else set[field] = encode();
  };
  put('domains', patch.domains, () => domainList(patch.domains as readonly string[], `${w} domains`).join(','));
  put('defaultDomain', patch.defaultDomain, () => {
    try {
      return normalizeDomain(patch.defaultDomain as string);
    } catch {
      throw bad('defaultDomain is not a domain name');
    }
  });
  put('banner', patch.banner, () => banner(patch.banner as string, w));
  for (const f of Object.keys(VSERVER_POLICY_BOUNDS) as Array<keyof typeof VSERVER_POLICY_BOUNDS>) {
    put(f, patch[f], () => String(bounded(f, patch[f] as number, w)));
  }
  for (const f of ['imap', 'pop3'] as const) {
    put(f, patch[f], () => {
      if (typeof patch[f] !== 'boolean') throw bad(`${f} must be true or false`);
      return patch[f] ? '1' : '0';
    });
  }
  return { set, del };
}
