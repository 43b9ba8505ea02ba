// "Every token this client holds that was issued up to now is void": one KV key per revoked or
// disabled client, `client-revoked-before:<client_id>` = epoch seconds. This module only keeps
// the mark; whether a given token is void is decided by its readers (oidc/client-revocation.ts).
// It lives as long as the longest access token can.
import type { KvStore } from './kv.ts';

export interface ClientRevocations {
  /** Tokens of `clientId` with iat <= `atEpochSeconds` are inactive for the next `ttlSeconds`. */
  markRevoked(clientId: string, atEpochSeconds: number, ttlSeconds: number): Promise<void>;
  /** The epoch second up to which the client's tokens are void; undefined when none is. */
  revokedBefore(clientId: string): Promise<number | undefined>;
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
  };
}
