// GET /admin/v1/status: the console's overview in one answer — how many clients and
// certificates, how many expire within 7 and 30 days, the refusals of the last hour by reason
// (storage/kv/recent-refusals.ts), and how the revocation responders this instance asked have
// been answering (mtls/revocation/health.ts).
import { countClients } from '../../storage/postgres/clients.ts';
import { countCertificates } from '../../storage/postgres/client-certificates.ts';
import { GLOBAL } from '../../storage/kv/recent-refusals.ts';
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { queryOf } from '../query.ts';
import { countByReason, DEFAULT_WINDOW_MS } from './refusals.ts';
import { AUTH, statuses } from './statuses.ts';

export function statusRoutes(deps: RouteDeps): Route[] {
  async function getStatus(ctx: AdminContext): Promise<void> {
    queryOf(ctx, []); // no parameters: an unknown one is a 400 naming it
    const now = new Date();
    const [clients, certificates, refusals] = await Promise.all([
      countClients(deps.sql),
      countCertificates(deps.sql, now),
      deps.recentRefusals?.recent({ since: new Date(now.getTime() - DEFAULT_WINDOW_MS), limit: GLOBAL }) ?? Promise.resolve([]),
    ]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      now: now.toISOString(),
      clients: clients.total,
      disabled_clients: clients.disabled,
      certificates: certificates.active,
      expiring: { 7: certificates.within7, 30: certificates.within30 },
      expired: certificates.expired,
      refusals_last_hour: {
        total: refusals.length,
        by_reason: countByReason(refusals),
        // The global list keeps the newest GLOBAL refusals: a full list means the hour held at least that many.
        capped: refusals.length >= GLOBAL,
      },
      revocation: {
        mode: deps.revocation?.mode ?? 'off',
        responders: deps.revocationHealth?.snapshot() ?? [],
      },
    };
  }

  return [
    { method: 'GET', path: '/status', name: 'getStatus', auth: true, statuses: statuses(200, 400, AUTH), handler: getStatus },
  ];
}
