// RFC 8705 §3.1: the `x5t#S256` confirmation value is the base64url-encoded SHA-256 of the
// certificate's DER encoding — the whole certificate, not its public key.
import { createHash, type X509Certificate } from 'node:crypto';

export function x5tS256(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('base64url');
}
