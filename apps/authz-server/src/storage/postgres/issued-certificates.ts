// SQL for issued_certificates: the issuing CA's record of every certificate it signed (EST
// enrollment and re-enrollment), their revocation, and the revoked ones the CRL lists.
import type { SqlClient } from '../sql.ts';
import { timelinePage, type TimelineQuery } from './timeline-page.ts';

export interface IssuedCertificateRow {
  /** hex, upper case */
  serial: string;
  client_id: string;
  x5t_s256: string;
  issuer_x5t_s256: string;
  not_before: Date;
  not_after: Date;
  issued_by: 'enroll' | 'reenroll';
  previous_x5t_s256: string | null;
  revoked_at: Date | null;
  revocation_reason: string | null;
  created_at: Date;
}

export type IssuedCertificateInput = Omit<IssuedCertificateRow, 'revoked_at' | 'revocation_reason' | 'created_at'>;

const COLUMNS = 'serial, client_id, x5t_s256, issuer_x5t_s256, not_before, not_after, issued_by, previous_x5t_s256, revoked_at, revocation_reason, created_at';

export async function recordIssuedCertificate(sql: SqlClient, row: IssuedCertificateInput): Promise<IssuedCertificateRow> {
  const { rows } = await sql.query<IssuedCertificateRow>(
    `insert into issued_certificates (serial, client_id, x5t_s256, issuer_x5t_s256, not_before, not_after, issued_by, previous_x5t_s256)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     returning ${COLUMNS}`,
    [row.serial, row.client_id, row.x5t_s256, row.issuer_x5t_s256, row.not_before, row.not_after, row.issued_by, row.previous_x5t_s256],
  );
  return rows[0];
}

/** The record of the certificate with this thumbprint, whoever it was issued to. */
export async function findIssuedByThumbprint(sql: SqlClient, x5t: string): Promise<IssuedCertificateRow | undefined> {
  const { rows } = await sql.query<IssuedCertificateRow>(`select ${COLUMNS} from issued_certificates where x5t_s256 = $1`, [x5t]);
  return rows[0];
}

export async function listIssuedForClient(sql: SqlClient, clientId: string): Promise<IssuedCertificateRow[]> {
  const { rows } = await sql.query<IssuedCertificateRow>(
    `select ${COLUMNS} from issued_certificates where client_id = $1 order by created_at, serial collate "C"`,
    [clientId],
  );
  return rows;
}

/** Marks it revoked; undefined when it is not the client's or was already revoked (the row is left as it was). */
export async function revokeIssuedCertificate(sql: SqlClient, clientId: string, x5t: string, reason: string): Promise<IssuedCertificateRow | undefined> {
  const { rows } = await sql.query<IssuedCertificateRow>(
    `update issued_certificates set revoked_at = now(), revocation_reason = $3
     where client_id = $1 and x5t_s256 = $2 and revoked_at is null
     returning ${COLUMNS}`,
    [clientId, x5t, reason],
  );
  return rows[0];
}

/** What the CRL of the issuing CA `issuerX5t` lists: its revoked certificates not yet expired. */
export async function listRevokedUnexpired(sql: SqlClient, issuerX5t: string): Promise<Array<Pick<IssuedCertificateRow, 'serial' | 'revoked_at' | 'revocation_reason' | 'not_after'>>> {
  const { rows } = await sql.query<Pick<IssuedCertificateRow, 'serial' | 'revoked_at' | 'revocation_reason' | 'not_after'>>(
    `select serial, revoked_at, revocation_reason, not_after from issued_certificates
     where issuer_x5t_s256 = $1 and revoked_at is not null and not_after > now()
     order by revoked_at, serial collate "C"`,
    [issuerX5t],
  );
  return rows;
}

/**
 * Issued certificates, soonest expiry first, after the position (not_after, client_id,
 * x5t_s256), at most `limit`: one of the sources of the console's certificate timeline.
 */
export async function listIssuedOnTimeline(sql: SqlClient, query: TimelineQuery): Promise<IssuedCertificateRow[]> {
  return timelinePage<IssuedCertificateRow>(sql, { table: 'issued_certificates', columns: COLUMNS }, query);
}
