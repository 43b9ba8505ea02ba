// What revocation checking reads from an already-validated certificate: the exact serial, the
// subject name and key an issuer's CRLs and OCSP CertIDs are matched against (RFC 5280 §5.1.2.3,
// RFC 6960 §4.1.1), and how a certificate is named in messages. Parsed once per object.
import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { fieldsOf } from '../parsing.ts';

const parsed = new WeakMap<X509Certificate, Certificate>();

/** The vetted ASN.1 decoding of a certificate node:crypto has already parsed (cannot fail in practice). */
export function asn1Of(cert: X509Certificate): Certificate {
  let value = parsed.get(cert);
  if (value === undefined) {
    value = AsnConvert.parse(cert.raw, Certificate);
    parsed.set(cert, value);
  }
  return value;
}

/** The subject Name's DER exactly as in the certificate: what issuerNameHash hashes (RFC 6960 §4.1.1). */
export function subjectNameDer(cert: X509Certificate): Buffer {
  return Buffer.from(fieldsOf(cert).subject);
}

/**
 * The subject Name re-encoded by the same ASN.1 codec that decodes a CRL's issuer, so the two
 * compare byte for byte (RFC 5280 §6.3.3 (b)(1): the CRL issuer matches the certificate issuer).
 */
export function comparableSubject(cert: X509Certificate): Buffer {
  return Buffer.from(AsnConvert.serialize(asn1Of(cert).tbsCertificate.subject));
}

/** The serialNumber INTEGER's content octets, byte for byte (RFC 5280 §4.1.2.2). */
export function serialBytes(cert: X509Certificate): Buffer {
  return Buffer.from(asn1Of(cert).tbsCertificate.serialNumber);
}

/** The subjectPublicKey BIT STRING value (issuerKeyHash, RFC 6960 §4.1.1). */
export function subjectPublicKeyBits(cert: X509Certificate): Buffer {
  return Buffer.from(asn1Of(cert).tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
}

/** Hex as node's X509Certificate.serialNumber prints it: upper case, no leading zero octets. */
export function serialHex(bytes: ArrayBuffer | Uint8Array): string {
  const hex = Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex').toUpperCase();
  return hex.replace(/^(00)+(?=.)/, '');
}

/** Comparable form of a serial from either side. */
export function serialKey(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}
