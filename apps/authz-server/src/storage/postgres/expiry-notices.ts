// SQL for expiry_notices: the claim rows that make each certificate expiry notice happen once per
// certificate per threshold across every instance, and the webhook delivery state kept on them.
import type { SqlClient } from '../sql.ts';

export type NoticeKind = 'client' | 'server' | 'trust_anchor';

export interface NoticeKey {
  /** '' for the server certificate and trust anchors */
  client_id: string;
  x5t_s256: string;
  /** days; 0 = the certificate has expired */
  threshold: number;
}

export interface NoticeClaim extends NoticeKey {
  kind: NoticeKind;
  not_after: Date;
  payload: Record<string, unknown>;
}

export interface NoticeRow extends NoticeClaim {
  claimed_at: Date;
  lease_until: Date;
  attempts: number;
  delivered_at: Date | null;
  last_error: string | null;
}

const COLUMNS = 'client_id, x5t_s256, threshold, kind, not_after, payload, claimed_at, lease_until, attempts, delivered_at, last_error';

/**
 * Inserts a claim for each notice not claimed before, in one statement; returns the claims this
 * call inserted (another instance's concurrent insert of the same key wins or loses atomically).
 * `delivered` = true records the notice as done at once (no webhook: the log line is the notice);
 * otherwise the claimer holds the delivery until `leaseUntil`.
 */
export async function claimNotices(
  sql: SqlClient,
  claims: readonly NoticeClaim[],
  opts: { at: Date; leaseUntil: Date; delivered: boolean },
): Promise<NoticeRow[]> {
  if (claims.length === 0) return [];
  const { rows } = await sql.query<NoticeRow>(
    `insert into expiry_notices (client_id, x5t_s256, threshold, kind, not_after, payload, claimed_at, lease_until, delivered_at)
     select c.client_id, c.x5t_s256, c.threshold, c.kind, c.not_after, c.payload, $7, $8, case when $9::boolean then $7::timestamptz end
     from unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::jsonb[])
       as c(client_id, x5t_s256, threshold, kind, not_after, payload)
     on conflict (client_id, x5t_s256, threshold) do nothing
     returning ${COLUMNS}`,
    [
      claims.map((c) => c.client_id),
      claims.map((c) => c.x5t_s256),
      claims.map((c) => c.threshold),
      claims.map((c) => c.kind),
      claims.map((c) => c.not_after),
      claims.map((c) => JSON.stringify(c.payload)),
      opts.at,
      opts.leaseUntil,
      opts.delivered,
    ],
  );
  return rows;
}

/**
 * Takes over up to `limit` undelivered notices whose lease ran out (a failed delivery, or an
 * instance that stopped mid-delivery), leasing them to the caller until `leaseUntil`. Rows another
 * instance is taking at the same moment are skipped, not waited for.
 */
export async function leasePendingNotices(sql: SqlClient, opts: { at: Date; leaseUntil: Date; limit: number }): Promise<NoticeRow[]> {
  const { rows } = await sql.query<NoticeRow>(
    `update expiry_notices n set lease_until = $2
     from (select client_id, x5t_s256, threshold from expiry_notices
           where delivered_at is null and lease_until <= $1
           order by lease_until, claimed_at
           limit $3
           for update skip locked) p
     where n.client_id = p.client_id and n.x5t_s256 = p.x5t_s256 and n.threshold = p.threshold
     returning ${COLUMNS.split(', ').map((c) => `n.${c}`).join(', ')}`,
    [opts.at, opts.leaseUntil, opts.limit],
  );
  return rows;
}

/** Marks a notice delivered; false when it already was (it is never marked twice). */
export async function markNoticeDelivered(sql: SqlClient, key: NoticeKey, at: Date, attempts: number): Promise<boolean> {
  const { rowCount } = await sql.query(
    `update expiry_notices set delivered_at = $4, attempts = attempts + $5, last_error = null
     where client_id = $1 and x5t_s256 = $2 and threshold = $3 and delivered_at is null`,
    [key.client_id, key.x5t_s256, key.threshold, at, attempts],
  );
  return rowCount === 1;
}

/** Records a failed delivery round; the notice becomes available to any instance at `retryAt`. */
export async function markNoticeFailed(sql: SqlClient, key: NoticeKey, opts: { retryAt: Date; attempts: number; error: string }): Promise<void> {
  await sql.query(
    `update expiry_notices set lease_until = $4, attempts = attempts + $5, last_error = $6
     where client_id = $1 and x5t_s256 = $2 and threshold = $3 and delivered_at is null`,
    [key.client_id, key.x5t_s256, key.threshold, opts.retryAt, opts.attempts, opts.error.slice(0, 500)],
  );
}

/** Every notice of a certificate (tests and the admin's questions), lowest threshold first. */
export async function listNotices(sql: SqlClient, filter: { x5t?: string } = {}): Promise<NoticeRow[]> {
  const { rows } = await sql.query<NoticeRow>(
    `select ${COLUMNS} from expiry_notices where ($1::text is null or x5t_s256 = $1)
     order by x5t_s256 collate "C", client_id collate "C", threshold`,
    [filter.x5t ?? null],
  );
  return rows;
}

/** Gives undelivered notices back without an attempt: any instance may take them from `retryAt`. */
export async function releaseNotices(sql: SqlClient, keys: readonly NoticeKey[], retryAt: Date): Promise<void> {
  if (keys.length === 0) return;
  await sql.query(
    `update expiry_notices n set lease_until = $4
     from unnest($1::text[], $2::text[], $3::int[]) as k(client_id, x5t_s256, threshold)
     where n.client_id = k.client_id and n.x5t_s256 = k.x5t_s256 and n.threshold = k.threshold and n.delivered_at is null`,
    [keys.map((k) => k.client_id), keys.map((k) => k.x5t_s256), keys.map((k) => k.threshold), retryAt],
  );
}
