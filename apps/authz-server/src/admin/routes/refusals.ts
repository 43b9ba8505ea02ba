// GET /admin/v1/refusals: the OAuth refusals the refusal reporter recorded lately
// (storage/kv/recent-refusals.ts), newest first — for one client (its own capped list) or for
// every client — with a count per reason over the window returned, so the console can say which
// partner's handshakes fail and why.
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { invalidRequest } from '../errors.ts';
import { queryOf, timeOf } from '../query.ts';
import { GLOBAL, KEEP_SECONDS, PER_CLIENT, type RefusalRecord } from '../../storage/kv/recent-refusals.ts';
import { AUTH, statuses } from './statuses.ts';

export const REFUSALS_DEFAULT_LIMIT = 100;
/** The window `since` defaults to. */
export const DEFAULT_WINDOW_MS = 3_600_000;
const CLIENT_ID = /^[\x21-\x7e]{1,255}$/;

/** How many refusals of each reason `items` holds. */
export function countByReason(items: readonly Pick<RefusalRecord, 'reason'>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of items) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}

export function refusalRoutes(deps: RouteDeps): Route[] {
  async function listRefusals(ctx: AdminContext): Promise<void> {
    const query = queryOf(ctx, ['client_id', 'since', 'limit']);
    const clientId = query.client_id;
    if (clientId !== undefined && !CLIENT_ID.test(clientId)) throw invalidRequest('client_id', 'must be a client_id: 1 to 255 printable ASCII characters');
    const now = Date.now();
    const since = timeOf('since', query.since) ?? new Date(now - DEFAULT_WINDOW_MS);
    const max = clientId === undefined ? GLOBAL : PER_CLIENT;
    let limit = REFUSALS_DEFAULT_LIMIT;
    if (query.limit !== undefined) {
      if (!/^\d{1,4}$/.test(query.limit) || Number(query.limit) < 1 || Number(query.limit) > GLOBAL) {
        throw invalidRequest('limit', `must be an integer from 1 to ${GLOBAL}`);
      }
      limit = Math.min(Number(query.limit), max); // a client's list holds at most PER_CLIENT
    }
    const recent = deps.recentRefusals;
    const items = recent === undefined ? []
      : clientId === undefined ? await recent.recent({ since, limit }) : await recent.forClient(clientId, { since, limit });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      since: since.toISOString(),
      kept_seconds: KEEP_SECONDS,
      items,
      by_reason: countByReason(items),
    };
  }

  return [
    { method: 'GET', path: '/refusals', name: 'listRefusals', auth: true, statuses: statuses(200, 400, AUTH), handler: listRefusals },
  ];
}
