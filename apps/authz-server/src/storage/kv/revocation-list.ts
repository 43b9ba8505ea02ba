// Revoked JWT access tokens by jti (RFC 7009 revocation of a self-contained token): kept only
// until the token would have expired anyway, so the list never grows past the live tokens.
import type { KvStore } from './kv.ts';

export interface RevocationList {
  /** TTL = the token's remaining lifetime, at least 1 s (an expired token is refused anyway). */
  revoke(jti: string, expEpochSeconds: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

export function createRevocationList(kv: KvStore, opts: { now?: () => number } = {}): RevocationList {
  const now = opts.now ?? Date.now;
  const key = (jti: string) => `revoked:jti:${jti}`;
  return {
    async revoke(jti, expEpochSeconds) {
      if (!Number.isFinite(expEpochSeconds)) throw new RangeError(`exp must be epoch seconds, got ${expEpochSeconds}`);
      await kv.set(key(jti), '1', Math.max(1, expEpochSeconds - now() / 1000));
    },
    async isRevoked(jti) {
      return (await kv.get(key(jti))) !== undefined;
    },
  };
}
