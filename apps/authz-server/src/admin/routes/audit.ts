// GET /admin/v1/audit: the audit trail, newest first, filtered by target (and what lies under
// it), actor (client_id, certificate thumbprint or a console person's sub) and time.
import { listAudit } from '../../storage/postgres/audit-log.ts';
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { invalidRequest } from '../errors.ts';
import { decodeCursor, limitOf, page, queryOf, timeOf } from '../query.ts';
import { auditEntryView } from '../audit.ts';
import { AUTH, statuses } from './statuses.ts';

export function auditRoutes(deps: RouteDeps): Route[] {
  async function listAuditEntries(ctx: AdminContext): Promise<void> {
    const query = queryOf(ctx, ['target', 'actor', 'since', 'until', 'limit', 'cursor']);
    const limit = limitOf(query.limit);
    const cursor = decodeCursor(query.cursor, 1)?.[0];
    if (cursor !== undefined && !/^\d{1,19}$/.test(cursor)) throw invalidRequest('cursor', 'is not a cursor this API returned');
    const rows = await listAudit(deps.sql, {
      target: query.target,
      actor: query.actor,
      since: timeOf('since', query.since),
      until: timeOf('until', query.until),
      beforeId: cursor,
      limit: limit + 1,
    });
    const result = page(rows, limit, (row) => [row.id]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: result.rows.map(auditEntryView), next_cursor: result.nextCursor };
  }

  return [
    { method: 'GET', path: '/audit', name: 'listAuditEntries', auth: true, statuses: statuses(200, 400, AUTH), handler: listAuditEntries },
  ];
}
