// CRLs (RFC 5280 §5) checked the way §6.3.3 asks: signed by the certificate's issuer with a key
// allowed to sign CRLs, naming that issuer, complete (not delta, not indirect, not partitioned by
// reason), and current. verifyCrl never throws: any byte string gets a typed verdict.
import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  CertificateList, CRLReason, IssuingDistributionPoint, type Extension,
  id_ce_authorityKeyIdentifier, id_ce_cRLNumber, id_ce_cRLReasons, id_ce_certificateIssuer,
  id_ce_deltaCRLIndicator, id_ce_freshestCRL, id_ce_invalidityDate, id_ce_issuingDistributionPoint,
  id_pe_authorityInfoAccess,
} from '@peculiar/asn1-x509';
import { fieldsOf } from '../parsing.ts';
import { comparableSubject, serialHex, serialKey } from './certificate.ts';
import { describeCert } from '../trust-store.ts';
import { DEFAULT_SKEW_MS } from './ocsp.ts';
import { verifySignature } from './signature.ts';

export interface CrlEntry {
  readonly revokedAt: Date;
  /** RFC 5280 §5.3.1 CRLReason; absent = unspecified */
  readonly reasonCode: number | undefined;
}

export interface VerifiedCrl {
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** RFC 5280 §5.2.5 onlyContainsUserCerts / onlyContainsCACerts */
  readonly scope: 'all' | 'end-entity' | 'ca';
  /** by serial (serialKey form) */
  readonly entries: ReadonlyMap<string, CrlEntry>;
}

export type CrlVerdict = { readonly ok: true; readonly crl: VerifiedCrl } | { readonly ok: false; readonly detail: string };

export type CrlLookup =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly revokedAt: Date; readonly reasonCode: number | undefined }
  | { readonly status: 'unknown'; readonly detail: string };

const fail = (detail: string): CrlVerdict => ({ ok: false, detail });

/** CRL extensions understood here (RFC 5280 §5.2); any other critical one refuses the CRL. */
const KNOWN_CRL_EXTENSIONS = new Set([id_ce_authorityKeyIdentifier, id_ce_cRLNumber, id_ce_freshestCRL, id_pe_authorityInfoAccess]);
const KNOWN_ENTRY_EXTENSIONS = new Set([id_ce_cRLReasons, id_ce_invalidityDate]);
/** RFC 5280 §5.3.1: removeFromCRL only has a meaning in a delta CRL. */
const REMOVE_FROM_CRL = 8;

/** PEM (`-----BEGIN X509 CRL-----`) or DER, as CRL distribution points and CLIENT_CRL_FILE hold them. */
export function crlDerBlocks(bytes: Uint8Array): Buffer[] {
  const text = Buffer.from(bytes.subarray(0, 64)).toString('latin1');
  if (!text.includes('-----BEGIN')) return [Buffer.from(bytes)];
  const blocks = Buffer.from(bytes).toString('latin1').matchAll(/-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]*?)-----END X509 CRL-----/g);
  return [...blocks].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

/**
 * Structure, issuer and signature; not time (see crlFreshness), so a verified CRL can be kept
 * and its freshness re-checked on every use.
 */
export function verifyCrl(der: Uint8Array, issuer: X509Certificate): CrlVerdict {
  try {
    return verify(der, issuer);
  } catch (err) {
    return fail(`is not a well-formed CRL (${(err as Error).message.slice(0, 120)})`);
  }
}

function verify(der: Uint8Array, issuer: X509Certificate): CrlVerdict {
  const list = AsnConvert.parse(der, CertificateList);
  const tbs = list.tbsCertList;
  if (list.tbsCertListRaw === undefined) return fail('has no signed content');
  // RFC 5280 §5.1.1.2: the outer and inner algorithm identifiers must agree.
  if (list.signatureAlgorithm.algorithm !== tbs.signature.algorithm) return fail('names two different signature algorithms');
  if (!Buffer.from(AsnConvert.serialize(tbs.issuer)).equals(comparableSubject(issuer))) {
    return fail(`is not issued by ${describeCert(issuer)} (issuer name differs)`);
  }
  // RFC 5280 §6.3.3 (f): the CRL signer's key must be allowed to sign CRLs.
  const keyUsage = fieldsOf(issuer).keyUsage;
  if (keyUsage !== undefined && !keyUsage.has('cRLSign')) {
    return fail(`is signed by ${describeCert(issuer)}, whose key usage does not include cRLSign`);
  }
  const signature = verifySignature(list.signatureAlgorithm, list.tbsCertListRaw, list.signature, issuer.publicKey);
  if (!signature.ok) return fail(`${signature.detail} with the key of ${describeCert(issuer)}`);

  // RFC 5280 §5.1.2.5: a conforming CRL issuer always includes nextUpdate; without it there is
  // no way to know how long the list may be relied on.
  if (tbs.nextUpdate === undefined) return fail('has no nextUpdate');
  const scope = scopeOf(tbs.crlExtensions);
  if (typeof scope === 'object') return fail(scope.detail);

  const entries = new Map<string, CrlEntry>();
  for (const revoked of tbs.revokedCertificates ?? []) {
    let reasonCode: number | undefined;
    for (const extension of revoked.crlEntryExtensions ?? []) {
      if (extension.extnID === id_ce_certificateIssuer) {
        return fail('is an indirect CRL (certificateIssuer entry extension, RFC 5280 §5.3.3), which is not supported');
      }
      if (extension.extnID === id_ce_cRLReasons) reasonCode = Number(AsnConvert.parse(extension.extnValue, CRLReason).reason);
      else if (extension.critical && !KNOWN_ENTRY_EXTENSIONS.has(extension.extnID)) {
        return fail(`has an entry with the unhandled critical extension ${extension.extnID}`);
      }
    }
    if (reasonCode === REMOVE_FROM_CRL) continue;
    entries.set(serialKey(serialHex(revoked.userCertificate)), { revokedAt: revoked.revocationDate.getTime(), reasonCode });
  }
  return { ok: true, crl: { thisUpdate: tbs.thisUpdate.getTime(), nextUpdate: tbs.nextUpdate.getTime(), scope, entries } };
}

/** RFC 5280 §5.2: which extensions make the list something other than a complete CRL. */
function scopeOf(extensions: Extension[] | undefined): VerifiedCrl['scope'] | { detail: string } {
  let scope: VerifiedCrl['scope'] = 'all';
  for (const extension of extensions ?? []) {
    if (extension.extnID === id_ce_deltaCRLIndicator) {
      return { detail: 'is a delta CRL (RFC 5280 §5.2.4); only complete CRLs are used' };
    }
    if (extension.extnID === id_ce_issuingDistributionPoint) {
      const idp = AsnConvert.parse(extension.extnValue, IssuingDistributionPoint);
      if (idp.indirectCRL) return { detail: 'is an indirect CRL (RFC 5280 §5.2.5), which is not supported' };
      if (idp.onlySomeReasons !== undefined) return { detail: 'covers only some revocation reasons (onlySomeReasons, RFC 5280 §5.2.5), which is not supported' };
      if (idp.onlyContainsAttributeCerts) return { detail: 'covers only attribute certificates' };
      if (idp.onlyContainsUserCerts) scope = 'end-entity';
      if (idp.onlyContainsCACerts) scope = 'ca';
      continue;
    }
    if (extension.critical && !KNOWN_CRL_EXTENSIONS.has(extension.extnID)) {
      return { detail: `carries the unhandled critical extension ${extension.extnID} (RFC 5280 §5.2)` };
    }
  }
  return scope;
}

/** undefined when usable now; otherwise why not (RFC 5280 §6.3.3 (a)). */
export function crlFreshness(crl: VerifiedCrl, now: number, skewMs = DEFAULT_SKEW_MS): string | undefined {
  if (crl.thisUpdate.getTime() > now + skewMs) return `thisUpdate ${crl.thisUpdate.toISOString()} is in the future`;
  if (crl.nextUpdate.getTime() < now) return `is stale: nextUpdate ${crl.nextUpdate.toISOString()} has passed`;
  return undefined;
}

/** Looks the certificate up in a CRL already verified against its issuer. */
export function lookupSerial(crl: VerifiedCrl, cert: X509Certificate): CrlLookup {
  if (crl.scope === 'end-entity' && cert.ca) return { status: 'unknown', detail: 'covers only end-entity certificates, and this is a CA certificate' };
  if (crl.scope === 'ca' && !cert.ca) return { status: 'unknown', detail: 'covers only CA certificates, and this is an end-entity certificate' };
  const entry = crl.entries.get(serialKey(cert.serialNumber));
  return entry === undefined ? { status: 'good' } : { status: 'revoked', ...entry };
}

/** verifyCrl + crlFreshness + lookupSerial in one call (tests, and the property test's target). */
export function checkCrl(der: Uint8Array, cert: X509Certificate, issuer: X509Certificate, now: number): CrlLookup {
  const verdict = verifyCrl(der, issuer);
  if (!verdict.ok) return { status: 'unknown', detail: verdict.detail };
  const stale = crlFreshness(verdict.crl, now);
  if (stale !== undefined) return { status: 'unknown', detail: stale };
  return lookupSerial(verdict.crl, cert);
}
