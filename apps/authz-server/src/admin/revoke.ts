// Revoking a client's tokens: its durable grants and refresh tokens go (SQL, inside the caller's
// transaction, next to the audit row), then the grant-bound entries in the KV store (through the
// adapters' revokeByGrantId), and a `client-revoked-before` mark makes the JWT access tokens it
// already holds inactive at introspection and at /admin/v1 until they would have expired anyway.
import type { SqlClient } from '../storage/sql.ts';
import { deleteClientGrants } from '../storage/postgres/oidc-models.ts';
import { longestAccessTokenTtl } from '../storage/postgres/resource-servers.ts';
import type { ClientRevocations } from '../storage/kv/client-revocations.ts';

export interface RevokeDeps {
  sql: SqlClient;
  clientRevocations: ClientRevocations;
  /** adapter revokeByGrantId: every grant-bound token of the grant, in every store */
  revokeGrant(grantId: string): Promise<void>;
  /** ACCESS_TOKEN_TTL: the lifetime of tokens whose resource server sets none */
  defaultAccessTokenTtl: number;
}

export type RevokedGrants = Awaited<ReturnType<typeof deleteClientGrants>>;

/** The SQL part; call inside the transaction that also writes the audit row. */
export function revokeGrantsInTransaction(tx: SqlClient, clientId: string): Promise<RevokedGrants> {
  return deleteClientGrants(tx, clientId);
}

/** After commit: KV entries of the grants, and the mark. Returns the mark (epoch seconds). */
export async function finishRevocation(deps: RevokeDeps, clientId: string, revoked: RevokedGrants): Promise<number> {
  const at = Math.floor(Date.now() / 1000);
  // A token issued now lives at most this long; 60 s covers clock tolerance at resource servers.
  const ttl = Math.max(deps.defaultAccessTokenTtl, (await longestAccessTokenTtl(deps.sql)) ?? 0) + 60;
  await deps.clientRevocations.markRevoked(clientId, at, ttl);
  for (const grantId of revoked.grantIds) await deps.revokeGrant(grantId);
  return at;
}
