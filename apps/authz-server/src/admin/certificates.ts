// Client certificates as the admin API receives and shows them: PEM in (a certificate, maybe
// followed by its intermediates; never a private key), a description out (thumbprint, subject,
// SANs, issuer, serial, validity), and the RFC 7517 JWK a self-signed client registers it as.
import { X509Certificate } from 'node:crypto';
import { CertificateParseError, fieldsOf } from '../mtls/parsing.ts';
import { issuerDnOf, subjectDnOf } from '../mtls/subject-dn.ts';
import { sansOf } from '../mtls/san.ts';
import { x5tS256 } from '../mtls/thumbprint.ts';
import { acceptedKeys, keyWeakness, MIN_RSA_BITS } from '../mtls/key-strength.ts';
import type { CertificateInput, CertificateRow } from '../storage/postgres/client-certificates.ts';
import { invalidRequest, type AdminError } from './errors.ts';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const MAX_BLOCKS = 10;

export interface ParsedPem {
  leaf: X509Certificate;
  /** certificates after the first: intermediates offered for path validation, not stored */
  intermediates: X509Certificate[];
}

/**
 * The certificate (and intermediates) in a PEM text. A private key anywhere in it is refused
 * without being parsed, stored, logged or repeated.
 */
export function parseCertificatePem(text: string, field = 'pem'): ParsedPem {
  if (PRIVATE_KEY.test(text)) {
    throw invalidRequest(field, 'contains a private key; send the certificate only (the key was discarded, not stored)');
  }
  const certificates: X509Certificate[] = [];
  let block = 0;
  for (const match of text.matchAll(PEM_BLOCK)) {
    block++;
    if (block > MAX_BLOCKS) throw invalidRequest(field, `more than ${MAX_BLOCKS} PEM blocks`);
    if (match[1] !== 'CERTIFICATE') throw invalidRequest(field, `PEM block ${block} is a ${match[1]}, not a CERTIFICATE`);
    try {
      const cert = new X509Certificate(match[0]);
      fieldsOf(cert); // our own DER reading must succeed too (subject, SANs)
      certificates.push(cert);
    } catch (error) {
      // CertificateParseError says which part is unreadable and why; OpenSSL's own errors do not help
      const why = error instanceof CertificateParseError ? ` (${error.message})` : '';
      throw invalidRequest(field, `PEM block ${block} is not a readable X.509 certificate${why}`);
    }
  }
  if (certificates.length === 0) throw invalidRequest(field, 'no PEM certificate found (expected -----BEGIN CERTIFICATE-----)');
  return { leaf: certificates[0], intermediates: certificates.slice(1) };
}

/** The row stored for a client certificate. */
export function certificateRow(clientId: string, cert: X509Certificate): CertificateInput {
  return {
    client_id: clientId,
    x5t_s256: x5tS256(cert),
    pem: cert.toString(),
    subject: subjectDnOf(cert),
    issuer: issuerDnOf(cert),
    sans: sansOf(cert),
    serial: cert.serialNumber,
    not_before: cert.validFromDate,
    not_after: cert.validToDate,
  };
}

export interface CertificateView {
  client_id: string;
  'x5t#S256': string;
  subject: string | null;
  issuer: string | null;
  sans: CertificateRow['sans'];
  serial: string | null;
  not_before: string | null;
  not_after: string | null;
  status: 'active' | 'retired';
  created_at: string;
  retired_at: string | null;
}

const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());

/** What GET returns and the audit log records: everything but the PEM. */
export function certificateView(row: CertificateRow): CertificateView {
  return {
    client_id: row.client_id,
    'x5t#S256': row.x5t_s256,
    subject: row.subject,
    issuer: row.issuer,
    sans: row.sans,
    serial: row.serial,
    not_before: iso(row.not_before),
    not_after: iso(row.not_after),
    status: row.status,
    created_at: iso(row.created_at)!,
    retired_at: iso(row.retired_at),
  };
}

/**
 * Why `cert` cannot be a self_signed_tls_client_auth client's key, or undefined: the key rule of
 * path validation (mtls/key-strength.ts), and a key a JWK can carry. Checked before
 * certificateJwk, which would throw on a key Node cannot export as a JWK.
 */
export function selfSignedKeyProblem(cert: X509Certificate, minRsaBits = MIN_RSA_BITS): string | undefined {
  const weakness = keyWeakness(cert, minRsaBits);
  if (weakness !== undefined) return `certificate public key ${weakness}`;
  // RFC 7518 §6.3 RSA keys are rsaEncryption keys; an id-RSASSA-PSS key (RFC 4055) has no JWK form.
  if (cert.publicKey.asymmetricKeyType === 'rsa-pss') {
    return `certificate public key is RSA-PSS (id-RSASSA-PSS), which has no JWK form (RFC 7518 §6.3); ${acceptedKeys(minRsaBits)}`;
  }
  return undefined;
}

/** RFC 7517 §4.7: the public key of `cert` with the certificate itself in x5c (DER, base64). */
export function certificateJwk(cert: X509Certificate): Record<string, unknown> {
  return { ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')] };
}

/** The certificate in a JWK's x5c[0], or a 400 naming the key. */
export function certificateOfJwk(
  jwk: Record<string, unknown>,
  field: string,
  fail: (field: string, problem: string) => AdminError = invalidRequest,
  minRsaBits = MIN_RSA_BITS,
): X509Certificate {
  const x5c = jwk.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string') {
    throw fail(`${field}.x5c`, 'self_signed_tls_client_auth keys carry their certificate in x5c (RFC 7517 §4.7)');
  }
  let cert: X509Certificate;
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(x5c[0])) throw new Error('not base64');
    cert = new X509Certificate(Buffer.from(x5c[0], 'base64'));
    fieldsOf(cert);
  } catch {
    throw fail(`${field}.x5c[0]`, 'is not a base64 DER X.509 certificate');
  }
  const problem = selfSignedKeyProblem(cert, minRsaBits);
  if (problem !== undefined) throw fail(`${field}.x5c[0]`, problem);
  const own = certificateJwk(cert);
  for (const [member, value] of Object.entries(own)) {
    if (member !== 'x5c' && jwk[member] !== undefined && jwk[member] !== value) {
      throw fail(`${field}.${member}`, 'does not match the public key of the certificate in x5c');
    }
  }
  return cert;
}
