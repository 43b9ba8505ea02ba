// SQL for enrollment_codes: the one-time codes of first enrollments (EST simpleenroll), kept as
// SHA-256 hashes; each is used at most once, and a client's live codes are invalidated after too
// many wrong codes were tried for it.
import type { SqlClient } from '../sql.ts';

export interface EnrollmentCodeRow {
  code_hash: string;
  client_id: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  failures: number;
  invalidated_at: Date | null;
}

const COLUMNS = 'code_hash, client_id, created_at, expires_at, used_at, failures, invalidated_at';
const LIVE = 'used_at is null and invalidated_at is null and expires_at > now()';

export async function insertEnrollmentCode(sql: SqlClient, code: { codeHash: string; clientId: string; expiresAt: Date }): Promise<EnrollmentCodeRow> {
  const { rows } = await sql.query<EnrollmentCodeRow>(
    `insert into enrollment_codes (code_hash, client_id, expires_at) values ($1, $2, $3) returning ${COLUMNS}`,
    [code.codeHash, code.clientId, code.expiresAt],
  );
  return rows[0];
}

export async function listEnrollmentCodes(sql: SqlClient, clientId: string): Promise<EnrollmentCodeRow[]> {
  const { rows } = await sql.query<EnrollmentCodeRow>(
    `select ${COLUMNS} from enrollment_codes where client_id = $1 order by created_at desc, code_hash collate "C" limit 100`,
    [clientId],
  );
  return rows;
}

/** Is this a live code of the client? Reads only: the code is spent by consumeEnrollmentCode. */
export async function isLiveEnrollmentCode(sql: SqlClient, clientId: string, codeHash: string): Promise<boolean> {
  const { rows } = await sql.query<{ one: number }>(`select 1 as one from enrollment_codes where code_hash = $1 and client_id = $2 and ${LIVE}`, [codeHash, clientId]);
  return rows.length > 0;
}

/** Spends a live code (atomically: of two concurrent uses one wins); false when it is not live. */
export async function consumeEnrollmentCode(sql: SqlClient, clientId: string, codeHash: string): Promise<boolean> {
  const { rowCount } = await sql.query(`update enrollment_codes set used_at = now() where code_hash = $1 and client_id = $2 and ${LIVE}`, [codeHash, clientId]);
  return rowCount === 1;
}

/**
 * A wrong code was tried for `clientId`: counts it on each of the client's live codes and
 * invalidates those that reached `maxFailures`. Returns how many codes were invalidated now.
 */
export async function recordEnrollmentFailure(sql: SqlClient, clientId: string, maxFailures: number): Promise<number> {
  const { rows } = await sql.query<{ invalidated: boolean }>(
    `update enrollment_codes
     set failures = failures + 1, invalidated_at = case when failures + 1 >= $2 then now() else null end
     where client_id = $1 and ${LIVE}
     returning invalidated_at is not null as invalidated`,
    [clientId, maxFailures],
  );
  return rows.filter((r) => r.invalidated).length;
}
