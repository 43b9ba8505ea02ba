// Certification path validation for RFC 8705 §2.1 PKI client authentication, after RFC 5280 §6.1.
//
// validatePath builds a chain from the client's leaf, through the intermediates it presented and
// those held in the trust store, to a trust anchor of the store (never the system store), trying
// alternatives until one passes. A complete chain is then checked in this order:
//   1. every signature (while building: an issuer is only a candidate if it verifies the child)
//   2. validity window of every certificate at `at`, leaf first (§6.1.3 a.2)
//   3. every issuer, anchor included: basicConstraints cA (§6.1.4 k), keyUsage keyCertSign when
//      the extension is present (§6.1.4 n), pathLenConstraint (§6.1.4 l–m)
//   4. the leaf: keyUsage allows a TLS signature when present; extendedKeyUsage contains clientAuth
//      or anyExtendedKeyUsage when present (RFC 5280 §4.2.1.12)
//   5. no certificate carries a critical extension we do not process (§6.1.4 o)
// Not checked here: revocation, certificate policies, name constraints (a CA carrying critical
// nameConstraints is refused by step 5 rather than half-honoured), subject/SAN of the leaf
// (subject-dn.ts and san.ts do that against the client's registration).
// Every reason is written for the partner engineer who will read it as error_description.
import { X509Certificate } from 'node:crypto';
import { OID, fieldsOf } from './parsing.ts';
import { issuerDnOf, issuerKeyOf, subjectKeyOf } from './subject-dn.ts';
import { describeCert, type TrustStore } from './trust-store.ts';

export type PathErrorCode =
  | 'untrusted'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'not_a_ca'
  | 'path_length'
  | 'key_usage'
  | 'ext_key_usage'
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
}

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
  // Policies are not enforced (RFC 5280 §6.1.1 with initial-policy-set any-policy and no explicit
  // policy required accepts any), so a critical certificatePolicies extension is harmless.
  OID.certificatePolicies,
]);
const EXTENSION_NAMES: Record<string, string> = {
  '2.5.29.30': 'nameConstraints',
  '2.5.29.33': 'policyMappings',
  '2.5.29.36': 'policyConstraints',
  '2.5.29.54': 'inhibitAnyPolicy',
};

/** Never throws: anything unreadable is `malformed`. */
export async function validatePath(input: PathInput): Promise<PathVerdict> {
  try {
    return buildAndCheck(input);
  } catch (error) {
    return fail('malformed', `certificate could not be read: ${(error as Error)?.message ?? String(error)}`);
  }
}

function buildAndCheck({ leaf, presented = [], trustStore, at = new Date() }: PathInput): PathVerdict {
  const leafProblem = unreadable(leaf);
  if (leafProblem) return fail('malformed', `client certificate could not be parsed (${leafProblem})`);
  const extra: X509Certificate[] = [];
  for (const [index, cert] of presented.slice(0, MAX_PRESENTED).entries()) {
    const problem = unreadable(cert);
    if (problem) return fail('malformed', `certificate ${index + 1} of the client's chain could not be parsed (${problem})`);
    if (cert.fingerprint256 !== leaf.fingerprint256) extra.push(cert);
  }

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

  const extend = (path: X509Certificate[]): PathVerdict | undefined => {
    const current = path[path.length - 1]!;
    if (trustStore.isAnchor(current)) {
      const verdict = checkChain(path, at);
      if (verdict.ok) return verdict;
      chainFailure ??= verdict;
      return undefined;
    }
    if (path.length >= MAX_CHAIN_LENGTH) {
      tooLong = true;
      return undefined;
    }
    const fromStore = trustStore.findIssuers(current);
    // Prefer anchors (shortest path), then what the client sent, then store intermediates.
    const candidates = [...fromStore.filter((c) => trustStore.isAnchor(c)), ...presentedIssuers(current), ...fromStore.filter((c) => !trustStore.isAnchor(c))];
    let advanced = false;
    for (const candidate of candidates) {
      if (path.some((c) => c.fingerprint256 === candidate.fingerprint256)) continue; // loop guard
      if (++signatureChecks > MAX_SIGNATURE_CHECKS) return undefined;
      if (!signedBy(current, candidate)) {
        signatureFailure ??= fail(
          'bad_signature',
          `signature of ${path.length === 1 ? 'the certificate' : `intermediate ${describeCert(current)}`} does not verify with the public key of ${trustStore.isAnchor(candidate) ? 'client CA' : 'issuer'} ${describeCert(candidate)}`,
        );
        continue;
      }
      advanced = true;
      const verdict = extend([...path, candidate]);
      if (verdict) return verdict;
    }
    if (!advanced && path.length > stuck.depth) stuck = { at: current, depth: path.length };
    return undefined;
  };

  const verdict = extend([leaf]);
  if (verdict) return verdict;
  if (chainFailure) return chainFailure;
  if (signatureFailure) return signatureFailure;
  if (tooLong) return fail('untrusted', `certificate chain is longer than ${MAX_CHAIN_LENGTH} certificates`);
  return fail('untrusted', `certificate chain does not lead to a trusted client CA (issuer ${issuerDnOf(stuck.at) || '(empty)'})`);
}

/** The checks on a complete chain, leaf first, anchor last. */
function checkChain(chain: X509Certificate[], at: Date): PathVerdict {
  const last = chain.length - 1;
  const role = (i: number) => (i === 0 ? 'certificate' : i === last ? `client CA ${describeCert(chain[i]!)}` : `intermediate ${describeCert(chain[i]!)}`);

  for (const [i, cert] of chain.entries()) {
    if (at < cert.validFromDate) return fail('not_yet_valid', `${role(i)} not valid before ${cert.validFromDate.toISOString()}`);
    if (at > cert.validToDate) return fail('expired', `${role(i)} expired at ${cert.validToDate.toISOString()}`);
  }

  for (let i = 1; i <= last; i++) {
    const issuer = chain[i]!;
    const { basicConstraints, keyUsage } = fieldsOf(issuer);
    const name = `issuer ${describeCert(issuer)}`;
    if (!basicConstraints?.ca) return fail('not_a_ca', `${name} is not a CA (basicConstraints cA is not set), so it cannot issue certificates`);
    if (keyUsage && !keyUsage.has('keyCertSign')) return fail('key_usage', `${name} keyUsage does not include keyCertSign, so it cannot sign certificates`);
    // §4.2.1.9: pathLenConstraint counts the non-self-issued intermediates below this CA (not the leaf).
    const below = chain.slice(1, i).filter((c) => subjectKeyOf(c) !== issuerKeyOf(c)).length;
    const limit = basicConstraints.pathLength;
    if (limit !== undefined && below > limit) {
      return fail('path_length', `${name} allows ${limit} intermediate CA certificate${limit === 1 ? '' : 's'} below it (pathLenConstraint) but the chain has ${below}`);
    }
  }

  const { keyUsage, extKeyUsage } = fieldsOf(chain[0]!);
  // The client signs the handshake (RFC 8446 §4.4.3); OpenSSL's sslclient purpose accepts
  // digitalSignature or keyAgreement, and so do we.
  if (keyUsage && !keyUsage.has('digitalSignature') && !keyUsage.has('keyAgreement')) {
    return fail('key_usage', 'certificate keyUsage includes neither digitalSignature nor keyAgreement, so it cannot authenticate a TLS client');
  }
  if (extKeyUsage && !extKeyUsage.includes(OID.clientAuth) && !extKeyUsage.includes(OID.anyExtendedKeyUsage)) {
    return fail('ext_key_usage', 'certificate extendedKeyUsage does not include clientAuth (TLS client authentication)');
  }

  for (const [i, cert] of chain.entries()) {
    for (const [oid, ext] of fieldsOf(cert).extensions) {
      if (ext.critical && !PROCESSED_EXTENSIONS.has(oid)) {
        const label = EXTENSION_NAMES[oid] ? `${EXTENSION_NAMES[oid]} (${oid})` : oid;
        return fail('untrusted', `${role(i)} carries a critical extension certbound does not process: ${label}`);
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
