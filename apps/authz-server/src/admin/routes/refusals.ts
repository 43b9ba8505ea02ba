// GET /admin/v1/refusals: the OAuth refusals the refusal reporter recorded lately
// (storage/kv/recent-refusals.ts), newest first — for one client (its own capped list) or for
// every client — with a count per reason over the window returned, so the console can say which
// partner's handshakes fail and why.
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { invalidRequest } from '../errors.ts';
import { limitOf, queryOf, timeOf } from '../query.ts';
import { isClientId } from '../client-metadata.ts';
import { GLOBAL, KEEP_SECONDS, PER_CLIENT, type RefusalRecord } from '../../storage/kv/recent-refusals.ts';
import { AUTH, statuses } from './statuses.ts';

export const REFUSALS_DEFAULT_LIMIT = 100;
/** The window `since` defaults to. */
export const DEFAULT_WINDOW_MS = 3_600_000;

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
    if (clientId !== undefined && !isClientId(clientId)) throw invalidRequest('client_id', 'must be a client_id: 1 to 255 printable ASCII characters');
    const now = Date.now();
    const since = timeOf('since', query.since) ?? new Date(now - DEFAULT_WINDOW_MS);
    // A client's list holds at most PER_CLIENT: a larger limit is cut to it.
    const limit = Math.min(limitOf(query.limit, { fallback: REFUSALS_DEFAULT_LIMIT, max: GLOBAL }), clientId === undefined ? GLOBAL : PER_CLIENT);
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
