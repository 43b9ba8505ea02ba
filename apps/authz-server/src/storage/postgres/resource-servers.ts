// SQL for resource_servers (RFC 8707 resource indicators): the scopes each defines, its token
// format and lifetime. The token endpoint and the dev bootstrap find and upsert them; the
// management API pages, creates, compare-and-sets on `version` (db/migrations/0002) and deletes.
import type { SqlClient } from '../sql.ts';

export interface ResourceServerRow {
  /** RFC 8707 resource indicator (an absolute URI). */
  identifier: string;
  name: string | null;
  scopes: string[];
  token_format: 'jwt' | 'opaque';
  /** Seconds; null = the server default. */
  access_token_ttl: number | null;
  sender_constraint_required: boolean;
  /** Increases by one on every change (the trigger of db/migrations/0002). */
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** What upsertResourceServer takes: omitted optional fields get the column defaults. */
export type ResourceServerInput = Pick<ResourceServerRow, 'identifier' | 'scopes'> &
  Partial<Pick<ResourceServerRow, 'name' | 'token_format' | 'access_token_ttl' | 'sender_constraint_required'>>;

/** What the management API writes: every field given. */
export type ResourceServerValues = Pick<
  ResourceServerRow,
  'identifier' | 'name' | 'scopes' | 'token_format' | 'access_token_ttl' | 'sender_constraint_required'
>;

const COLUMNS =
  'identifier, name, scopes, token_format, access_token_ttl, sender_constraint_required, version, created_at, updated_at';

export async function listResourceServers(sql: SqlClient): Promise<ResourceServerRow[]> {
  const { rows } = await sql.query<ResourceServerRow>(`select ${COLUMNS} from resource_servers order by identifier`);
  return rows;
}

export async function listResourceServersPage(
  sql: SqlClient,
  page: { after: string | undefined; limit: number },
): Promise<ResourceServerRow[]> {
  const { rows } = await sql.query<ResourceServerRow>(
    `select ${COLUMNS} from resource_servers
     where $1::text is null or identifier collate "C" > $1::text
     order by identifier collate "C" limit $2`,
    [page.after ?? null, page.limit],
  );
  return rows;
}

export async function findResourceServer(sql: SqlClient, identifier: string): Promise<ResourceServerRow | undefined> {
  const { rows } = await sql.query<ResourceServerRow>(`select ${COLUMNS} from resource_servers where identifier = $1`, [identifier]);
  return rows[0];
}

/** Every registered scope, for validating client registrations. */
export async function registeredScopes(sql: SqlClient): Promise<Map<string, string[]>> {
  const { rows } = await sql.query<{ identifier: string; scopes: string[] }>('select identifier, scopes from resource_servers');
  return new Map(rows.map((r) => [r.identifier, r.scopes]));
}

/**
 * identifier -> scopes of those resource servers, locked against change until the transaction
 * ends (for share: a concurrent scope removal or delete waits, and then sees the new holder).
 */
export async function shareResourceServers(tx: SqlClient, identifiers: readonly string[]): Promise<Map<string, string[]>> {
  if (identifiers.length === 0) return new Map();
  const { rows } = await tx.query<{ identifier: string; scopes: string[] }>(
    'select identifier, scopes from resource_servers where identifier = any($1::text[]) order by identifier collate "C" for share',
    [[...identifiers]],
  );
  return new Map(rows.map((r) => [r.identifier, r.scopes]));
}

/** Creates or replaces a resource server; omitted optional fields take the column defaults. */
export async function upsertResourceServer(sql: SqlClient, rs: ResourceServerInput): Promise<ResourceServerRow> {
  const { rows } = await sql.query<ResourceServerRow>(
    `insert into resource_servers (identifier, name, scopes, token_format, access_token_ttl, sender_constraint_required)
     values ($1, $2, $3::text[], coalesce($4, 'jwt'), $5::integer, coalesce($6::boolean, true))
     on conflict (identifier) do update
       set name = excluded.name,
           scopes = excluded.scopes,
           token_format = excluded.token_format,
           access_token_ttl = excluded.access_token_ttl,
           sender_constraint_required = excluded.sender_constraint_required,
           updated_at = now()
     returning ${COLUMNS}`,
    [
      rs.identifier,
      rs.name ?? null,
      rs.scopes,
      rs.token_format ?? null,
      rs.access_token_ttl ?? null,
      rs.sender_constraint_required ?? null,
    ],
  );
  return rows[0];
}

/** Inserts; undefined when the identifier is taken. */
export async function insertResourceServer(sql: SqlClient, rs: ResourceServerValues): Promise<ResourceServerRow | undefined> {
  const { rows } = await sql.query<ResourceServerRow>(
    `insert into resource_servers (identifier, name, scopes, token_format, access_token_ttl, sender_constraint_required)
     values ($1, $2, $3::text[], $4, $5::integer, $6)
     on conflict (identifier) do nothing
     returning ${COLUMNS}`,
    [rs.identifier, rs.name, rs.scopes, rs.token_format, rs.access_token_ttl, rs.sender_constraint_required],
  );
  return rows[0];
}

export async function lockResourceServer(tx: SqlClient, identifier: string): Promise<ResourceServerRow | undefined> {
  const { rows } = await tx.query<ResourceServerRow>(`select ${COLUMNS} from resource_servers where identifier = $1 for update`, [identifier]);
  return rows[0];
}

/** Compare-and-set on version; the trigger of 0002 increments it. */
export async function updateResourceServerIfVersion(
  sql: SqlClient,
  rs: ResourceServerValues & { version: number },
): Promise<ResourceServerRow | undefined> {
  const { rows } = await sql.query<ResourceServerRow>(
    `update resource_servers
       set name = $2, scopes = $3::text[], token_format = $4, access_token_ttl = $5::integer,
           sender_constraint_required = $6, updated_at = now()
     where identifier = $1 and version = $7
     returning ${COLUMNS}`,
    [rs.identifier, rs.name, rs.scopes, rs.token_format, rs.access_token_ttl, rs.sender_constraint_required, rs.version],
  );
  return rows[0];
}

export async function deleteResourceServer(sql: SqlClient, identifier: string): Promise<boolean> {
  const { rowCount } = await sql.query('delete from resource_servers where identifier = $1', [identifier]);
  return rowCount > 0;
}

/** The longest access-token lifetime any resource server sets (seconds); null when none sets one. */
export async function longestAccessTokenTtl(sql: SqlClient): Promise<number | null> {
  const { rows } = await sql.query<{ ttl: number | null }>('select max(access_token_ttl) as ttl from resource_servers');
  return rows[0]?.ttl ?? null;
}
