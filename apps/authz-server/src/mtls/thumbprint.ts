// RFC 8705 §3.1: the `x5t#S256` confirmation value is the base64url-encoded SHA-256 of the
// certificate's DER encoding — the whole certificate, not its public key. Computed by the
// verifier's x5tS256 (@certbound/cnf-verifier), the one implementation resource servers use too;
// this is the server's entry point for an X509Certificate or raw DER.
import type { X509Certificate } from 'node:crypto';
import { x5tS256 as x5tOfDer } from '@certbound/cnf-verifier';

export function x5tS256(cert: X509Certificate | Uint8Array): string {
  return x5tOfDer(cert instanceof Uint8Array ? cert : cert.raw);
}
