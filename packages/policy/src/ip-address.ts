// IP addresses and networks as numbers, parsed by hand so that every textual form of an
// address (compressed or expanded IPv6, an IPv4 tail, IPv4-mapped IPv6) becomes one
// value before any comparison. Matching text against text is how ACLs miss
// `::ffff:192.0.2.7` or `0:0:0:0:0:ffff:c000:207` (anchors-proxy.md §8.8): here an
// IPv4-mapped address (RFC 4291 §2.5.5.2) is turned into plain IPv4 once, at parse time.
// Pure: no DNS, no sockets.

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** 32 bits for IPv4, 128 for IPv6. */
  readonly value: bigint;
}

export interface IpNetwork {
  readonly family: IpFamily;
  /** The network address (host bits cleared). */
  readonly value: bigint;
  readonly prefixLength: number;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
const MAPPED_PREFIX = 0xffffn << 32n;

function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    // Decimal only, no leading zeros: "010" is octal to some parsers, so refuse it.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseGroups(text: string): bigint[] | null {
  if (text === '') return [];
  const groups: bigint[] = [];
  for (const g of text.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    groups.push(BigInt(`0x${g}`));
  }
  return groups;
}

function parseIpv6(text: string): bigint | null {
  let body = text;
  let tail: bigint[] = [];
  // An IPv4 tail (`::ffff:192.0.2.7`, `64:ff9b::1.2.3.4`) is two groups.
  const lastColon = body.lastIndexOf(':');
  if (lastColon >= 0 && body.includes('.', lastColon)) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >> 16n, v4 & 0xffffn];
    // `::1.2.3.4` and `a::1.2.3.4` keep their `::`; `a:b:c:d:e:f:1.2.3.4` loses its last `:`.
    const head = body.slice(0, lastColon + 1);
    body = head.endsWith('::') ? head : head.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] as string);
  if (head === null) return null;
  let groups: bigint[];
  if (halves.length === 2) {
    const rest = parseGroups(halves[1] as string);
    if (rest === null) return null;
    const missing = 8 - head.length - rest.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...Array<bigint>(missing).fill(0n), ...rest, ...tail];
  } else {
    groups = [...head, ...tail];
    if (groups.length !== 8) return null;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | g;
  return value;
}

/**
 * Parses an IPv4 or IPv6 address; an IPv4-mapped IPv6 address comes back as IPv4.
 * A zone (`fe80::1%eth0`) is refused here; `parseClientAddress` strips it. Null when
 * the text is not an address.
 */
export function parseIp(text: string): IpAddress | null {
  if (text.length === 0 || text.length > 45) return null;
  if (!text.includes(':')) {
    const v4 = parseIpv4(text);
    return v4 === null ? null : { family: 4, value: v4 };
  }
  const v6 = parseIpv6(text);
  if (v6 === null) return null;
  if (v6 >> 32n === MAPPED_PREFIX >> 32n) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** The address of a connected peer as Node reports it: `%zone` dropped, mapped IPv4 unwrapped. */
export function parseClientAddress(text: string): IpAddress | null {
  const zone = text.indexOf('%');
  return parseIp(zone >= 0 ? text.slice(0, zone) : text);
}

function maskOf(family: IpFamily, prefixLength: number): bigint {
  const bits = BigInt(BITS[family]);
  const hostBits = bits - BigInt(prefixLength);
  return ((1n << bits) - 1n) ^ ((1n << hostBits) - 1n);
}

/** Prefix length of a contiguous mask (`255.255.255.0` → 24), or null. */
function prefixOfMask(mask: IpAddress): number | null {
  const bits = BITS[mask.family];
  for (let len = 0; len <= bits; len++) if (maskOf(mask.family, len) === mask.value) return len;
  return null;
}

/**
 * Parses `ADDR`, `ADDR/LEN` or `ADDR/MASK` (IPv4 dotted mask). Host bits are cleared
 * (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4-mapped IPv6 network of at least /96 becomes
 * the IPv4 network it covers (`::ffff:10.0.0.0/104` is `10.0.0.0/8`). Null if invalid.
 */
export function parseNetwork(text: string): IpNetwork | null {
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const lenText = slash >= 0 ? text.slice(slash + 1) : null;
  // Parse without unwrapping first: the prefix length of a mapped network counts 128 bits.
  if (addrText.length === 0 || addrText.length > 45) return null;
  const raw: IpAddress | null = addrText.includes(':')
    ? ((v) => (v === null ? null : { family: 6 as const, value: v }))(parseIpv6(addrText))
    : parseIp(addrText);
  if (raw === null) return null;
  let prefixLength = BITS[raw.family];
  if (lenText !== null) {
    if (/^(0|[1-9]\d{0,2})$/.test(lenText)) {
      prefixLength = Number(lenText);
      if (prefixLength > BITS[raw.family]) return null;
    } else {
      const mask = parseIp(lenText);
      if (mask === null || mask.family !== raw.family) return null;
      const len = prefixOfMask(mask);
      if (len === null) return null;
      prefixLength = len;
    }
  }
  let family = raw.family;
  let value = raw.value;
  if (family === 6 && prefixLength >= 96 && value >> 32n === MAPPED_PREFIX >> 32n) {
    family = 4;
    value &= 0xffffffffn;
    prefixLength -= 96;
  }
  return { family, value: value & maskOf(family, prefixLength), prefixLength };
}

export function networkContains(net: IpNetwork, addr: IpAddress): boolean {
  return net.family === addr.family && (addr.value & maskOf(net.family, net.prefixLength)) === net.value;
}

export function formatIp(addr: IpAddress): string {
  if (addr.family === 4) {
    const v = addr.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups (the first on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text: `10.0.0.0/8`, `2001:db8::/32`, and a bare address for a single host. */
export function formatNetwork(net: IpNetwork): string {
  const addr = formatIp({ family: net.family, value: net.value });
  return net.prefixLength === BITS[net.family] ? addr : `${addr}/${net.prefixLength}`;
}
