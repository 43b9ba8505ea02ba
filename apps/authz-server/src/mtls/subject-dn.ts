// Subject DN matching for RFC 8705 §2.1.2 `tls_client_auth_subject_dn`: the registered RFC 4514
// string is compared with the certificate's subject using RFC 4517 §4.2.15 distinguishedNameMatch
// — same number of RDNs in the same order, each RDN the same set of AVAs, each value equal under
// its type's equality rule. Every attribute we know is a caseIgnore type, so values are prepared
// as RFC 4518 says, simplified: NFKC, case folding, control/zero-width characters dropped,
// whitespace trimmed and inner runs collapsed to one space (§2.6.1 insignificant space handling).
import type { X509Certificate } from 'node:crypto';
import { fieldsOf } from './parsing.ts';
import type { Rdn } from './names.ts';
import { formatDn, parseDn } from './dn-string.ts';

export { parseDn, formatDn, DnSyntaxError } from './dn-string.ts';
export type { Rdn, AttributeTypeAndValue } from './names.ts';

/** The certificate's subject as an RFC 4514 string, built from the DER (not node's `subject` text). */
export function subjectDnOf(cert: X509Certificate): string {
  return formatDn(fieldsOf(cert).subjectRdns);
}

export function issuerDnOf(cert: X509Certificate): string {
  return formatDn(fieldsOf(cert).issuerRdns);
}

// Matching runs on every token request: the certificate's key is kept per certificate object
// (one per TLS connection) and the registered DN's per string, so neither is re-parsed each time.
const certificateKeys = new WeakMap<X509Certificate, string>();
const registeredKeys = new Map<string, string>();
const REGISTERED_KEYS_MAX = 1_000;

/** RFC 8705 §2.1.2: does the certificate's subject equal the registered DN? Malformed input never matches. */
export function subjectDnMatches(cert: X509Certificate, expected: string): boolean {
  try {
    let actual = certificateKeys.get(cert);
    if (actual === undefined) certificateKeys.set(cert, (actual = subjectKeyOf(cert)));
    let wanted = registeredKeys.get(expected);
    if (wanted === undefined) {
      wanted = dnKey(parseDn(expected));
      if (registeredKeys.size >= REGISTERED_KEYS_MAX) registeredKeys.clear();
      registeredKeys.set(expected, wanted);
    }
    return actual === wanted;
  } catch {
    return false;
  }
}

/** distinguishedNameMatch between two RFC 4514 strings; throws DnSyntaxError on malformed input. */
export function dnMatches(a: string, b: string): boolean {
  return dnKey(parseDn(a)) === dnKey(parseDn(b));
}

/**
 * A string equal for exactly the DNs that distinguishedNameMatch considers equal: used to
 * compare and to index (RFC 5280 §7.1 name chaining uses the same preparation).
 */
export function dnKey(rdns: readonly Rdn[]): string {
  return JSON.stringify(rdns.map((rdn) => rdn.map((ava) => `${ava.oid}=${valueKey(ava.value)}`).sort()));
}

export function subjectKeyOf(cert: X509Certificate): string {
  return dnKey(fieldsOf(cert).subjectRdns);
}

export function issuerKeyOf(cert: X509Certificate): string {
  return dnKey(fieldsOf(cert).issuerRdns);
}

// RFC 4518 §2.2: characters mapped to nothing (soft hyphen, joiners, variation selectors, controls).
const IGNORED = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF\uFFFC\u0000-\u0008\u000E-\u001F\u007F-\u0084\u0086-\u009F]/g;

function valueKey(value: string | Uint8Array): string {
  // Values of non-string types compare as their exact encodings (octetStringMatch).
  if (typeof value !== 'string') return `#${Buffer.from(value).toString('hex')}`;
  const prepared = value
    .normalize('NFKC')
    .replace(IGNORED, '')
    .toUpperCase()
    .toLowerCase() // upper then lower approximates RFC 3454 B.2 full case folding (ß -> ss)
    .replace(/\s+/g, ' ')
    .trim();
  return `"${prepared}`;
}
