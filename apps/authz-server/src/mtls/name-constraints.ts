// RFC 5280 §4.2.1.10 name constraints, applied as §6.1.3 (b)–(c) and §6.1.4 (g) say: every CA
// in the chain, the trust anchor included, constrains the names of every certificate below it —
// the subject DN and each subjectAltName (directoryName, dNSName, rfc822Name, URI host,
// iPAddress), whether or not the extension is marked critical. A certificate's names must lie in
// a permitted subtree of their form (when the CA permits any of that form) and in no excluded
// subtree. Self-issued intermediates are exempt (§6.1.3 b); the leaf never is.
import type { X509Certificate } from 'node:crypto';
import { fieldsOf, OID, type NameConstraint, type NameConstraints } from './parsing.ts';
import type { Rdn } from './names.ts';
import { canonicalIp } from './ip-address.ts';
import { formatDn } from './dn-string.ts';
import { dnKey } from './subject-dn.ts';

/** A name of the certificate, as the constraint forms see it. */
type Name =
  | { type: 'dn'; rdns: readonly Rdn[]; label: string }
  | { type: 'dns' | 'email' | 'uri'; value: string; label: string }
  | { type: 'ip'; octets: Uint8Array; label: string };

/** Why `cert` breaks `constraints` (in the words of an error_description), or undefined. */
export function nameConstraintViolation(cert: X509Certificate, constraints: NameConstraints, issuerLabel: string): string | undefined {
  const unsupported = [...(constraints.permitted ?? []), ...constraints.excluded].find((c) => c.type === 'unsupported');
  if (unsupported?.type === 'unsupported') {
    return `nameConstraints of ${issuerLabel} use ${unsupported.form}, a form certbound does not process`;
  }
  for (const name of namesOf(cert)) {
    const excludedBy = constraints.excluded.find((c) => within(name, c));
    if (excludedBy) return `certificate ${name.label} is excluded by the nameConstraints of ${issuerLabel}`;
    const permitted = (constraints.permitted ?? []).filter((c) => c.type === name.type);
    if (permitted.length > 0 && !permitted.some((c) => within(name, c))) {
      return `certificate ${name.label} is not permitted by the nameConstraints of ${issuerLabel}`;
    }
  }
  return undefined;
}

function namesOf(cert: X509Certificate): Name[] {
  const { subjectRdns, subjectAltName: san } = fieldsOf(cert);
  const names: Name[] = [];
  // §6.1.3 (b): an empty subject is not checked against directoryName constraints.
  if (subjectRdns.length > 0) names.push({ type: 'dn', rdns: subjectRdns, label: `subject "${formatDn(subjectRdns)}"` });
  for (const rdns of san.directoryNames) names.push({ type: 'dn', rdns, label: `directoryName "${formatDn(rdns)}"` });
  for (const value of san.dns) names.push({ type: 'dns', value, label: `DNS name "${value}"` });
  for (const value of san.email) names.push({ type: 'email', value, label: `email "${value}"` });
  // §4.2.1.10: "the name constraints MUST be applied to the attribute of type emailAddress in
  // the subject distinguished name" when the certificate carries it (legacy encoding).
  for (const rdn of subjectRdns) {
    for (const ava of rdn) {
      if (ava.oid === OID.emailAddress && typeof ava.value === 'string') names.push({ type: 'email', value: ava.value, label: `subject emailAddress "${ava.value}"` });
    }
  }
  for (const value of san.uri) names.push({ type: 'uri', value, label: `URI "${value}"` });
  for (const octets of san.ip) names.push({ type: 'ip', octets, label: `IP address ${canonicalIp(octets)}` });
  // A leaf without dNSName SANs whose CN looks like a host name is held to DNS constraints as
  // well, as OpenSSL does: otherwise a CA limited to partner.example could name any host in CN.
  if (san.dns.length === 0) {
    for (const rdn of subjectRdns) {
      for (const ava of rdn) {
        if (ava.oid === '2.5.4.3' && typeof ava.value === 'string' && HOST_NAME.test(ava.value)) names.push({ type: 'dns', value: ava.value, label: `subject CN "${ava.value}"` });
      }
    }
  }
  return names;
}

// Letters, digits and hyphens in at least two dot-separated labels.
const HOST_NAME = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.?$/;

function within(name: Name, constraint: NameConstraint): boolean {
  if (constraint.type === 'unsupported' || constraint.type !== name.type) return false;
  switch (name.type) {
    case 'dn':
      return constraint.type === 'dn' && dnWithin(name.rdns, constraint.rdns);
    case 'dns':
      return constraint.type === 'dns' && dnsWithin(name.value, constraint.value);
    case 'email':
      return constraint.type === 'email' && emailWithin(name.value, constraint.value);
    case 'uri':
      return constraint.type === 'uri' && uriWithin(name.value, constraint.value);
    case 'ip':
      return constraint.type === 'ip' && ipWithin(name.octets, constraint.address, constraint.mask);
  }
}

/**
 * §4.2.1.10 directoryName: the subtree is every name whose leading RDNs (in ASN.1 order, i.e.
 * the END of an RFC 4514 string) equal the constraint's, compared as distinguishedNameMatch does.
 */
function dnWithin(name: readonly Rdn[], base: readonly Rdn[]): boolean {
  if (base.length > name.length) return false;
  return dnKey(name.slice(name.length - base.length)) === dnKey(base);
}

/**
 * §4.2.1.10 dNSName: "any DNS name that can be constructed by simply adding zero or more labels
 * to the left-hand side of the name satisfies the name constraint". A leading '.' (a common
 * spelling) admits subdomains only. An empty constraint matches every name. Case-insensitive
 * (RFC 4343).
 */
function dnsWithin(value: string, base: string): boolean {
  const name = value.toLowerCase().replace(/\.$/, '');
  const constraint = base.toLowerCase().replace(/\.$/, '');
  if (constraint === '') return true;
  if (constraint.startsWith('.')) return name.endsWith(constraint);
  return name === constraint || name.endsWith(`.${constraint}`);
}

/**
 * §4.2.1.10 rfc822Name: a full mailbox matches that mailbox; a host matches every mailbox on that
 * host; a domain with a leading '.' matches mailboxes on any host in that domain. The host part
 * compares case-insensitively, the local part exactly.
 */
function emailWithin(value: string, base: string): boolean {
  const at = value.lastIndexOf('@');
  if (at <= 0) return false;
  const local = value.slice(0, at);
  const host = value.slice(at + 1).toLowerCase();
  const baseAt = base.lastIndexOf('@');
  if (baseAt >= 0) return local === base.slice(0, baseAt) && host === base.slice(baseAt + 1).toLowerCase();
  const constraint = base.toLowerCase();
  if (constraint.startsWith('.')) return host.endsWith(constraint);
  return host === constraint;
}

/**
 * §4.2.1.10 URI: the constraint applies to the host part; a leading '.' admits subdomains, a plain
 * host only that host. A URI without a host (urn:, mailto:) is never within a URI constraint.
 */
function uriWithin(value: string, base: string): boolean {
  let host: string;
  try {
    host = new URL(value).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host === '') return false;
  const constraint = base.toLowerCase();
  if (constraint.startsWith('.')) return host.endsWith(constraint);
  return host === constraint;
}

/** §4.2.1.10 iPAddress: same family, and the address equals the constraint's under its mask. */
function ipWithin(octets: Uint8Array, address: Uint8Array, mask: Uint8Array): boolean {
  if (octets.length !== address.length) return false;
  return octets.every((byte, i) => (byte & mask[i]) === (address[i] & mask[i]));
}
