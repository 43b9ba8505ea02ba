// The decision behind a client revocation through /admin/v1: is a token issued at `iat` void
// because its client was revoked (or disabled) since? storage/kv/client-revocations.ts only keeps
// the mark (the epoch second up to which the client's tokens are void); introspection
// (oidc/structured-tokens.ts) and the admin API's own authentication ask this.
import type { ClientRevocations } from '../storage/kv/client-revocations.ts';

/**
 * True when the token was issued no later than the second its client was revoked. Whole
 * seconds: a token minted in the revocation's own second is void too (the safe side), and so is
 * one whose iat is missing or not a number.
 */
export function voidedBy(revokedBefore: number | undefined, iat: unknown): boolean {
  return revokedBefore !== undefined && (typeof iat !== 'number' || iat <= revokedBefore);
}

/** Reads the client's mark and decides (voidedBy). */
export async function voidedByClientRevocation(marks: ClientRevocations, clientId: string, iat: unknown): Promise<boolean> {
  return voidedBy(await marks.revokedBefore(clientId), iat);
}
