// SQL for clients: the OAuth clients' RFC 7591 metadata, the disabled flag and the version every
// change increments. The Client adapter reads them (client-adapter.ts), the management API pages,
// creates, compare-and-sets and deletes them, the dev bootstrap upserts. Every value is a bound
// parameter; rows come back with their column names, so callers see the schema as it is. A
// writer invalidates the Client adapter's cache itself once its change committed
// (client-cache.ts: the writer is handed `invalidate`).
import type { SqlClient } from '../sql.ts';

/** oidc-provider client metadata (RFC 7591 names); client_id is always present. */
export interface ClientMetadata {
  client_id: string;
  [property: string]: unknown;
}

export interface ClientRow {
  client_id: string;
  metadata: ClientMetadata;
  disabled: boolean;
  /** Increases by one on every change. */
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'client_id, metadata, disabled, version, created_at, updated_at';

/** The client row, disabled or not; undefined when it does not exist. */
export async function findClient(sql: SqlClient, clientId: string): Promise<ClientRow | undefined> {
  const { rows } = await sql.query<ClientRow>(`select ${COLUMNS} from clients where client_id = $1`, [clientId]);
  return rows[0];
}

/**
 * Clients ordered by client_id in byte order (collate "C": the same on PostgreSQL and PGlite,
 * whatever the database's locale), starting after `after`.
 */
export async function listClientsPage(sql: SqlClient, page: { after: string | undefined; limit: number }): Promise<ClientRow[]> {
  const { rows } = await sql.query<ClientRow>(
    `select ${COLUMNS} from clients
     where $1::text is null or client_id collate "C" > $1::text
     order by client_id collate "C" limit $2`,
    [page.after ?? null, page.limit],
  );
  return rows;
}

/**
 * Creates the client or replaces its metadata (version + 1). `disabled` is left as it was
 * unless given.
 */
export async function upsertClient(
  sql: SqlClient,
  metadata: ClientMetadata,
  opts: { disabled?: boolean } = {},
): Promise<ClientRow> {
  if (typeof metadata.client_id !== 'string' || metadata.client_id === '') {
    throw new TypeError('client metadata must carry a non-empty client_id');
  }
  const { rows } = await sql.query<ClientRow>(
    `insert into clients (client_id, metadata, disabled) values ($1, $2::jsonb, coalesce($3::boolean, false))
     on conflict (client_id) do update
       set metadata = excluded.metadata,
           disabled = coalesce($3::boolean, clients.disabled),
           version = clients.version + 1,
           updated_at = now()
     returning ${COLUMNS}`,
    [metadata.client_id, JSON.stringify(metadata), opts.disabled ?? null],
  );
  return rows[0];
}

/** Inserts a new client; undefined when the client_id is taken (nothing is changed then). */
export async function insertClient(sql: SqlClient, metadata: ClientMetadata, disabled: boolean): Promise<ClientRow | undefined> {
  const { rows } = await sql.query<ClientRow>(
    `insert into clients (client_id, metadata, disabled) values ($1, $2::jsonb, $3)
     on conflict (client_id) do nothing
     returning ${COLUMNS}`,
    [metadata.client_id, JSON.stringify(metadata), disabled],
  );
  return rows[0];
}

/** The row, locked until the transaction ends (use inside sql.transaction). */
export async function lockClient(tx: SqlClient, clientId: string): Promise<ClientRow | undefined> {
  const { rows } = await tx.query<ClientRow>(`select ${COLUMNS} from clients where client_id = $1 for update`, [clientId]);
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
     returning ${COLUMNS}`,
    [change.metadata.client_id, JSON.stringify(change.metadata), change.disabled, change.version],
  );
  return rows[0];
}

/** Returns false when the client does not exist. */
export async function setClientDisabled(sql: SqlClient, clientId: string, disabled: boolean): Promise<boolean> {
  const { rowCount } = await sql.query(
    `update clients set disabled = $2, version = version + 1, updated_at = now() where client_id = $1`,
    [clientId, disabled],
  );
  return rowCount > 0;
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

/** How many clients are registered, and how many of them are disabled (the console's overview). */
export async function countClients(sql: SqlClient): Promise<{ total: number; disabled: number }> {
  const { rows } = await sql.query<{ total: string | number; disabled: string | number }>(
    `select count(*) as total, count(*) filter (where disabled) as disabled from clients`,
  );
  return { total: Number(rows[0]?.total ?? 0), disabled: Number(rows[0]?.disabled ?? 0) };
}
