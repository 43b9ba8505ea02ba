// Secrets every instance derives alike from one root (the key-encryption key) instead of each
// being configured, stored and rotated on its own: cookie keys, DPoP nonces, TLS session-ticket
// keys, CSRF tokens. HKDF-SHA256 (RFC 5869) with a fixed salt; `purpose` (HKDF info) names the
// use and its version, so two uses never share a key.
import { hkdfSync } from 'node:crypto';

export function deriveKey(root: Buffer, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', root, 'certbound', purpose, length));
}
