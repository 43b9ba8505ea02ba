// SQL behind the management API's resource-server routes (RFC 8707 resource indicators):
// pages, create-only insert, compare-and-set update on `version` (db/migrations/0002), delete.
import type { SqlClient } from '../sql.ts';
import type { ResourceServerRow } from './clients.ts';

export interface VersionedResourceServerRow extends ResourceServerRow {
  version: number;
}

export type ResourceServerValues = Pick<
  ResourceServerRow,
  'identifier' | 'name' | 'scopes' | 'token_format' | 'access_token_ttl' | 'sender_constraint_required'
>;

const COLUMNS =
  'identifier, name, scopes, token_format, access_token_ttl, sender_constraint_required, version, created_at, updated_at';

export async function listResourceServersPage(
  sql: SqlClient,
  page: { after: string | undefined; limit: number },
): Promise<VersionedResourceServerRow[]> {
  const { rows } = await sql.query<VersionedResourceServerRow>(
    `select ${COLUMNS} from resource_servers
     where $1::text is null or identifier collate "C" > $1::text
     order by identifier collate "C" limit $2`,
    [page.after ?? null, page.limit],
  );
  return rows;
}

export async function findResourceServerRow(sql: SqlClient, identifier: string): Promise<VersionedResourceServerRow | undefined> {
  const { rows } = await sql.query<VersionedResourceServerRow>(`select ${COLUMNS} from resource_servers where identifier = $1`, [identifier]);
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

/** Inserts; undefined when the identifier is taken. */
export async function insertResourceServer(sql: SqlClient, rs: ResourceServerValues): Promise<VersionedResourceServerRow | undefined> {
  const { rows } = await sql.query<VersionedResourceServerRow>(
    `insert into resource_servers (identifier, name, scopes, token_format, access_token_ttl, sender_constraint_required)
     values ($1, $2, $3::text[], $4, $5::integer, $6)
     on conflict (identifier) do nothing
     returning ${COLUMNS}`,
    [rs.identifier, rs.name, rs.scopes, rs.token_format, rs.access_token_ttl, rs.sender_constraint_required],
  );
  return rows[0];
}

export async function lockResourceServer(tx: SqlClient, identifier: string): Promise<VersionedResourceServerRow | undefined> {
  const { rows } = await tx.query<VersionedResourceServerRow>(`select ${COLUMNS} from resource_servers where identifier = $1 for update`, [identifier]);
  return rows[0];
}

/** Compare-and-set on version; the trigger of 0002 increments it. */
export async function updateResourceServerIfVersion(
  sql: SqlClient,
  rs: ResourceServerValues & { version: number },
): Promise<VersionedResourceServerRow | undefined> {
  const { rows } = await sql.query<VersionedResourceServerRow>(
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
