// SQL for seen_certificates: the certificates clients authenticated with, recorded so their
// expiry is noticed even when the client never registered them (tls_client_auth by subject).
import type { SqlClient } from '../sql.ts';
import { timelinePage, type TimelineQuery } from './timeline-page.ts';

export interface SeenCertificate {
  client_id: string;
  x5t_s256: string;
  subject: string | null;
  issuer: string | null;
  not_after: Date;
}

export interface SeenCertificateRow extends SeenCertificate {
  first_seen: Date;
  last_seen: Date;
}

/** Records (or refreshes last_seen of) a certificate a client authenticated with. */
export async function recordSeenCertificate(sql: SqlClient, seen: SeenCertificate, at: Date): Promise<void> {
  await sql.query(
    `insert into seen_certificates (client_id, x5t_s256, subject, issuer, not_after, first_seen, last_seen)
     values ($1, $2, $3, $4, $5, $6, $6)
     on conflict (client_id, x5t_s256) do update set last_seen = greatest(seen_certificates.last_seen, excluded.last_seen)`,
    [seen.client_id, seen.x5t_s256, seen.subject, seen.issuer, seen.not_after, at],
  );
}

/**
 * Seen certificates with not_after in [`from`, `to`], soonest first, at most `limit` after the
 * cursor (not_after, client_id, x5t_s256). A certificate the client has moved on from is left out:
 * one that expires later was seen after it was last seen (the client rotated).
 */
export async function listSeenCertificatesExpiring(
  sql: SqlClient,
  query: { from: Date; to: Date; after: { notAfter: Date; clientId: string; x5t: string } | undefined; limit: number },
): Promise<SeenCertificateRow[]> {
  const after = query.after;
  const { rows } = await sql.query<SeenCertificateRow>(
    `select client_id, x5t_s256, subject, issuer, not_after, first_seen, last_seen from seen_certificates
     where not_after >= $1 and not_after <= $2
       and not exists (select 1 from seen_certificates n
                       where n.client_id = seen_certificates.client_id and n.not_after > seen_certificates.not_after
                         and n.first_seen > seen_certificates.last_seen)
       and ($3::timestamptz is null
            or (not_after, client_id collate "C", x5t_s256 collate "C") > ($3::timestamptz, $4::text collate "C", $5::text collate "C"))
     order by not_after, client_id collate "C", x5t_s256 collate "C"
     limit $6`,
    [query.from, query.to, after?.notAfter ?? null, after?.clientId ?? null, after?.x5t ?? null, query.limit],
  );
  return rows;
}

/** Forgets certificates that expired before `before` (they can no longer authenticate); the count. */
export async function deleteSeenCertificatesExpiredBefore(sql: SqlClient, before: Date): Promise<number> {
  const { rowCount } = await sql.query('delete from seen_certificates where not_after < $1', [before]);
  return rowCount;
}

/**
 * Every seen certificate (including those a client has moved on from), soonest expiry first,
 * after the position (not_after, client_id, x5t_s256), at most `limit`: one of the sources of the
 * console's certificate timeline.
 */
export async function listSeenOnTimeline(sql: SqlClient, query: TimelineQuery): Promise<SeenCertificateRow[]> {
  return timelinePage<SeenCertificateRow>(sql, { table: 'seen_certificates', columns: 'client_id, x5t_s256, subject, issuer, not_after, first_seen, last_seen' }, query);
}
