// OCSP (RFC 6960): builds the request for one certificate and verifies the responder's answer.
// verifyOcspResponse never throws: any byte string gets a typed verdict, so a hostile or broken
// responder can only produce "unknown".
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, type Extension } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, TBSRequest,
  id_kp_OCSPSigning, id_pkix_ocsp_basic, id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import { serialBytes, subjectNameDer, subjectPublicKeyBits } from './certificate.ts';
import { describeCert } from '../trust-store.ts';
import { verifySignature } from './signature.ts';

const SHA1 = '1.3.14.3.2.26';
/** RFC 6960 §4.2.2.1 leaves the tolerance to local policy; 5 minutes is the customary one. */
export const DEFAULT_SKEW_MS = 5 * 60_000;

export interface OcspRequest {
  /** the DER OCSPRequest to POST (RFC 6960 Appendix A.1) */
  readonly der: Buffer;
  /** DER of the CertID: identifies the question in caches */
  readonly certId: Buffer;
}

export type OcspVerdict =
  | {
    readonly ok: true;
    readonly status: 'good' | 'revoked' | 'unknown';
    readonly thisUpdate: Date;
    /** absent: the responder always has newer information (RFC 6960 §4.2.2.1) */
    readonly nextUpdate: Date | undefined;
    readonly revokedAt?: Date;
    readonly reasonCode?: number;
    readonly signedBy: 'issuer' | 'delegated responder';
  }
  | { readonly ok: false; readonly detail: string };

export interface OcspContext {
  readonly cert: X509Certificate;
  readonly issuer: X509Certificate;
  readonly now: number;
  readonly skewMs?: number;
}

/**
 * RFC 6960 §4.1.1 CertID with SHA-1: the hash every responder supports (RFC 5019 §2.1.1), used
 * here only as an identifier, not for a signature.
 */
function certIdOf(cert: X509Certificate, issuer: X509Certificate): CertID {
  const sha1 = (data: Buffer) => new OctetString(createHash('sha1').update(data).digest());
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1, parameters: null }),
    issuerNameHash: sha1(subjectNameDer(issuer)),
    issuerKeyHash: sha1(subjectPublicKeyBits(issuer)),
    serialNumber: new Uint8Array(serialBytes(cert)).buffer,
  });
}

/** An unsigned request without nonce: answers are cached and shared (RFC 5019 §2.1). */
export function buildOcspRequest(cert: X509Certificate, issuer: X509Certificate): OcspRequest {
  const certId = certIdOf(cert, issuer);
  const request = new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId })] }) });
  return { der: Buffer.from(AsnConvert.serialize(request)), certId: Buffer.from(AsnConvert.serialize(certId)) };
}

const STATUS_NAMES: Record<number, string> = {
  1: 'malformedRequest', 2: 'internalError', 3: 'tryLater', 5: 'sigRequired', 6: 'unauthorized',
};

const fail = (detail: string): OcspVerdict => ({ ok: false, detail });

/**
 * Checks, in order (RFC 6960 §3.2 and §4.2.2.2):
 * 1. the bytes are a successful OCSPResponse carrying an id-pkix-ocsp-basic BasicOCSPResponse;
 * 2. it is signed by the issuer itself, or by a responder certificate carried in the response
 *    that the issuer signed, that holds id-kp-OCSPSigning, and that is within its validity;
 * 3. it contains a SingleResponse whose CertID is the one we asked about;
 * 4. thisUpdate is not later than now + skew, and nextUpdate (when present) has not passed;
 * 5. no critical extension we do not understand.
 * Not checked: the nonce (none is sent), producedAt, and the revocation status of a delegated
 * responder's own certificate (RFC 6960 §4.2.2.2.1 lets the CA say so with id-pkix-ocsp-nocheck).
 */
export function verifyOcspResponse(der: Uint8Array, context: OcspContext): OcspVerdict {
  try {
    return verify(der, context);
  } catch (err) {
    // The ASN.1 schema decoder throws on malformed input anywhere inside the structure.
    return fail(`is not a well-formed OCSP response (${(err as Error).message.slice(0, 120)})`);
  }
}

function verify(der: Uint8Array, { cert, issuer, now, skewMs = DEFAULT_SKEW_MS }: OcspContext): OcspVerdict {
  const response = AsnConvert.parse(der, OCSPResponse);
  if (response.responseStatus !== OCSPResponseStatus.successful) {
    return fail(`responder answered ${STATUS_NAMES[response.responseStatus] ?? `status ${response.responseStatus}`} instead of a status`);
  }
  if (response.responseBytes?.responseType !== id_pkix_ocsp_basic) return fail('carries no basic OCSP response (id-pkix-ocsp-basic)');
  const basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  if (basic.tbsResponseDataRaw === undefined) return fail('has no signed response data');

  const signer = signerOf(basic, issuer, now);
  if (!signer.ok) return signer;

  const data = basic.tbsResponseData;
  const critical = unhandledCritical(data.responseExtensions);
  if (critical) return fail(`carries the unhandled critical extension ${critical}`);

  const wanted = Buffer.from(AsnConvert.serialize(certIdOf(cert, issuer)));
  const single = data.responses.find((r) => Buffer.from(AsnConvert.serialize(r.certID)).equals(wanted));
  if (single === undefined) return fail(`does not answer for serial ${cert.serialNumber} of ${describeCert(issuer)}`);
  const singleCritical = unhandledCritical(single.singleExtensions);
  if (singleCritical) return fail(`carries the unhandled critical extension ${singleCritical}`);

  if (single.thisUpdate.getTime() > now + skewMs) return fail(`thisUpdate ${single.thisUpdate.toISOString()} is in the future`);
  if (single.nextUpdate !== undefined && single.nextUpdate.getTime() < now) {
    return fail(`is stale: nextUpdate ${single.nextUpdate.toISOString()} has passed`);
  }

  const common = { ok: true as const, thisUpdate: single.thisUpdate, nextUpdate: single.nextUpdate, signedBy: signer.by };
  const status = single.certStatus;
  if (status.revoked !== undefined) {
    const reason = status.revoked.revocationReason;
    return { ...common, status: 'revoked', revokedAt: status.revoked.revocationTime, ...(reason === undefined ? {} : { reasonCode: Number(reason.reason) }) };
  }
  if (status.good !== undefined) return { ...common, status: 'good' };
  return { ...common, status: 'unknown' };
}

type Signer = { ok: true; by: 'issuer' | 'delegated responder' } | { ok: false; detail: string };

function signerOf(basic: BasicOCSPResponse, issuer: X509Certificate, now: number): Signer {
  const signed = basic.tbsResponseDataRaw!;
  const tryKey = (key: KeyObject) => verifySignature(basic.signatureAlgorithm, signed, basic.signature, key);

  const byIssuer = tryKey(issuer.publicKey);
  if (byIssuer.ok) return { ok: true, by: 'issuer' };

  // RFC 6960 §4.2.2.2: a delegated responder's certificate is issued directly by the CA and
  // carries id-kp-OCSPSigning; it travels in the response's certs field.
  const problems: string[] = [];
  for (const candidate of basic.certs ?? []) {
    let responder: X509Certificate;
    try {
      responder = new X509Certificate(Buffer.from(AsnConvert.serialize(candidate)));
    } catch {
      problems.push('an undecodable responder certificate');
      continue;
    }
    const name = describeCert(responder);
    if (!responder.checkIssued(issuer) || !responder.verify(issuer.publicKey)) {
      problems.push(`responder certificate ${name} is not issued by ${describeCert(issuer)}`);
    } else if (!(responder.keyUsage ?? []).includes(id_kp_OCSPSigning)) {
      problems.push(`responder certificate ${name} lacks id-kp-OCSPSigning`);
    } else if (responder.validFromDate.getTime() > now || responder.validToDate.getTime() < now) {
      problems.push(`responder certificate ${name} is outside its validity period`);
    } else {
      const check = tryKey(responder.publicKey);
      if (check.ok) return { ok: true, by: 'delegated responder' };
      problems.push(`response ${check.detail} with the key of responder certificate ${name}`);
    }
  }
  const why = problems.length > 0 ? `: ${problems.join('; ')}` : ` (${byIssuer.detail} with the issuer's key)`;
  return { ok: false, detail: `is signed neither by the issuer ${describeCert(issuer)} nor by a responder it delegated with id-kp-OCSPSigning${why}` };
}

function unhandledCritical(extensions: Extension[] | undefined): string | undefined {
  return extensions?.find((e) => e.critical && e.extnID !== id_pkix_ocsp_nonce)?.extnID;
}
