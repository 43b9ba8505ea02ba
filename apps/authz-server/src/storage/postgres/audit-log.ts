// SQL for audit_log: append one row (inside the transaction of the change it records) and read
// them back, newest first. The table refuses UPDATE and DELETE (db/migrations/0002).
import type { SqlClient } from '../sql.ts';

export interface AuditInput {
  requestId: string;
  actorClientId: string;
  actorX5t: string | null;
  /** the person (token sub) for a console change (db/migrations/0007); omitted = null */
  actorSub?: string | null;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

export interface AuditRow {
  /** bigint, as text: JavaScript numbers cannot hold every int8 */
  id: string;
  at: Date;
  request_id: string;
  actor_client_id: string;
  actor_x5t_s256: string | null;
  actor_sub: string | null;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

const COLUMNS = 'id::text as id, at, request_id, actor_client_id, actor_x5t_s256, actor_sub, action, target, before, after';

export async function appendAudit(tx: SqlClient, entry: AuditInput): Promise<AuditRow> {
  const { rows } = await tx.query<AuditRow>(
    `insert into audit_log (request_id, actor_client_id, actor_x5t_s256, action, target, before, after, actor_sub)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)
     returning ${COLUMNS}`,
    [
      entry.requestId,
      entry.actorClientId,
      entry.actorX5t,
      entry.action,
      entry.target,
      entry.before === undefined || entry.before === null ? null : JSON.stringify(entry.before),
      entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
      entry.actorSub ?? null,
    ],
  );
  return rows[0];
}

export interface AuditFilter {
  /** this target and everything under it ('clients/x' also matches 'clients/x/certificates/...') */
  target?: string | undefined;
  /** the admin's client_id, certificate thumbprint or (console) person's sub */
  actor?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** rows older than this id (the cursor) */
  beforeId?: string | undefined;
  limit: number;
}

export async function listAudit(sql: SqlClient, filter: AuditFilter): Promise<AuditRow[]> {
  const { rows } = await sql.query<AuditRow>(
    `select ${COLUMNS} from audit_log
     where ($1::text is null or target = $1 or starts_with(target, $1 || '/'))
       and ($2::text is null or actor_client_id = $2 or actor_x5t_s256 = $2 or actor_sub = $2)
       and ($3::timestamptz is null or at >= $3)
       and ($4::timestamptz is null or at < $4)
       and ($5::bigint is null or id < $5::bigint)
     order by audit_log.id desc
     limit $6`,
    [filter.target ?? null, filter.actor ?? null, filter.since ?? null, filter.until ?? null, filter.beforeId ?? null, filter.limit],
  );
  return rows;
}
