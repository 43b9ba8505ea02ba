// RFC 9449 DPoP at certbound's own endpoints (token, PAR, userinfo). oidc-provider validates the
// proofs (features.dPoP); this file supplies what a multi-instance deployment needs from us:
// - server nonces from a secret every instance derives alike from the key-encryption key, so a
//   nonce handed out by one instance is accepted by the next (RFC 9449 §8);
// - `jti` replay detection that is atomic across instances (RFC 9449 §11.1);
// (the RFC 9449 §5 error code for a replayed proof is oidc/errors.ts's).
import { createHash } from 'node:crypto';
import { deriveKey } from '../keys/derive.ts';
import type { Provider } from 'oidc-provider';
import type { KvStore } from '../storage/kv/kv.ts';
import { kvKeys } from '../storage/kv/oidc-queries.ts';

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

interface ReplayDetectionModel {
  unique(iss: string, jti: string, exp: number): Promise<boolean>;
}

/**
 * oidc-provider's ReplayDetection.unique is find-then-save: two instances receiving the same
 * proof (or client assertion) at once could both find nothing. This replaces it with one atomic
 * `SET NX` on the KvStore (Redis when REDIS_URL is set), under the key the adapter would use,
 * so the first instance to see a `jti` wins and every other one refuses it.
 */
export function installAtomicReplayDetection(provider: Provider, kv: KvStore): void {
  const model = provider.ReplayDetection as unknown as ReplayDetectionModel;
  model.unique = async function unique(iss, jti, exp) {
    const id = createHash('sha256').update(`${iss}${jti}`).digest('base64url');
    const now = Math.floor(Date.now() / 1000);
    const payload = { jti: id, iss, kind: 'ReplayDetection', iat: now, exp };
    return kv.setIfAbsent(kvKeys.entry('ReplayDetection', id), JSON.stringify(payload), Math.max(1, exp - now) * 1000);
  };
}
