// Subject DN matching for RFC 8705 §2.1.2 `tls_client_auth_subject_dn`: the registered RFC 4514
// string is compared with the certificate's subject using RFC 4517 §4.2.15 distinguishedNameMatch
// — same number of RDNs in the same order, each RDN the same set of AVAs, each value equal under
// its type's equality rule. Every attribute we know is a caseIgnore type (or caseIgnoreIA5, whose
// preparation is the same for the ASCII it holds), so string values are prepared by RFC 4518
// (string-prep.ts). A value whose preparation fails (RFC 4518 §2.4 prohibited characters) makes
// the assertion Undefined (RFC 4518 §2), so its DN equals no DN, not even itself.
import type { X509Certificate } from 'node:crypto';
import { fieldsOf } from './parsing.ts';
import type { Rdn } from './names.ts';
import { formatDn, parseDn } from './dn-string.ts';
import { attributeName } from './attribute-types.ts';
import { prepareCaseIgnore } from './string-prep.ts';

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
      const rdns = parseDn(expected);
      // Registration refuses an empty DN; should one reach here anyway (an old row, a direct
      // store write), it must not match every certificate with an empty subject (RFC 5280
      // §4.1.2.6 allows those, identified by SAN only).
      wanted = rdns.length === 0 ? unmatchableKey() : dnKey(rdns);
      if (registeredKeys.size >= REGISTERED_KEYS_MAX) registeredKeys.clear();
      registeredKeys.set(expected, wanted);
    }
    return actual === wanted;
  } catch {
    return false;
  }
}

/**
 * distinguishedNameMatch between two RFC 4514 strings; throws DnSyntaxError on malformed input.
 * False when either holds a value RFC 4518 §2.4 prohibits, even compared with itself.
 */
export function dnMatches(a: string, b: string): boolean {
  return dnKey(parseDn(a)) === dnKey(parseDn(b));
}

/**
 * A string equal for exactly the DNs that distinguishedNameMatch considers equal: used to
 * compare and to index (RFC 5280 §7.1 name chaining uses the same preparation). A DN with a
 * value whose preparation fails gets a key equal to no other key, so it matches and chains to
 * nothing: failing closed, as RFC 4518 §2 makes such an assertion Undefined.
 */
export function dnKey(rdns: readonly Rdn[]): string {
  const keys: string[][] = [];
  for (const rdn of rdns) {
    const avas: string[] = [];
    for (const ava of rdn) {
      const value = valueKey(ava.value);
      if (value === undefined) return unmatchableKey();
      avas.push(`${ava.oid}=${value}`);
    }
    keys.push(avas.sort());
  }
  return JSON.stringify(keys);
}

/**
 * Why the DN's values cannot be prepared for matching (RFC 4518 §2.4), naming the attribute and
 * the character; undefined when every value can. Registration refuses such a DN, since it could
 * never match (dnKey makes it unmatchable).
 */
export function dnPreparationProblem(rdns: readonly Rdn[]): string | undefined {
  for (const ava of rdns.flat()) {
    if (typeof ava.value !== 'string') continue;
    const prepared = prepareCaseIgnore(ava.value);
    if (!prepared.ok) return `${attributeName(ava.oid)} value: ${prepared.problem}`;
  }
  return undefined;
}

export function subjectKeyOf(cert: X509Certificate): string {
  return dnKey(fieldsOf(cert).subjectRdns);
}

export function issuerKeyOf(cert: X509Certificate): string {
  return dnKey(fieldsOf(cert).issuerRdns);
}

// A key no other call returns (keys from JSON.stringify start with "["): the DN equals nothing.
let unmatchable = 0;
function unmatchableKey(): string {
  return `!unmatchable ${++unmatchable}`;
}

/** undefined: the value cannot be prepared, so the assertion is Undefined (RFC 4518 §2). */
function valueKey(value: string | Uint8Array): string | undefined {
  // Values of non-string types compare as their exact encodings (octetStringMatch).
  if (typeof value !== 'string') return `#${Buffer.from(value).toString('hex')}`;
  const prepared = prepareCaseIgnore(value);
  return prepared.ok ? `"${prepared.value}` : undefined;
}
