// SQL for client_certificates: the certificates a client holds (several at once, so rotations
// overlap), their status, and the ones about to expire across all clients.
import type { SqlClient } from '../sql.ts';
import { timelinePage, type TimelineQuery } from './timeline-page.ts';

export interface CertificateSans {
  dns: string[];
  ip: string[];
  uri: string[];
  email: string[];
}

export interface CertificateRow {
  client_id: string;
  /** RFC 8705 §3.1 base64url SHA-256 of the DER certificate */
  x5t_s256: string;
  pem: string;
  subject: string | null;
  issuer: string | null;
  sans: CertificateSans;
  serial: string | null;
  not_before: Date | null;
  not_after: Date | null;
  status: 'active' | 'retired';
  created_at: Date;
  retired_at: Date | null;
}

export type CertificateInput = Omit<CertificateRow, 'status' | 'created_at' | 'retired_at'>;

const COLUMNS = 'client_id, x5t_s256, pem, subject, issuer, sans, serial, not_before, not_after, status, created_at, retired_at';

export async function listClientCertificates(sql: SqlClient, clientId: string): Promise<CertificateRow[]> {
  const { rows } = await sql.query<CertificateRow>(
    `select ${COLUMNS} from client_certificates where client_id = $1 order by created_at, x5t_s256 collate "C"`,
    [clientId],
  );
  return rows;
}

export async function findClientCertificate(sql: SqlClient, clientId: string, x5t: string): Promise<CertificateRow | undefined> {
  const { rows } = await sql.query<CertificateRow>(`select ${COLUMNS} from client_certificates where client_id = $1 and x5t_s256 = $2`, [clientId, x5t]);
  return rows[0];
}

/**
 * Adds the certificate as active, or reactivates it when it was retired. undefined when it is
 * already active (nothing changes).
 */
export async function addClientCertificate(sql: SqlClient, cert: CertificateInput): Promise<CertificateRow | undefined> {
  const { rows } = await sql.query<CertificateRow>(
    `insert into client_certificates (client_id, x5t_s256, pem, subject, issuer, sans, serial, not_before, not_after)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
     on conflict (client_id, x5t_s256) do update
       set status = 'active', retired_at = null, created_at = now()
       where client_certificates.status = 'retired'
     returning ${COLUMNS}`,
    [cert.client_id, cert.x5t_s256, cert.pem, cert.subject, cert.issuer, JSON.stringify(cert.sans), cert.serial, cert.not_before, cert.not_after],
  );
  return rows[0];
}

/** Retires an active certificate; undefined when it is not active. */
export async function retireClientCertificate(sql: SqlClient, clientId: string, x5t: string): Promise<CertificateRow | undefined> {
  const { rows } = await sql.query<CertificateRow>(
    `update client_certificates set status = 'retired', retired_at = now()
     where client_id = $1 and x5t_s256 = $2 and status = 'active'
     returning ${COLUMNS}`,
    [clientId, x5t],
  );
  return rows[0];
}

/** Thumbprints of the client's active certificates: what certificate pinning accepts. */
export async function activeThumbprints(sql: SqlClient, clientId: string): Promise<string[]> {
  const { rows } = await sql.query<{ x5t_s256: string }>(
    `select x5t_s256 from client_certificates where client_id = $1 and status = 'active' order by x5t_s256 collate "C"`,
    [clientId],
  );
  return rows.map((r) => r.x5t_s256);
}

/** Position in the expiring list: (not_after, client_id, x5t_s256). */
export interface ExpiringCursor {
  notAfter: string;
  clientId: string;
  x5t: string;
}

/** Active certificates with not_after before `before` (expired ones included), soonest first. */
export async function listExpiringCertificates(
  sql: SqlClient,
  query: { before: Date; after: ExpiringCursor | undefined; limit: number },
): Promise<CertificateRow[]> {
  const after = query.after;
  const { rows } = await sql.query<CertificateRow>(
    `select ${COLUMNS} from client_certificates
     where status = 'active' and not_after is not null and not_after <= $1
       and ($2::timestamptz is null
            or (not_after, client_id collate "C", x5t_s256 collate "C") > ($2::timestamptz, $3::text collate "C", $4::text collate "C"))
     order by not_after, client_id collate "C", x5t_s256 collate "C"
     limit $5`,
    [query.before, after?.notAfter ?? null, after?.clientId ?? null, after?.x5t ?? null, query.limit],
  );
  return rows;
}

/** Every active certificate with a notAfter, across all clients: what a metrics scrape reports (ops/metrics.ts). */
export async function listActiveCertificateExpiries(sql: SqlClient): Promise<Array<{ client_id: string; x5t_s256: string; not_after: Date }>> {
  const { rows } = await sql.query<{ client_id: string; x5t_s256: string; not_after: Date }>(
    `select client_id, x5t_s256, not_after from client_certificates
     where status = 'active' and not_after is not null
     order by client_id collate "C", x5t_s256 collate "C"`,
  );
  return rows;
}

/**
 * Registered certificates with a notAfter (active and retired), soonest expiry first, after
 * `after`, at most `limit`: one of the sources of the console's certificate timeline.
 */
export async function listRegisteredOnTimeline(sql: SqlClient, query: TimelineQuery): Promise<CertificateRow[]> {
  return timelinePage<CertificateRow>(sql, { table: 'client_certificates', columns: COLUMNS }, query);
}

export interface CertificateCounts {
  /** distinct certificates in use: registered and active, or seen at authentication and not retired; not revoked, not expired */
  active: number;
  /** of those, expiring within 7 and 30 days */
  within7: number;
  within30: number;
  /** registered active or seen, not revoked, already expired */
  expired: number;
}

/**
 * The overview's certificate counts. A certificate is counted once across client_certificates
 * and seen_certificates (the same client and thumbprint), so this one query reads both, and
 * issued_certificates for revocation (an enrolled certificate is also a registered one).
 */
export async function countCertificates(sql: SqlClient, now: Date): Promise<CertificateCounts> {
  const { rows } = await sql.query<Record<'active' | 'within7' | 'within30' | 'expired', string | number>>(
    `with certificates as (
       select client_id, x5t_s256, not_after from client_certificates where status = 'active' and not_after is not null
       union
       select s.client_id, s.x5t_s256, s.not_after from seen_certificates s
       where not exists (select 1 from client_certificates c
                         where c.client_id = s.client_id and c.x5t_s256 = s.x5t_s256 and c.status = 'retired')
     ), live as (
       select c.* from certificates c
       where not exists (select 1 from issued_certificates i
                         where i.client_id = c.client_id and i.x5t_s256 = c.x5t_s256 and i.revoked_at is not null)
     )
     select count(*) filter (where not_after > $1) as active,
            count(*) filter (where not_after > $1 and not_after <= $2) as within7,
            count(*) filter (where not_after > $1 and not_after <= $3) as within30,
            count(*) filter (where not_after <= $1) as expired
     from live`,
    [now, new Date(now.getTime() + 7 * 86_400_000), new Date(now.getTime() + 30 * 86_400_000)],
  );
  const row = rows[0];
  return { active: Number(row?.active ?? 0), within7: Number(row?.within7 ?? 0), within30: Number(row?.within30 ?? 0), expired: Number(row?.expired ?? 0) };
}
