// SQL for oidc_models, the generic table of oidc-provider's durable models: what
// postgres/oidc-adapter.ts reads and writes, the sweep's delete of expired rows, and the admin
// API's removal of a revoked client's grants. An expired row is never returned
// (expires_at > now()), whether or not the sweep has run yet; consumed_at is reported back as
// payload.consumed in epoch seconds.
import type { AdapterPayload } from 'oidc-provider';
import type { SqlClient } from '../sql.ts';
import { GRANT_BOUND_MODELS, epochSeconds } from '../model-routing.ts';

const LIVE = '(expires_at is null or expires_at > now())';

const PAYLOAD = `case when consumed_at is null then payload
  else payload || jsonb_build_object('consumed', floor(extract(epoch from consumed_at))::bigint) end as payload`;

interface PayloadRow {
  payload: AdapterPayload;
}

export async function upsertModel(
  sql: SqlClient,
  model: string,
  id: string,
  payload: AdapterPayload,
  expiresIn: number | undefined,
): Promise<void> {
  const consumed: unknown = payload.consumed;
  const consumedAt = typeof consumed === 'number' ? consumed : consumed ? epochSeconds() : null;
  const ttl = typeof expiresIn === 'number' && Number.isFinite(expiresIn) ? expiresIn : null;
  await sql.query(
    `insert into oidc_models (model, id, payload, expires_at, consumed_at)
     values ($1, $2, $3::jsonb,
             case when $4::double precision is null then null else now() + $4::double precision * interval '1 second' end,
             to_timestamp($5::double precision))
     on conflict (model, id) do update
       set payload = excluded.payload, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
    [model, id, JSON.stringify(payload), ttl, consumedAt],
  );
}

export async function findModel(sql: SqlClient, model: string, id: string): Promise<AdapterPayload | undefined> {
  const { rows } = await sql.query<PayloadRow>(
    `select ${PAYLOAD} from oidc_models where model = $1 and id = $2 and ${LIVE}`,
    [model, id],
  );
  return rows[0]?.payload;
}

export async function findModelByUid(sql: SqlClient, model: string, uid: string): Promise<AdapterPayload | undefined> {
  const { rows } = await sql.query<PayloadRow>(
    `select ${PAYLOAD} from oidc_models where model = $1 and payload->>'uid' = $2 and ${LIVE} limit 1`,
    [model, uid],
  );
  return rows[0]?.payload;
}

export async function findModelByUserCode(
  sql: SqlClient,
  model: string,
  userCode: string,
): Promise<AdapterPayload | undefined> {
  const { rows } = await sql.query<PayloadRow>(
    `select ${PAYLOAD} from oidc_models where model = $1 and payload->>'userCode' = $2 and ${LIVE} limit 1`,
    [model, userCode],
  );
  return rows[0]?.payload;
}

/** The first consumption wins: a second consume keeps the original time. */
export async function consumeModel(sql: SqlClient, model: string, id: string): Promise<void> {
  await sql.query(
    `update oidc_models set consumed_at = coalesce(consumed_at, now()) where model = $1 and id = $2 and ${LIVE}`,
    [model, id],
  );
}

export async function destroyModel(sql: SqlClient, model: string, id: string): Promise<void> {
  await sql.query('delete from oidc_models where model = $1 and id = $2', [model, id]);
}

/** Deletes every grant-bound token of `grantId` in PostgreSQL (uses the partial grantId index). */
export async function revokeGrantInSql(sql: SqlClient, grantId: string): Promise<void> {
  await sql.query(`delete from oidc_models where payload->>'grantId' = $1 and model = any($2::text[])`, [
    grantId,
    GRANT_BOUND_MODELS,
  ]);
}

/** Deletes rows that expired before now; returns how many. For a periodic cleanup job. */
export async function deleteExpiredModels(sql: SqlClient, limit = 1000): Promise<number> {
  const { rowCount } = await sql.query(
    `delete from oidc_models where ctid in (
       select ctid from oidc_models where expires_at <= now() limit $1)`,
    [limit],
  );
  return rowCount;
}

/**
 * Deletes the client's Grant and RefreshToken rows (index oidc_models_client_id_idx,
 * db/migrations/0002) and returns the grant ids they belonged to, so the caller can remove the
 * grant-bound entries kept elsewhere (revokeByGrantId).
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

/**
 * Deletes the client's refresh tokens bound to the certificate `x5t` (RFC 8705 §3: payload
 * x5t#S256) and returns their grant ids, for revokeByGrantId. Enrollment calls it when it revokes
 * a certificate certbound issued.
 */
export async function deleteRefreshTokensBoundTo(sql: SqlClient, clientId: string, x5t: string): Promise<string[]> {
  const { rows } = await sql.query<{ grant_id: string | null }>(
    `delete from oidc_models
     where model = 'RefreshToken' and payload->>'clientId' = $1 and payload->>'x5t#S256' = $2
     returning payload->>'grantId' as grant_id`,
    [clientId, x5t],
  );
  return [...new Set(rows.flatMap((r) => (r.grant_id ? [r.grant_id] : [])))];
}
