// SQL behind the management API's client routes: pages in a stable order, create-only insert,
// compare-and-set update on `version`, delete. Every value is a bound parameter.
import type { SqlClient } from '../sql.ts';
import type { ClientMetadata, ClientRow } from './clients.ts';

const CLIENT_COLUMNS = 'client_id, metadata, disabled, version, created_at, updated_at';

/**
 * Clients ordered by client_id in byte order (collate "C": the same on PostgreSQL and PGlite,
 * whatever the database's locale), starting after `after`.
 */
export async function listClientsPage(sql: SqlClient, page: { after: string | undefined; limit: number }): Promise<ClientRow[]> {
  const { rows } = await sql.query<ClientRow>(
    `select ${CLIENT_COLUMNS} from clients
     where $1::text is null or client_id collate "C" > $1::text
     order by client_id collate "C" limit $2`,
    [page.after ?? null, page.limit],
  );
  return rows;
}

/** Inserts a new client; undefined when the client_id is taken (nothing is changed then). */
export async function insertClient(sql: SqlClient, metadata: ClientMetadata, disabled: boolean): Promise<ClientRow | undefined> {
  const { rows } = await sql.query<ClientRow>(
    `insert into clients (client_id, metadata, disabled) values ($1, $2::jsonb, $3)
     on conflict (client_id) do nothing
     returning ${CLIENT_COLUMNS}`,
    [metadata.client_id, JSON.stringify(metadata), disabled],
  );
  return rows[0];
}

/** The row, locked until the transaction ends (use inside sql.transaction). */
export async function lockClient(tx: SqlClient, clientId: string): Promise<ClientRow | undefined> {
  const { rows } = await tx.query<ClientRow>(`select ${CLIENT_COLUMNS} from clients where client_id = $1 for update`, [clientId]);
  return rows[0];
}

/**
 * Compare-and-set: replaces metadata and disabled only while the row is still at `version`;
 * undefined when it is not (another writer won, or the client is gone).
 */
export async function updateClientIfVersion(
  sql: SqlClient,
  change: { metadata: ClientMetadata; disabled: boolean; version: number },
): Promise<ClientRow | undefined> {
  const { rows } = await sql.query<ClientRow>(
    `update clients set metadata = $2::jsonb, disabled = $3, version = version + 1, updated_at = now()
     where client_id = $1 and version = $4
     returning ${CLIENT_COLUMNS}`,
    [change.metadata.client_id, JSON.stringify(change.metadata), change.disabled, change.version],
  );
  return rows[0];
}

/** Deletes the client (its certificates go with it: on delete cascade). */
export async function deleteClient(sql: SqlClient, clientId: string): Promise<boolean> {
  const { rowCount } = await sql.query('delete from clients where client_id = $1', [clientId]);
  return rowCount > 0;
}

/**
 * Up to `limit` clients (client_id order) that hold the resource server `identifier` in their
 * metadata `resources`; with `scopes`, only those holding one of these scopes on it.
 */
export async function clientsHoldingResource(
  sql: SqlClient,
  identifier: string,
  options: { scopes?: readonly string[]; limit?: number } = {},
): Promise<string[]> {
  const { rows } = await sql.query<{ client_id: string }>(
    `select client_id from clients
     where jsonb_typeof(metadata->'resources') = 'object' and metadata->'resources' ? $1
       and ($2::text[] is null or exists (
         select 1 from jsonb_array_elements_text(
           case when jsonb_typeof(metadata->'resources'->$1) = 'array' then metadata->'resources'->$1 else '[]'::jsonb end
         ) as held(scope) where held.scope = any($2::text[])))
     order by client_id collate "C" limit $3`,
    [identifier, options.scopes ? [...options.scopes] : null, options.limit ?? 10],
  );
  return rows.map((r) => r.client_id);
}
