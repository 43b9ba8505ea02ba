// IP address text <-> octets, so that SAN iPAddress entries (RFC 5280 §4.2.1.6: 4 or 16 octets)
// compare as addresses, not as spellings: '::1' equals '0:0:0:0:0:0:0:1'.
import { isIPv4, isIPv6 } from 'node:net';

/** Octets of an IPv4 or IPv6 address; undefined for anything else (zone ids and CIDR included). */
export function parseIp(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let groups = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4) {
    // RFC 4291 §2.2 form 3: the low 32 bits written as dotted IPv4
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
    groups = `${text.slice(0, -v4.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = groups.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(zeros).fill('0'), ...tailParts];
  const out = new Uint8Array(16);
  parts.forEach((part, i) => {
    const value = parseInt(part, 16);
    out[i * 2] = value >> 8;
    out[i * 2 + 1] = value & 0xff;
  });
  return out;
}

/**
 * The canonical text (RFC 5952 for IPv6), equal exactly for equal addresses. IPv4-mapped IPv6
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) becomes the IPv4 address it carries, so a certificate and
 * a registration may spell it either way.
 */
export function canonicalIp(octets: Uint8Array): string {
  const mapped = octets.length === 16 && octets.subarray(0, 10).every((b) => b === 0) && octets[10] === 0xff && octets[11] === 0xff;
  const bytes = mapped ? octets.subarray(12) : octets;
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return `invalid:${Buffer.from(bytes).toString('hex')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // RFC 5952 §4.2: compress the longest run (the first on a tie) of two or more zero groups.
  let best = { start: -1, length: 1 };
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (groups[start + length] === '0') length++;
    if (length > best.length) best = { start, length };
  }
  if (best.start < 0) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.length).join(':')}`;
}
