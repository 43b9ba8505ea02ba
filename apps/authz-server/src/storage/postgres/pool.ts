// SqlClient over pg.Pool: the shared PostgreSQL every instance of a deployment uses.
import pg from 'pg';
import type { PoolClient } from 'pg';
import { assertSqlIdentifier, connectionClient, type Connection, type SqlClient, type SqlResult } from '../sql.ts';
import { LOCK_CLASS } from './locks.ts';
import { CONNECT_TIMEOUT_MS } from './pg-outage.ts';
import type { StoreTlsOptions } from '../store-tls.ts';

export interface PostgresOptions {
  /**
   * Schema to work in: created when missing and set as search_path on every connection.
   * Tests give each suite a fresh random schema so suites never collide.
   */
  schema?: string;
  /** Pool size (pg default 10). */
  max?: number;
  /** Errors of idle pooled connections (server restart, network); default: process warning. */
  onError?: (err: Error) => void;
  /** DATABASE_SSL_*: tls.connect options whose files are read per new connection (storage/store-tls.ts). */
  ssl?: StoreTlsOptions;
}

export async function openPostgres(url: string, opts: PostgresOptions = {}): Promise<SqlClient> {
  const { schema } = opts;
  if (schema !== undefined) assertSqlIdentifier(schema, 'schema');

  const pool = new pg.Pool({
    connectionString: url,
    application_name: 'certbound',
    ...(opts.ssl === undefined ? {} : { ssl: opts.ssl }),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...(opts.max === undefined ? {} : { max: opts.max }),
    // Set at connection start-up, so it holds for every connection the pool ever opens.
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  pool.on('error', opts.onError ?? ((err) => process.emitWarning(`PostgreSQL idle connection error: ${err.message}`)));

  const client = poolClient(pool);
  try {
    if (schema !== undefined) {
      // Two instances creating the same schema at once race in pg_namespace; the lock orders them.
      await client.transaction(async (tx) => {
        await tx.query(`select pg_advisory_xact_lock(${LOCK_CLASS.createSchema}, hashtext($1))`, [schema]);
        await tx.exec(`create schema if not exists ${schema}`);
      });
    } else {
      await client.query('select 1');
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return client;
}

function poolClient(pool: pg.Pool): SqlClient {
  async function withConnection<T>(fn: (conn: SqlClient) => Promise<T>): Promise<T> {
    const raw = await pool.connect();
    try {
      const result = await fn(connectionClient(wrap(raw)));
      raw.release();
      return result;
    } catch (err) {
      // Destroy rather than reuse: the connection may hold a session lock or an open transaction.
      raw.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  return {
    async query<R>(text: string, params?: unknown[]): Promise<SqlResult<R>> {
      const res = await pool.query(text, params);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    async exec(script) {
      await pool.query(script);
    },
    transaction: (fn) => withConnection((conn) => conn.transaction(fn)),
    session: (fn) => withConnection(fn),
    async close() {
      await pool.end();
    },
  };
}

function wrap(raw: PoolClient): Connection {
  return {
    async query<R>(text: string, params?: unknown[]): Promise<SqlResult<R>> {
      const res = await raw.query(text, params);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    async exec(script) {
      // No parameters: pg uses the simple query protocol, which accepts several statements.
      await raw.query(script);
    },
    async commit() {
      const res = await raw.query('COMMIT');
      return res.command;
    },
  };
}
