// Where a certificate says its revocation status is published: the HTTP URIs of its CRL
// Distribution Points (RFC 5280 §4.2.1.13, fullName only) and of its AIA id-ad-ocsp access
// descriptions (RFC 5280 §4.2.2.1). Read only from certificates whose chain has validated.
import type { X509Certificate } from 'node:crypto';
import { fieldsOf } from '../parsing.ts';

export interface RevocationUrls {
  readonly ocspUrls: readonly string[];
  readonly crlDistributionPoints: readonly string[];
}

/** Throws CertificateParseError for a certificate parsing.ts cannot read (the checker answers unknown). */
export function revocationUrls(cert: X509Certificate): RevocationUrls {
  const { ocspUrls, crlDistributionPoints } = fieldsOf(cert);
  return { ocspUrls, crlDistributionPoints };
}
