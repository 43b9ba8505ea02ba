// "Every token this client holds that was issued up to now is void": one KV key per revoked or
// disabled client, `client-revoked-before:<client_id>` = epoch seconds. Introspection and the
// admin API compare a token's iat against it. It lives as long as the longest access token can.
import type { KvStore } from './kv.ts';

export interface ClientRevocations {
  /** Tokens of `clientId` with iat <= `atEpochSeconds` are inactive for the next `ttlSeconds`. */
  markRevoked(clientId: string, atEpochSeconds: number, ttlSeconds: number): Promise<void>;
  /** The epoch second up to which the client's tokens are void; undefined when none is. */
  revokedBefore(clientId: string): Promise<number | undefined>;
  /** True when a token of `clientId` issued at `iat` (missing = unknown, void) is void. */
  voids(clientId: string, iat: unknown): Promise<boolean>;
}

export function createClientRevocations(kv: KvStore): ClientRevocations {
  const key = (clientId: string) => `client-revoked-before:${clientId}`;
  return {
    async markRevoked(clientId, atEpochSeconds, ttlSeconds) {
      await kv.set(key(clientId), String(Math.floor(atEpochSeconds)), Math.max(1, ttlSeconds));
    },
    async revokedBefore(clientId) {
      const value = await kv.get(key(clientId));
      return value === undefined ? undefined : Number(value);
    },
    async voids(clientId, iat) {
      const before = await this.revokedBefore(clientId);
      // Whole seconds: a token minted in the revocation's own second is void too (the safe side).
      return before !== undefined && (typeof iat !== 'number' || iat <= before);
    },
  };
}
