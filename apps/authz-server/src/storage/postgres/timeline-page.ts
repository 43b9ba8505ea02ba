// One page of a certificate table in the console's timeline order — soonest notAfter first, ties
// by client_id then thumbprint in byte order — after a position (keyset pagination): the query
// the three timeline sources (client_certificates, issued_certificates, seen_certificates) share.
import type { SqlClient } from '../sql.ts';

/** A position in timeline order: rows strictly after it come next. */
export interface TimelineCursor {
  notAfter: Date;
  clientId: string;
  x5t: string;
}

export interface TimelineQuery {
  /** one client's rows only */
  clientId: string | undefined;
  after: TimelineCursor | undefined;
  limit: number;
}

/** `table` and `columns` are constants of the calling module, never input. */
export async function timelinePage<Row extends object>(
  sql: SqlClient,
  from: { table: 'client_certificates' | 'issued_certificates' | 'seen_certificates'; columns: string },
  query: TimelineQuery,
): Promise<Row[]> {
  const after = query.after;
  const { rows } = await sql.query<Row>(
    `select ${from.columns} from ${from.table}
     where not_after is not null
       and ($1::text is null or client_id = $1::text)
       and ($2::timestamptz is null
            or (not_after, client_id collate "C", x5t_s256 collate "C") > ($2::timestamptz, $3::text collate "C", $4::text collate "C"))
     order by not_after, client_id collate "C", x5t_s256 collate "C"
     limit $5`,
    [query.clientId ?? null, after?.notAfter ?? null, after?.clientId ?? null, after?.x5t ?? null, query.limit],
  );
  return rows;
}
