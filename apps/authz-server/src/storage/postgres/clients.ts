// SQL for the typed domain tables the server reads today: clients and resource_servers.
// Rows are returned with their column names, so callers see the schema as it is.
import type { SqlClient } from '../sql.ts';
import { invalidateClientOf } from '../client-cache.ts';

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

export interface ResourceServerRow {
  /** RFC 8707 resource indicator (an absolute URI). */
  identifier: string;
  name: string | null;
  scopes: string[];
  token_format: 'jwt' | 'opaque';
  /** Seconds; null = the server default. */
  access_token_ttl: number | null;
  sender_constraint_required: boolean;
  created_at: Date;
  updated_at: Date;
}

export type ResourceServerInput = Pick<ResourceServerRow, 'identifier' | 'scopes'> &
  Partial<Pick<ResourceServerRow, 'name' | 'token_format' | 'access_token_ttl' | 'sender_constraint_required'>>;

const CLIENT_COLUMNS = 'client_id, metadata, disabled, version, created_at, updated_at';
const RS_COLUMNS =
  'identifier, name, scopes, token_format, access_token_ttl, sender_constraint_required, created_at, updated_at';

/** The client row, disabled or not; undefined when it does not exist. */
export async function findClient(sql: SqlClient, clientId: string): Promise<ClientRow | undefined> {
  const { rows } = await sql.query<ClientRow>(`select ${CLIENT_COLUMNS} from clients where client_id = $1`, [clientId]);
  return rows[0];
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
     returning ${CLIENT_COLUMNS}`,
    [metadata.client_id, JSON.stringify(metadata), opts.disabled ?? null],
  );
  await invalidateClientOf(sql, metadata.client_id);
  return rows[0]!;
}

/** Returns false when the client does not exist. */
export async function setClientDisabled(sql: SqlClient, clientId: string, disabled: boolean): Promise<boolean> {
  const { rowCount } = await sql.query(
    `update clients set disabled = $2, version = version + 1, updated_at = now() where client_id = $1`,
    [clientId, disabled],
  );
  await invalidateClientOf(sql, clientId);
  return rowCount > 0;
}

export async function listResourceServers(sql: SqlClient): Promise<ResourceServerRow[]> {
  const { rows } = await sql.query<ResourceServerRow>(`select ${RS_COLUMNS} from resource_servers order by identifier`);
  return rows;
}

export async function findResourceServer(sql: SqlClient, identifier: string): Promise<ResourceServerRow | undefined> {
  const { rows } = await sql.query<ResourceServerRow>(`select ${RS_COLUMNS} from resource_servers where identifier = $1`, [
    identifier,
  ]);
  return rows[0];
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
     returning ${RS_COLUMNS}`,
    [
      rs.identifier,
      rs.name ?? null,
      rs.scopes,
      rs.token_format ?? null,
      rs.access_token_ttl ?? null,
      rs.sender_constraint_required ?? null,
    ],
  );
  return rows[0]!;
}
