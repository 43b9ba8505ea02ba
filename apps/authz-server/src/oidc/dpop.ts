// RFC 9449 DPoP at certbound's own endpoints (token, PAR, userinfo). oidc-provider validates the
// proofs (features.dPoP); this file supplies what a multi-instance deployment needs from us:
// - server nonces from a secret every instance derives alike from the key-encryption key, so a
//   nonce handed out by one instance is accepted by the next (RFC 9449 §8);
// - a replayed proof refused as RFC 9449 §5 says, `invalid_dpop_proof` (the detection itself is
//   atomic across instances, RFC 9449 §11.1: oidc/engine-patches.ts).
import { decodeJwt } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { deriveKey } from '../keys/derive.ts';
import { DpopProofReplayed } from './errors.ts';

/**
 * The 32-byte DPoP nonce secret, derived with HKDF from the key-encryption key (as the cookie
 * keys are in main.ts): every instance sharing KEY_ENCRYPTION_KEY issues and accepts the same
 * nonces, and nothing new has to be configured or rotated separately.
 */
export function dpopNonceSecret(kek: Buffer): Buffer {
  return deriveKey(kek, 'dpop-nonce-v1');
}

export function dpopFeature(nonceSecret: Buffer) {
  return {
    enabled: true,
    nonceSecret,
    // RFC 9449 §8: a server nonce bounds how long a pre-generated proof is useful. Required at
    // every endpoint of this server that accepts a proof; the first request of a client gets
    // 400 use_dpop_nonce with a DPoP-Nonce header, and the retry succeeds.
    requireNonce: () => true,
    allowReplay: false,
  };
}

/**
 * Called by the atomic replay detection (oidc/engine-patches.ts) when a `jti` was seen before.
 * When it is the `jti` of this request's DPoP proof, the proof is refused in certbound's words
 * with RFC 9449 §5's code, before oidc-provider could refuse it with a grant-specific one; the
 * status stays the endpoint's (401 where an access token is presented, else 400). A replayed
 * client assertion is left to oidc-provider's client authentication.
 */
export function refuseReplayedProof(ctx: KoaContextWithOIDC | undefined, jti: string): void {
  const proof = ctx?.get('dpop');
  if (!ctx || !proof) return;
  let proofJti: unknown;
  try {
    proofJti = decodeJwt(proof).jti; // oidc-provider has verified this proof before asking
  } catch {
    return;
  }
  if (proofJti === jti) throw new DpopProofReplayed(ctx.oidc.route === 'userinfo' ? 401 : 400);
}
