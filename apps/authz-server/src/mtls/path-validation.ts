// Certification path validation for RFC 8705 §2.1 PKI client authentication, after RFC 5280 §6.1.
//
// validatePath builds a chain from the client's leaf, through the intermediates it presented and
// those held in the trust store, to a certificate of the store (never the system store), trying
// alternatives until one passes. Every certificate of the store is a trust anchor, so an operator
// may trust only an issuing intermediate (OpenSSL's -partial_chain); where the store also holds
// that anchor's issuer, the chain goes on up to it and that CA's constraints apply too. A
// complete chain is then checked in this order:
//   1. every signature (while building: an issuer is only a candidate if it verifies the child)
//   2. validity window of every certificate at `at`, leaf first (§6.1.3 a.2)
//   3. every public key is strong enough: RSA >= minRsaBits (2048 by default), EC on P-256,
//      P-384 or P-521, or Ed25519
//   4. every issuer, anchor included: basicConstraints cA (§6.1.4 k), keyUsage keyCertSign when
//      the extension is present (§6.1.4 n), pathLenConstraint (§6.1.4 l–m), extendedKeyUsage
//      with clientAuth when present (the CA/B Forum and OpenSSL reading of EKU in CA
//      certificates: a CA limited to other purposes cannot vouch for a TLS client); below the
//      anchor, basicConstraints critical and keyUsage present (§4.2.1.9, §4.2.1.3)
//   5. the leaf: not a CA (cA=TRUE refused: a CA key authenticating as a client is a CA key
//      used for the wrong job), no keyCertSign; keyUsage allows a TLS signature when present;
//      extendedKeyUsage contains clientAuth when present. anyExtendedKeyUsage alone is not
//      enough, on the leaf or an issuer: OpenSSL's sslclient purpose and the CA/B Forum do not
//      read it as "TLS client", and certbound is never more lenient than OpenSSL here.
//   6. name constraints of every CA above each certificate, critical or not (§6.1.3 b–c,
//      mtls/name-constraints.ts)
//   7. no certificate carries a critical extension we do not process (§6.1.4 o)
// Certificates are read strictly (mtls/parsing.ts): anything that is not DER is `malformed`.
// Not checked here: revocation (mtls/revocation/, for chains that pass), certificate policies
// (initial-policy-set any-policy, no explicit policy required: §6.1.1), subject/SAN of the leaf
// against the client's registration (subject-dn.ts and san.ts).
// Every reason is written for the partner engineer who will read it as error_description.
import { X509Certificate } from 'node:crypto';
import { OID, extensionName, fieldsOf } from './parsing.ts';
import { nameConstraintViolation } from './name-constraints.ts';
import { issuerDnOf, issuerKeyOf, subjectKeyOf } from './subject-dn.ts';
import { describeCert, type TrustStore } from './trust-store.ts';
import { keyWeakness } from './key-strength.ts';

export type PathErrorCode =
  | 'untrusted'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'not_a_ca'
  | 'path_length'
  | 'key_usage'
  | 'ext_key_usage'
  | 'weak_key'
  | 'leaf_is_ca'
  | 'name_constraints'
  | 'unhandled_extension'
  | 'malformed';

export type PathVerdict = { ok: true; chain: X509Certificate[] } | { ok: false; code: PathErrorCode; reason: string };
type Failure = Extract<PathVerdict, { ok: false }>;

export interface PathInput {
  leaf: X509Certificate;
  /** intermediates the client sent after its certificate, in any order */
  presented?: X509Certificate[];
  trustStore: TrustStore;
  /** default: now */
  at?: Date;
  /** smallest RSA modulus accepted anywhere in the chain; default (and floor) 2048 */
  minRsaBits?: number;
}

export const DEFAULT_MIN_RSA_BITS = 2048;

/** leaf + intermediates + anchor; real PKIs stay well below this */
const MAX_CHAIN_LENGTH = 8;
/** a client cannot make us consider more than this many certificates of its own */
const MAX_PRESENTED = 10;
/** signature verifications per validation: bounds the work with many same-named CAs */
const MAX_SIGNATURE_CHECKS = 64;

const PROCESSED_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.nameConstraints,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
  // Policies are not enforced (RFC 5280 §6.1.1 with initial-policy-set any-policy and no explicit
  // policy required accepts any), so a critical certificatePolicies extension is harmless.
  OID.certificatePolicies,
]);

/** Never throws: anything unreadable is `malformed`. */
export async function validatePath(input: PathInput): Promise<PathVerdict> {
  try {
    return buildAndCheck(input);
  } catch (error) {
    return fail('malformed', `certificate could not be read: ${(error as Error)?.message ?? String(error)}`);
  }
}

function buildAndCheck({ leaf, presented = [], trustStore, at = new Date(), minRsaBits = DEFAULT_MIN_RSA_BITS }: PathInput): PathVerdict {
  const leafProblem = unreadable(leaf);
  if (leafProblem) return fail('malformed', `client certificate could not be parsed (${leafProblem})`);
  const extra: X509Certificate[] = [];
  for (const [index, cert] of presented.slice(0, MAX_PRESENTED).entries()) {
    const problem = unreadable(cert);
    if (problem) return fail('malformed', `certificate ${index + 1} of the client's chain could not be parsed (${problem})`);
    if (cert.fingerprint256 !== leaf.fingerprint256 && !extra.some((c) => c.fingerprint256 === cert.fingerprint256)) extra.push(cert);
  }
  const policy = { at, minRsaBits: Math.max(minRsaBits, DEFAULT_MIN_RSA_BITS) };

  let signatureChecks = 0;
  let chainFailure: Failure | undefined;
  let signatureFailure: Failure | undefined;
  let tooLong = false;
  // the deepest certificate for which no issuer was found: its issuer is the one to name
  let stuck = { at: leaf, depth: 0 };

  const presentedIssuers = (cert: X509Certificate) => {
    const want = issuerKeyOf(cert);
    return extra.filter((candidate) => subjectKeyOf(candidate) === want);
  };

  /** Issuers of `current` among `candidates` that verify its signature, within the work bound. */
  const verifiedIssuers = (current: X509Certificate, path: X509Certificate[], candidates: X509Certificate[]): X509Certificate[] | undefined => {
    const found: X509Certificate[] = [];
    for (const candidate of candidates) {
      if (path.some((c) => c.fingerprint256 === candidate.fingerprint256)) continue; // loop guard
      if (++signatureChecks > MAX_SIGNATURE_CHECKS) return undefined;
      if (signedBy(current, candidate)) {
        found.push(candidate);
        continue;
      }
      signatureFailure ??= fail(
        'bad_signature',
        `signature of ${path.length === 1 ? 'the certificate' : `intermediate ${describeCert(current)}`} does not verify with the public key of ${trustStore.isAnchor(candidate) ? 'client CA' : 'issuer'} ${describeCert(candidate)}`,
      );
    }
    return found;
  };

  const extend = (path: X509Certificate[]): PathVerdict | undefined => {
    const current = path[path.length - 1];
    if (path.length > 1 && trustStore.isAnchor(current)) {
      // A stored intermediate is an anchor; when the store also holds its issuer, the chain
      // continues to it (and never falls back to the shorter path if the longer one fails).
      const above = trustStore.isRoot(current) || path.length >= MAX_CHAIN_LENGTH ? [] : verifiedIssuers(current, path, trustStore.findIssuers(current)) ?? [];
      if (above.length === 0) {
        const verdict = checkChain(path, policy);
        if (verdict.ok) return verdict;
        chainFailure ??= verdict;
        return undefined;
      }
      for (const issuer of above) {
        const verdict = extend([...path, issuer]);
        if (verdict) return verdict;
      }
      return undefined;
    }
    if (path.length >= MAX_CHAIN_LENGTH) {
      tooLong = true;
      return undefined;
    }
    const fromStore = trustStore.findIssuers(current);
    // Prefer anchors (shortest path), then what the client sent, then store intermediates.
    const candidates = [...fromStore.filter((c) => trustStore.isRoot(c)), ...presentedIssuers(current), ...fromStore.filter((c) => !trustStore.isRoot(c))];
    const issuers = verifiedIssuers(current, path, candidates);
    if (issuers === undefined) return undefined;
    for (const issuer of issuers) {
      const verdict = extend([...path, issuer]);
      if (verdict) return verdict;
    }
    if (issuers.length === 0 && path.length > stuck.depth) stuck = { at: current, depth: path.length };
    return undefined;
  };

  // A leaf that is itself in the store (a pinned self-signed client, say) is its own anchor.
  const verdict = trustStore.isAnchor(leaf) ? checkChain([leaf], policy) : extend([leaf]);
  if (verdict) return verdict;
  if (chainFailure) return chainFailure;
  if (signatureFailure) return signatureFailure;
  if (tooLong) return fail('untrusted', `certificate chain is longer than ${MAX_CHAIN_LENGTH} certificates`);
  return fail('untrusted', `certificate chain does not lead to a trusted client CA (issuer ${issuerDnOf(stuck.at) || '(empty)'})`);
}

/** The checks on a complete chain, leaf first, anchor last. */
function checkChain(chain: X509Certificate[], policy: { at: Date; minRsaBits: number }): PathVerdict {
  const { at } = policy;
  const last = chain.length - 1;
  const role = (i: number) => (i === 0 ? 'certificate' : i === last ? `client CA ${describeCert(chain[i])}` : `intermediate ${describeCert(chain[i])}`);

  for (const [i, cert] of chain.entries()) {
    if (at < cert.validFromDate) return fail('not_yet_valid', `${role(i)} not valid before ${cert.validFromDate.toISOString()}`);
    // RFC 5280 §4.1.2.5 counts notAfter itself as valid; OpenSSL does not, and one second
    // stricter costs nothing.
    if (at >= cert.validToDate) return fail('expired', `${role(i)} expired at ${cert.validToDate.toISOString()}`);
  }

  for (const [i, cert] of chain.entries()) {
    const weakness = keyWeakness(cert, policy.minRsaBits);
    if (weakness) return fail('weak_key', `${role(i)} public key ${weakness}`);
  }

  for (let i = 1; i <= last; i++) {
    const issuer = chain[i];
    const { basicConstraints, keyUsage, extKeyUsage, extensions } = fieldsOf(issuer);
    const name = `issuer ${describeCert(issuer)}`;
    if (!basicConstraints?.ca) return fail('not_a_ca', `${name} is not a CA (basicConstraints cA is not set), so it cannot issue certificates`);
    // §4.2.1.9 "Conforming CAs MUST mark the extension as critical" and §4.2.1.3 "MUST include
    // [keyUsage]" in CA certificates — required of every CA below the anchor, as OpenSSL's
    // -x509_strict does; an operator's anchor is taken as configured.
    if (i < last && !extensions.get(OID.basicConstraints)?.critical) return fail('not_a_ca', `${name} basicConstraints is not marked critical, as RFC 5280 §4.2.1.9 requires of a CA`);
    if (i < last && !keyUsage) return fail('key_usage', `${name} has no keyUsage extension, which RFC 5280 §4.2.1.3 requires of a CA`);
    if (keyUsage && !keyUsage.has('keyCertSign')) return fail('key_usage', `${name} keyUsage does not include keyCertSign, so it cannot sign certificates`);
    // §4.2.1.9: pathLenConstraint counts the non-self-issued intermediates below this CA (not the leaf).
    const below = chain.slice(1, i).filter((c) => subjectKeyOf(c) !== issuerKeyOf(c)).length;
    const limit = basicConstraints.pathLength;
    if (limit !== undefined && below > limit) {
      return fail('path_length', `${name} allows ${limit} intermediate CA certificate${limit === 1 ? '' : 's'} below it (pathLenConstraint) but the chain has ${below}`);
    }
    if (extKeyUsage && !extKeyUsage.includes(OID.clientAuth)) {
      return fail('ext_key_usage', `${name} extendedKeyUsage does not include clientAuth, so it cannot issue TLS client certificates`);
    }
  }

  const { basicConstraints, keyUsage, extKeyUsage } = fieldsOf(chain[0]);
  if (basicConstraints?.ca && chain.length > 1) {
    return fail('leaf_is_ca', 'certificate is a CA certificate (basicConstraints cA=TRUE) and cannot authenticate a client');
  }
  // The client signs the handshake (RFC 8446 §4.4.3); OpenSSL's sslclient purpose accepts
  // digitalSignature or keyAgreement, and so do we.
  if (keyUsage?.has('keyCertSign') && !basicConstraints?.ca) {
    return fail('key_usage', 'certificate keyUsage includes keyCertSign but the certificate is not a CA (RFC 5280 §4.2.1.3)');
  }
  if (keyUsage && !keyUsage.has('digitalSignature') && !keyUsage.has('keyAgreement')) {
    return fail('key_usage', 'certificate keyUsage includes neither digitalSignature nor keyAgreement, so it cannot authenticate a TLS client');
  }
  if (extKeyUsage && !extKeyUsage.includes(OID.clientAuth)) {
    return fail('ext_key_usage', 'certificate extendedKeyUsage does not include clientAuth (TLS client authentication)');
  }

  // §6.1.3 (b)–(c): each CA's constraints bind every certificate below it; a self-issued
  // intermediate is exempt, the leaf never.
  for (let i = last; i >= 1; i--) {
    const constraints = fieldsOf(chain[i]).nameConstraints;
    if (!constraints) continue;
    for (let j = i - 1; j >= 0; j--) {
      if (j > 0 && subjectKeyOf(chain[j]) === issuerKeyOf(chain[j])) continue;
      const violation = nameConstraintViolation(chain[j], constraints, `issuer ${describeCert(chain[i])}`);
      if (violation) return fail('name_constraints', j === 0 ? violation : violation.replace(/^certificate /, `${role(j)} `));
    }
  }

  for (const [i, cert] of chain.entries()) {
    for (const [oid, ext] of fieldsOf(cert).extensions) {
      if (ext.critical && !PROCESSED_EXTENSIONS.has(oid)) {
        const name = extensionName(oid);
        return fail('unhandled_extension', `${role(i)} carries a critical extension certbound does not process: ${name === oid ? oid : `${name} (${oid})`}`);
      }
    }
  }
  return { ok: true, chain };
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function unreadable(cert: unknown): string | undefined {
  if (!(cert instanceof X509Certificate)) return 'not an X.509 certificate';
  try {
    fieldsOf(cert);
    void cert.validFromDate;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function fail(code: PathErrorCode, reason: string): Failure {
  return { ok: false, code, reason };
}
