import { createHash, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

/** RFC 8705 §3.1 `x5t#S256`: base64url(SHA-256(DER of the certificate)). */
export function x5tS256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** RFC 7638 JWK thumbprint with SHA-256, as used by RFC 9449 `cnf.jkt`. */
export function jwkThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

/** Constant-time equality of two strings (thumbprints, hashes, nonces); false when the byte lengths differ. */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
