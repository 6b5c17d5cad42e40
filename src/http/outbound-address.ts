import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';

/**
 * What an IP address is, for the outbound policy of every outbound call (token refreshes, provider
 * exchanges). Only `public` addresses are called without an operator's say-so; `loopback` only where the
 * policy allows it (development and tests).
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'reserved';

type V4Range = readonly [base: number, prefix: number, cls: AddressClass];

const v4 = (a: number, b: number, c: number, d: number): number =>
  ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** IPv4 ranges that are not globally reachable unicast (IANA special-purpose registry, RFC 6890). */
const V4_RANGES: readonly V4Range[] = [
  [v4(0, 0, 0, 0), 8, 'unspecified'], // "this network"; 0.0.0.0 reaches the local host on most systems
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'cgnat'],
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'], // cloud metadata services live here
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'], // IETF protocol assignments (NAT64 discovery, DS-Lite)
  [v4(192, 0, 2, 0), 24, 'reserved'], // documentation
  [v4(192, 88, 99, 0), 24, 'reserved'], // 6to4 relay anycast
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'], // benchmarking
  [v4(198, 51, 100, 0), 24, 'reserved'], // documentation
  [v4(203, 0, 113, 0), 24, 'reserved'], // documentation
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'], // future use, and the broadcast address
];

function classifyV4(n: number): AddressClass {
  for (const [base, prefix, cls] of V4_RANGES) {
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    if ((n & mask) >>> 0 === base) return cls;
  }
  return 'public';
}

function parseV4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return v4(parts[0]!, parts[1]!, parts[2]!, parts[3]!);
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped, embedded dotted IPv4 accepted). */
function parseV6(text: string): number[] | undefined {
  let s = text.replace(/^\[|\]$/g, '');
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const n = parseV4(last);
    if (n === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  return halves.length === 2 ? [...head, ...new Array<number>(8 - explicit).fill(0), ...rest] : head;
}

const embeddedV4 = (hi: number, lo: number): number => ((hi << 16) | lo) >>> 0;

function classifyV6(g: number[]): AddressClass {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const zeroUpTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return 'unspecified';
  if (zeroUpTo(7) && g7 === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d) and IPv4-compatible (::a.b.c.d): the
  // IPv4 address inside is what a dual-stack socket reaches.
  if (zeroUpTo(5) && g5 === 0xffff) return classifyV4(embeddedV4(g6, g7));
  if (zeroUpTo(4) && g4 === 0xffff && g5 === 0) return classifyV4(embeddedV4(g6, g7));
  if (zeroUpTo(6)) return classifyV4(embeddedV4(g6, g7));
  // NAT64 well-known prefix 64:ff9b::/96: the gateway forwards to the IPv4 address inside.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0)
    return classifyV4(embeddedV4(g6, g7));
  // Local-use NAT64 (64:ff9b:1::/48): translated into networks we cannot see.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'reserved';
  // 6to4 (2002::/16) carries an IPv4 address in bits 16..47.
  if (g0 === 0x2002) return classifyV4(embeddedV4(g1, g2));
  if ((g0 & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'reserved'; // site-local (deprecated)
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'reserved'; // documentation
  if (g0 === 0x2001 && g1 < 0x0200) return 'reserved'; // IETF protocol assignments, Teredo included
  if (g0 === 0x3fff && (g1 & 0xf000) === 0) return 'reserved'; // documentation
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return 'reserved'; // discard-only
  // Only global unicast (2000::/3) is public.
  if ((g0 & 0xe000) !== 0x2000) return 'reserved';
  return 'public';
}

/** The class of an IP address (v4 or v6, with or without brackets); undefined when it is not one. */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.split('%')[0]!);
  if (family === 4) return classifyV4(parseV4(bare)!);
  if (family === 6) {
    const groups = parseV6(bare);
    return groups ? classifyV6(groups) : 'reserved';
  }
  return undefined;
}

/**
 * Why a connection to `address` (which `hostname` resolved to, or is) is refused; undefined when it may be
 * made. Each feature states its own rule (which hosts an operator allowed, whether loopback is allowed);
 * `outboundAddressRule` is the usual one.
 */
export type AddressRefusal = (hostname: string, address: string) => string | undefined;

/**
 * The outbound address rule: public addresses only; loopback when `allowLoopback` (development and tests);
 * any address for a host the operator named in `allowedHosts` (lowercase, as a URL spells its host).
 * `what` names the URL in the reason ("the provider's apiBase").
 */
export function outboundAddressRule(rule: {
  what: string;
  allowLoopback: boolean;
  allowedHosts: ReadonlySet<string>;
}): AddressRefusal {
  return (hostname, address) => {
    if (rule.allowedHosts.has(hostname.toLowerCase())) return undefined;
    const cls = classifyAddress(address);
    if (cls === undefined) return `${rule.what} resolved to something that is not an IP address`;
    if (cls === 'public') return undefined;
    if (cls === 'loopback' && rule.allowLoopback) return undefined;
    return `${rule.what} points to a ${cls} address, which is not allowed`;
  };
}

/**
 * The refusal for a URL whose host is an IP literal (Node connects to those without a lookup, so the
 * pinned lookup below never sees them); undefined for a name, or an allowed address.
 */
export function refuseLiteralHost(url: URL, refuse: AddressRefusal): string | undefined {
  const bare = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(bare) === 0 ? undefined : refuse(url.hostname, bare);
}

/** A connection refused by the outbound address policy: nothing was sent. */
export class OutboundAddressRefusedError extends Error {
  readonly code = 'EOUTBOUNDREFUSED';
  constructor(reason: string) {
    super(reason);
    this.name = 'OutboundAddressRefusedError';
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for `http(s).request`: resolves the name with `resolver`, keeps the addresses `refuse` allows,
 * and hands the socket only those, so the address checked is the address connected to (no second
 * resolution can send it elsewhere). Use with `agent: false`: a pooled socket would skip it.
 */
export function pinnedLookup(
  resolver: { resolve(hostname: string): Promise<{ address: string; family: number }[]> },
  refuse: AddressRefusal,
): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    resolver.resolve(hostname).then(
      (resolved) => {
        const wanted =
          options.family === 4 || options.family === 6
            ? resolved.filter((a) => a.family === options.family)
            : resolved;
        const allowed = wanted.filter((a) => refuse(hostname, a.address) === undefined);
        const first = allowed[0];
        if (!first) {
          const reason =
            wanted[0] === undefined
              ? `${hostname} did not resolve to any address`
              : refuse(hostname, wanted[0].address)!;
          callback(new OutboundAddressRefusedError(reason), '', 0);
          return;
        }
        if (options.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

/** Each entry as `new URL()` spells a host: lowercase, IDNs in punycode, IPv6 in brackets. */
export function normalizeHost(entry: string): string | undefined {
  const candidate = isIP(entry) === 6 ? `[${entry}]` : entry;
  if (/[/?#@\s]/.test(candidate)) return undefined;
  try {
    const url = new URL(`http://${candidate}`);
    if (url.port !== '' || url.host !== url.hostname) return undefined;
    return url.hostname;
  } catch {
    return undefined;
  }
}
