// The audit trail of /admin/v1: one row per change, in the transaction of the change, holding
// who (the admin's client_id and certificate thumbprint), what (action, target), the fields that
// changed (before/after) and the request id. Values pass through `auditable` first: no private
// key member, no certificate body, ever.
import { x5tS256 } from '../mtls/thumbprint.ts';
import type { SqlClient } from '../storage/sql.ts';
import { appendAudit, type AuditRow } from '../storage/postgres/audit-log.ts';
import type { AdminContext } from './context.ts';
import { PRIVATE_JWK_MEMBERS } from '../oidc/vocabulary.ts';

/** Who changed something outside a request: the first-start bootstrap. */
export const SYSTEM_ACTOR = 'certbound';

/** Private JWK members, and the other names whose values are secrets or certificate bodies. */
const PRIVATE_MEMBERS = new Set([...PRIVATE_JWK_MEMBERS, 'client_secret', 'pem']);

export type Snapshot = Record<string, unknown>;

/** A copy safe for the audit log: private members dropped, x5c reduced to thumbprints. */
export function auditable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(auditable);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (PRIVATE_MEMBERS.has(key)) continue;
    if (key === 'x5c' && Array.isArray(item)) {
      out['x5t#S256'] = item.map((der) => (typeof der === 'string' ? x5tS256(Buffer.from(der, 'base64')) : null));
      continue;
    }
    out[key] = auditable(item);
  }
  return out;
}

/** Only the top-level fields that differ; a field absent on one side is null there. */
export function changedFields(before: Snapshot | null, after: Snapshot | null): { before: Snapshot | null; after: Snapshot | null } {
  const safeBefore = before && (auditable(before) as Snapshot);
  const safeAfter = after && (auditable(after) as Snapshot);
  if (safeBefore === null || safeAfter === null) return { before: safeBefore, after: safeAfter };
  const b: Snapshot = {};
  const a: Snapshot = {};
  for (const key of new Set([...Object.keys(safeBefore), ...Object.keys(safeAfter)])) {
    if (JSON.stringify(safeBefore[key]) === JSON.stringify(safeAfter[key])) continue;
    b[key] = safeBefore[key] ?? null;
    a[key] = safeAfter[key] ?? null;
  }
  return { before: b, after: a };
}

export interface Change {
  action: string;
  target: string;
  /**
   * The client the change touches (its metadata, state or certificates): invalidated in the
   * Client adapter's cache on every instance once the request's transaction has committed.
   */
  clientId?: string;
  before: Snapshot | null;
  after: Snapshot | null;
}

/** Appends the audit row of `change` with the request's actor and id; call with the change's tx. */
export async function recordChange(tx: SqlClient, ctx: AdminContext, change: Change): Promise<AuditRow> {
  if (change.clientId !== undefined) (ctx.state.changedClients ??= new Set()).add(change.clientId);
  if (change.target.startsWith(RESOURCE_SERVER_TARGET)) {
    (ctx.state.changedResourceServers ??= new Set()).add(change.target.slice(RESOURCE_SERVER_TARGET.length));
  }
  const diff = changedFields(change.before, change.after);
  return appendAudit(tx, {
    requestId: ctx.state.requestId,
    actorClientId: ctx.state.admin?.clientId ?? SYSTEM_ACTOR,
    actorX5t: ctx.state.admin?.thumbprint ?? null,
    actorSub: ctx.state.admin?.sub ?? null,
    action: change.action,
    target: change.target,
    before: diff.before,
    after: diff.after,
  });
}

/** Appends the audit row of a change certbound made itself at start (request id `bootstrap`, actor SYSTEM_ACTOR). */
export async function recordSystemChange(tx: SqlClient, change: Omit<Change, 'clientId'>): Promise<void> {
  const diff = changedFields(change.before, change.after);
  await appendAudit(tx, {
    requestId: 'bootstrap', actorClientId: SYSTEM_ACTOR, actorX5t: null, action: change.action, target: change.target, before: diff.before, after: diff.after,
  });
}

export const targets = {
  client: (clientId: string) => `clients/${clientId}`,
  certificate: (clientId: string, x5t: string) => `clients/${clientId}/certificates/${x5t}`,
  resourceServer: (identifier: string) => `resource-servers/${identifier}`,
};

/** The target prefix of a resource server's audit rows: its cache entry is invalidated after the request. */
const RESOURCE_SERVER_TARGET = targets.resourceServer('');

export function auditEntryView(row: AuditRow) {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    request_id: row.request_id,
    actor: { client_id: row.actor_client_id, 'x5t#S256': row.actor_x5t_s256, sub: row.actor_sub },
    action: row.action,
    target: row.target,
    before: row.before,
    after: row.after,
  };
}
