// Subject alternative name matching for RFC 8705 §2.1.2: the client registers exactly one of
// tls_client_auth_san_dns / _san_uri / _san_ip / _san_email, and the certificate must carry a
// SAN entry of that type equal to it. Each type compares the way its standard defines equality.
import type { X509Certificate } from 'node:crypto';
import { fieldsOf } from './parsing.ts';
import { canonicalIp, parseIp } from './ip-address.ts';

export type SanProperty = 'tls_client_auth_san_dns' | 'tls_client_auth_san_uri' | 'tls_client_auth_san_ip' | 'tls_client_auth_san_email';

export interface Sans {
  dns: string[];
  /** canonical text: dotted IPv4 (also for IPv4-mapped IPv6), RFC 5952 for IPv6 */
  ip: string[];
  uri: string[];
  email: string[];
}

export function sansOf(cert: X509Certificate): Sans {
  const names = fieldsOf(cert).subjectAltName;
  return { dns: [...names.dns], ip: names.ip.map(canonicalIp), uri: [...names.uri], email: [...names.email] };
}

/** Malformed certificates and malformed expected values never match. */
export function sanMatches(cert: X509Certificate, property: SanProperty, expected: string): boolean {
  let names;
  try {
    names = fieldsOf(cert).subjectAltName;
  } catch {
    return false;
  }
  switch (property) {
    case 'tls_client_auth_san_dns': {
      // RFC 4343: DNS names are case-insensitive. RFC 8705 §2.1.2 asks for an exact match, so a
      // wildcard SAN ('*.example.com') is a literal here, never expanded.
      const want = stripRootDot(expected).toLowerCase();
      return names.dns.some((dns) => stripRootDot(dns).toLowerCase() === want);
    }
    case 'tls_client_auth_san_uri':
      // RFC 8705 §2.1.2 / RFC 3986 §6.2.1: simple string comparison — SPIFFE IDs are compared as written.
      return names.uri.includes(expected);
    case 'tls_client_auth_san_ip': {
      const want = parseIp(expected);
      if (!want) return false;
      const wantText = canonicalIp(want);
      return names.ip.some((ip) => canonicalIp(ip) === wantText);
    }
    case 'tls_client_auth_san_email': {
      // RFC 5280 §4.2.1.6 / §7.5: the local part is case-sensitive, the domain is not.
      const want = splitEmail(expected);
      return want !== undefined && names.email.some((email) => {
        const have = splitEmail(email);
        return have !== undefined && have.local === want.local && have.domain === want.domain;
      });
    }
    default:
      return false;
  }
}

function stripRootDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function splitEmail(address: string): { local: string; domain: string } | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  return { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
}
