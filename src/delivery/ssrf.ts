import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIPv4, isIPv6 } from 'node:net';
import type { LookupFunction } from 'node:net';

/**
 * IPv4 ranges an endpoint may not point at (IANA special-purpose registry, the ranges that are not
 * globally reachable). Everything else is public.
 */
const BLOCKED_V4: readonly (readonly [cidr: string, why: string])[] = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['255.255.255.255/32', 'broadcast'],
];

/** IPv6 ranges that are refused outright. */
const BLOCKED_V6: readonly (readonly [cidr: string, why: string])[] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard-only'],
  ['2001:db8::/32', 'documentation'],
  ['fc00::/7', 'unique local (private)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
];

/**
 * IPv6 ranges that carry an IPv4 address: such an address reaches whatever its IPv4 part reaches,
 * so it is judged by that part. `shift` is where the IPv4 part ends, counted from the right.
 */
const EMBEDDING_V6: readonly (readonly [cidr: string, shift: bigint, why: string])[] = [
  ['::ffff:0:0/96', 0n, 'IPv4-mapped'],
  ['::/96', 0n, 'IPv4-compatible'],
  ['64:ff9b::/96', 0n, 'NAT64'],
  ['2002::/16', 80n, '6to4'],
];

type Range = { net: bigint; prefix: number };

const V4_RANGES = BLOCKED_V4.map(([cidr]) => parseCidr(cidr, 32));
const V6_RANGES = BLOCKED_V6.map(([cidr]) => parseCidr(cidr, 128));
const V6_EMBEDDING = EMBEDDING_V6.map(([cidr, shift]) => ({ ...parseCidr(cidr, 128), shift }));

function parseCidr(cidr: string, bits: 32 | 128): Range {
  const [ip = '', prefixText = ''] = cidr.split('/');
  const net = bits === 32 ? v4ToBigInt(ip) : v6ToBigInt(ip);
  const prefix = Number(prefixText);
  if (net === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new Error(`bad CIDR in the SSRF table: ${cidr}`);
  }
  return { net, prefix };
}

function inRange(addr: bigint, range: Range, bits: 32 | 128): boolean {
  const shift = BigInt(bits - range.prefix);
  return addr >> shift === range.net >> shift;
}

function v4ToBigInt(ip: string): bigint | undefined {
  if (!isIPv4(ip)) return undefined;
  return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function v6ToBigInt(ip: string): bigint | undefined {
  if (!isIPv6(ip)) return undefined;
  // the zone names an interface, not part of the address
  let text = ip.split('%')[0] ?? '';
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = v4ToBigInt(tail);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  if (groups.length !== 8) return undefined;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function isPublicV4(addr: bigint): boolean {
  return !V4_RANGES.some((range) => inRange(addr, range, 32));
}

/**
 * Whether an endpoint may be called at `ip`: false for loopback, private, link-local, unspecified,
 * CGNAT, multicast, reserved, broadcast, documentation and benchmarking addresses, and for IPv6
 * addresses that embed such an IPv4 address. A string that is not an IP address is not public.
 */
export function isPublicAddress(ip: string): boolean {
  const v4 = v4ToBigInt(ip);
  if (v4 !== undefined) return isPublicV4(v4);
  const v6 = v6ToBigInt(ip);
  if (v6 === undefined) return false;
  if (V6_RANGES.some((range) => inRange(v6, range, 128))) return false;
  const embedding = V6_EMBEDDING.find((range) => inRange(v6, range, 128));
  if (embedding) return isPublicV4((v6 >> embedding.shift) & 0xffffffffn);
  return true;
}

/** Why an endpoint URL is not accepted, worded for the partner who gave it. */
export class UrlRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'UrlRefused';
  }
}

const MAX_URL_LENGTH = 2048;

/**
 * The parsed endpoint URL, or UrlRefused saying what is wrong with it. `allowPrivate` is the
 * operator's explicit opt-in for local testing: plain http and private or loopback hosts.
 */
export function checkUrl(raw: string, opts: { allowPrivate: boolean }): URL {
  if (raw.length > MAX_URL_LENGTH) {
    throw new UrlRefused(`the URL is longer than ${MAX_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused('not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && opts.allowPrivate)) {
    throw new UrlRefused(`the URL must use https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new UrlRefused(
      'the URL must not contain credentials (user:password@); authenticate by the signature',
    );
  }
  // `https://host/#` parses to an empty hash, so look at the text as well
  if (url.hash !== '' || raw.includes('#')) {
    throw new UrlRefused('the URL must not contain a fragment (#…): it is never sent to the server');
  }
  // a low port is a system service (SSH, SMTP, an internal admin port), not a webhook endpoint
  // (URL leaves the port empty when it is the scheme's default: 443, or 80 for http)
  if (url.port !== '') {
    const port = Number(url.port);
    if (port < 1024 && port !== 443 && !(port === 80 && opts.allowPrivate)) {
      throw new UrlRefused(
        `the port ${port} is not allowed: use 443 (the https default) or a port from 1024 up`,
      );
    }
  }
  if (opts.allowPrivate) return url;

  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIPv4(host) || isIPv6(host)) {
    if (!isPublicAddress(host)) {
      throw new UrlRefused(
        `the host ${url.hostname} is not a public address (private, loopback, link-local or reserved)`,
      );
    }
  } else {
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    if (name === 'localhost' || name.endsWith('.localhost')) {
      throw new UrlRefused(`the host ${url.hostname} is the local machine`);
    }
  }
  return url;
}

export type BlockedLookupError = NodeJS.ErrnoException & {
  code: 'EFPTBLOCKED';
  hostname: string;
  address: string;
};

function blocked(hostname: string, address: string): BlockedLookupError {
  const err = new Error(
    `refusing to connect to ${hostname}: it resolves to ${address}, which is not a public address`,
  ) as BlockedLookupError;
  err.code = 'EFPTBLOCKED';
  err.hostname = hostname;
  err.address = address;
  return err;
}

/**
 * A `lookup` for the delivery agent's sockets that refuses hosts resolving to non-public addresses.
 * The URL was checked when registered, but DNS may answer differently at delivery time (rebinding),
 * so the check is repeated on the very addresses the socket is about to use. Every address is
 * resolved and checked even when the caller wants one, so that no blocked address hides behind a
 * public one.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) {
        callback(err, options.all ? [] : '');
        return;
      }
      if (!allowPrivate) {
        const bad = addresses.find((a) => !isPublicAddress(a.address));
        if (bad) {
          callback(blocked(hostname, bad.address), options.all ? [] : '');
          return;
        }
      }
      if (options.all) {
        callback(null, addresses);
        return;
      }
      const first = addresses[0];
      if (first === undefined) {
        const none: NodeJS.ErrnoException = new Error(`no address found for ${hostname}`);
        none.code = 'ENOTFOUND';
        callback(none, '');
        return;
      }
      callback(null, first.address, first.family);
    });
  };
}
