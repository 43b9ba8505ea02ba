// Every client certificate certbound knows of, as one list for the console's timeline (GET
// /admin/v1/certificates): registered ones (client_certificates), ones the enrollment CA issued
// (issued_certificates) and ones last seen at authentication (seen_certificates), merged by
// (client_id, x5t#S256) — the same certificate has the same notAfter in every source — with
// its state decided from all three, sorted by notAfter ascending, at most `limit`.
import type { SqlClient } from '../storage/sql.ts';
import { listRegisteredOnTimeline, type CertificateRow } from '../storage/postgres/client-certificates.ts';
import type { TimelineCursor } from '../storage/postgres/timeline-page.ts';
import { listIssuedOnTimeline, type IssuedCertificateRow } from '../storage/postgres/issued-certificates.ts';
import { listSeenOnTimeline, type SeenCertificateRow } from '../storage/postgres/seen-certificates.ts';

export const CERTIFICATE_STATES = ['active', 'retired', 'revoked', 'expired'] as const;
export type CertificateState = (typeof CERTIFICATE_STATES)[number];
export type CertificateSource = 'registered' | 'issued' | 'seen';

export interface TimelineCertificate {
  client_id: string;
  'x5t#S256': string;
  subject: string | null;
  issuer: string | null;
  serial: string | null;
  not_before: string | null;
  not_after: string;
  sources: CertificateSource[];
  /** revoked (by certbound's CA) > retired (by an admin) > expired > active */
  state: CertificateState;
  retired_at: string | null;
  revoked_at: string | null;
  revocation_reason: string | null;
  first_seen_at: string | null;
  last_seen_at: string | null;
}

export interface TimelineQuery {
  clientId?: string | undefined;
  state?: CertificateState | undefined;
  limit: number;
  now: Date;
}

/** Rows read per source per round, at least. */
const BATCH = 200;
/** Rounds of reading when a state filter leaves most rows out; beyond them the answer says it is truncated. */
const MAX_ROUNDS = 10;

interface Merged {
  clientId: string;
  x5t: string;
  notAfter: Date;
  registered?: CertificateRow;
  issued?: IssuedCertificateRow;
  seen?: SeenCertificateRow;
}

const iso = (d: Date | null | undefined) => (d === null || d === undefined ? null : new Date(d).toISOString());

/** The SQL order (not_after, client_id collate "C", x5t_s256 collate "C"): byte order of the UTF-8 text. */
function compare(a: Merged, b: Merged): number {
  return a.notAfter.getTime() - b.notAfter.getTime()
    || Buffer.compare(Buffer.from(a.clientId), Buffer.from(b.clientId))
    || Buffer.compare(Buffer.from(a.x5t), Buffer.from(b.x5t));
}

export function stateOf(m: Pick<Merged, 'registered' | 'issued' | 'notAfter'>, now: Date): CertificateState {
  if (m.issued?.revoked_at) return 'revoked';
  if (m.registered?.status === 'retired') return 'retired';
  if (m.notAfter.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

function view(m: Merged, now: Date): TimelineCertificate {
  const { registered, issued, seen } = m;
  return {
    client_id: m.clientId,
    'x5t#S256': m.x5t,
    subject: registered?.subject ?? seen?.subject ?? null,
    issuer: registered?.issuer ?? seen?.issuer ?? null,
    serial: registered?.serial ?? issued?.serial ?? null,
    not_before: iso(registered?.not_before ?? issued?.not_before),
    not_after: m.notAfter.toISOString(),
    sources: [...(registered ? ['registered' as const] : []), ...(issued ? ['issued' as const] : []), ...(seen ? ['seen' as const] : [])],
    state: stateOf(m, now),
    retired_at: iso(registered?.retired_at),
    revoked_at: iso(issued?.revoked_at),
    revocation_reason: issued?.revocation_reason ?? null,
    first_seen_at: iso(seen?.first_seen),
    last_seen_at: iso(seen?.last_seen),
  };
}

/**
 * The certificates, soonest expiry first. Each round reads the next n rows of each source after
 * the last position: the first n of their union are then exactly the next n certificates (a
 * certificate in several sources has the same position in each), so nothing is missed or shown
 * twice. `truncated`: more certificates match than were returned.
 */
export async function certificateTimeline(sql: SqlClient, query: TimelineQuery): Promise<{ items: TimelineCertificate[]; truncated: boolean }> {
  const items: TimelineCertificate[] = [];
  let after: TimelineCursor | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // One more than still wanted (is there a next one?), and at least a batch: a filter may leave most out.
    const n = Math.max(query.limit - items.length + 1, BATCH);
    const page = { clientId: query.clientId, after, limit: n };
    const [registered, issued, seen] = await Promise.all([
      listRegisteredOnTimeline(sql, page), listIssuedOnTimeline(sql, page), listSeenOnTimeline(sql, page),
    ]);
    const merged = new Map<string, Merged>();
    const at = (clientId: string, x5t: string, notAfter: Date): Merged => {
      const key = `${clientId}\0${x5t}`;
      let entry = merged.get(key);
      if (entry === undefined) merged.set(key, entry = { clientId, x5t, notAfter: new Date(notAfter) });
      return entry;
    };
    for (const row of registered) at(row.client_id, row.x5t_s256, row.not_after!).registered = row;
    for (const row of issued) at(row.client_id, row.x5t_s256, row.not_after).issued = row;
    for (const row of seen) at(row.client_id, row.x5t_s256, row.not_after).seen = row;
    const next = [...merged.values()].sort(compare).slice(0, n);
    for (const m of next) {
      if (query.state !== undefined && stateOf(m, query.now) !== query.state) continue;
      if (items.length === query.limit) return { items, truncated: true };
      items.push(view(m, query.now));
    }
    if (next.length < n) return { items, truncated: false }; // every source is exhausted
    const last = next.at(-1)!;
    after = { notAfter: last.notAfter, clientId: last.clientId, x5t: last.x5t };
  }
  return { items, truncated: true };
}
