// Verifies the signature over a CRL's tbsCertList (RFC 5280 §5.1.1.3) or an OCSP response's
// tbsResponseData (RFC 6960 §4.2.1) with a key we already trust. Only the algorithms a CA or
// responder uses today are accepted; SHA-1 is refused outright (CA/Browser Forum ban on SHA-1
// signing of CRLs and OCSP responses, RFC 9155 for the reasoning).
import { verify, type KeyObject } from 'node:crypto';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';

interface Algorithm {
  readonly name: string;
  /** digest handed to crypto.verify; null for EdDSA, which hashes internally (RFC 8410 §6) */
  readonly hash: string | null;
  /** node's asymmetricKeyType the signer key must have */
  readonly keyType: string;
}

const ALGORITHMS: ReadonlyMap<string, Algorithm> = new Map([
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', hash: 'sha256', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', hash: 'sha384', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', hash: 'sha512', keyType: 'rsa' }],
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', hash: 'sha256', keyType: 'ec' }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', hash: 'sha384', keyType: 'ec' }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', hash: 'sha512', keyType: 'ec' }],
  ['1.3.101.112', { name: 'Ed25519', hash: null, keyType: 'ed25519' }],
  ['1.3.101.113', { name: 'Ed448', hash: null, keyType: 'ed448' }],
]);

const SHA1_SIGNATURES = new Set(['1.2.840.113549.1.1.5', '1.2.840.10045.4.1', '1.2.840.10040.4.3']);

export type SignatureCheck = { ok: true } | { ok: false; detail: string };

export function verifySignature(algorithm: AlgorithmIdentifier, signed: ArrayBuffer, signature: ArrayBuffer, key: KeyObject): SignatureCheck {
  const oid = algorithm.algorithm;
  if (SHA1_SIGNATURES.has(oid)) return { ok: false, detail: `is signed with SHA-1 (${oid}), which is not accepted` };
  const known = ALGORITHMS.get(oid);
  if (known === undefined) return { ok: false, detail: `is signed with an unsupported algorithm (${oid})` };
  if (key.asymmetricKeyType !== known.keyType) {
    return { ok: false, detail: `is signed with ${known.name} but the signer's key is ${key.asymmetricKeyType ?? 'not asymmetric'}` };
  }
  try {
    // ECDSA signatures in X.509 are DER (RFC 5480 §2.2 / RFC 3279 §2.2.3): node's default encoding.
    if (verify(known.hash, new Uint8Array(signed), key, new Uint8Array(signature))) return { ok: true };
  } catch {
    // A malformed signature value (e.g. bad ECDSA DER) is simply a signature that does not verify.
  }
  return { ok: false, detail: `signature (${known.name}) does not verify` };
}
