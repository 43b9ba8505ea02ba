// Which peers are trusted proxies: the one parser of IP addresses and CIDR ranges, and the matcher
// built from them for the `trustedProxies` option.
import { BlockList, isIP } from 'node:net';

/** One IP address or CIDR range, as parsed by parseAddressRange. */
export interface AddressRange {
  address: string;
  family: 4 | 6;
  /** The prefix length of a CIDR range; undefined for a single address. */
  bits: number | undefined;
}

/**
 * Parses an IPv4/IPv6 address or CIDR range ("10.0.0.0/8", "2001:db8::/32"); undefined for
 * anything else (a host name, a zone id, a prefix longer than the family allows, a second "/").
 * The one CIDR parser of certbound: the server's TRUSTED_PROXIES uses it too.
 */
export function parseAddressRange(entry: string): AddressRange | undefined {
  const [address = '', prefix, extra] = entry.trim().split('/');
  const family = isIP(address);
  if ((family !== 4 && family !== 6) || extra !== undefined) return undefined;
  if (prefix === undefined) return { address, family, bits: undefined };
  const bits = Number(prefix);
  if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return undefined;
  return { address, family, bits };
}

/** A matcher for the `trustedProxies` option: IPv4/IPv6 addresses and CIDRs. */
export function createProxyMatcher(entries: readonly string[], optionName = 'trustedProxies'): (address: string | undefined) => boolean {
  if (!Array.isArray(entries)) throw new TypeError(`${optionName}: must be an array of IP addresses or CIDRs`);
  const list = new BlockList();
  entries.forEach((entry, i) => {
    const range = typeof entry === 'string' ? parseAddressRange(entry) : undefined;
    if (!range) throw new TypeError(`${optionName}[${i}]: ${JSON.stringify(entry)} is not an IP address or CIDR`);
    const type = range.family === 4 ? 'ipv4' : 'ipv6';
    if (range.bits === undefined) list.addAddress(range.address, type);
    else list.addSubnet(range.address, range.bits, type);
  });
  return (address) => {
    if (!address || entries.length === 0) return false;
    // A dual-stack listener reports IPv4 peers as IPv4-mapped IPv6 (::ffff:a.b.c.d).
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const plain = mapped?.[1] ?? address.replace(/%.*$/, '');
    const family = isIP(plain);
    if (family === 0) return false;
    return list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  };
}
