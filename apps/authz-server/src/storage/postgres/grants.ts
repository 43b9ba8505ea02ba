// SQL for revoking a client's durable grants: the Grant and RefreshToken rows oidc-provider keeps
// in oidc_models (index oidc_models_client_id_idx, db/migrations/0002).
import type { SqlClient } from '../sql.ts';

/**
 * Deletes the client's Grant and RefreshToken rows and returns the grant ids they belonged to,
 * so the caller can remove the grant-bound entries kept elsewhere (revokeByGrantId).
 */
export async function deleteClientGrants(tx: SqlClient, clientId: string): Promise<{ grantIds: string[]; grants: number; refreshTokens: number }> {
  const { rows } = await tx.query<{ model: string; grant_id: string | null }>(
    `delete from oidc_models
     where model in ('Grant', 'RefreshToken') and payload->>'clientId' = $1
     returning model, case when model = 'Grant' then id else payload->>'grantId' end as grant_id`,
    [clientId],
  );
  const grantIds = [...new Set(rows.flatMap((r) => (r.grant_id ? [r.grant_id] : [])))];
  return {
    grantIds,
    grants: rows.filter((r) => r.model === 'Grant').length,
    refreshTokens: rows.filter((r) => r.model === 'RefreshToken').length,
  };
}
