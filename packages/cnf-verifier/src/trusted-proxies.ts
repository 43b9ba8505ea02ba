import { BlockList, isIP } from 'node:net';

/** A matcher for the `trustedProxies` option: IPv4/IPv6 addresses and CIDRs. */
export function createProxyMatcher(entries: readonly string[], optionName = 'trustedProxies'): (address: string | undefined) => boolean {
  if (!Array.isArray(entries)) throw new TypeError(`${optionName}: must be an array of IP addresses or CIDRs`);
  const list = new BlockList();
  entries.forEach((entry, i) => {
    const invalid = () => new TypeError(`${optionName}[${i}]: ${JSON.stringify(entry)} is not an IP address or CIDR`);
    if (typeof entry !== 'string') throw invalid();
    const [address = '', prefix, extra] = entry.trim().split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) throw invalid();
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(address, type);
      return;
    }
    const bits = Number(prefix);
    if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) throw invalid();
    list.addSubnet(address, bits, type);
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
