// The public keys certbound accepts in a client certificate, and the words every refusal of one
// uses: path validation (every certificate of a chain, at the token endpoint and in /admin/v1
// uploads) and the certificates self-signed clients register (admin/certificates.ts).
import type { X509Certificate } from 'node:crypto';

/** RSA moduli below this are never accepted (NIST SP 800-131A); CLIENT_CERT_MIN_RSA_BITS only raises it. */
export const MIN_RSA_BITS = 2048;

const STRONG_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const CURVES = 'P-256, P-384, P-521 and Ed25519';

/** How a refusal names a key type (Node's asymmetricKeyType, as its standards write it). */
const TYPE_NAMES: Record<string, string> = {
  rsa: 'RSA', 'rsa-pss': 'RSA-PSS', dsa: 'DSA', dh: 'DH', ec: 'EC', ed25519: 'Ed25519', ed448: 'Ed448', x25519: 'X25519', x448: 'X448',
};

export function keyTypeName(type: string | undefined): string {
  return type === undefined ? 'of an unknown type' : TYPE_NAMES[type] ?? type.toUpperCase();
}

/** "RSA (at least 2048 bits), P-256, P-384, P-521 and Ed25519 are accepted" */
export function acceptedKeys(minRsaBits: number): string {
  return `RSA (at least ${minRsaBits} bits), ${CURVES} are accepted`;
}

/** Why the certificate's key is too weak or of a type not accepted ("is RSA with 1024 bits; …"), or undefined. */
export function keyWeakness(cert: X509Certificate, minRsaBits: number): string | undefined {
  let key;
  try {
    key = cert.publicKey;
  } catch {
    return `is of a type certbound cannot read; ${acceptedKeys(minRsaBits)}`;
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    return bits >= minRsaBits ? undefined : `is RSA with ${bits} bits; at least ${minRsaBits} bits are required`;
  }
  if (type === 'ec') return details.namedCurve && STRONG_CURVES[details.namedCurve] ? undefined : `uses the curve ${details.namedCurve ?? '(unnamed)'}; only ${CURVES} are accepted`;
  if (type === 'ed25519') return undefined;
  return `is ${keyTypeName(type)}; ${acceptedKeys(minRsaBits)}`;
}
