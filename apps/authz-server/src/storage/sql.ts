// The one SQL surface the rest of the server sees. PostgreSQL (pg.Pool) and embedded PGlite both
// implement it, so queries modules, migrations and keys never know which one they run on.

export interface SqlResult<R> {
  rows: R[];
  /** Rows returned by a SELECT or changed by INSERT/UPDATE/DELETE. */
  rowCount: number;
}

export interface SqlClient {
  /** One statement, `$1`-style parameters. */
  query<R>(text: string, params?: unknown[]): Promise<SqlResult<R>>;
  /** A script of several statements without parameters (migration files). */
  exec(script: string): Promise<void>;
  /**
   * Runs `fn` inside BEGIN/COMMIT on one connection; ROLLBACK when it throws. `tx` must be used
   * for every statement of the transaction. A nested `tx.transaction` is a SAVEPOINT.
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one dedicated connection (no implicit transaction), for work that needs
   * session state across several transactions, such as a session-level advisory lock.
   */
  session<T>(fn: (conn: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A single connection's raw abilities; `connectionClient` builds the SqlClient on top. */
export interface Connection {
  query<R>(text: string, params?: unknown[]): Promise<SqlResult<R>>;
  exec(script: string): Promise<void>;
  /** Command tag of the last COMMIT: PostgreSQL answers ROLLBACK for an aborted transaction. */
  commit(): Promise<string | undefined>;
}

/**
 * SqlClient bound to one connection. `depth` 0 means no transaction is open; deeper levels use
 * savepoints so a nested transaction can fail without aborting its parent.
 */
export function connectionClient(conn: Connection, depth = 0): SqlClient {
  const client: SqlClient = {
    query: (text, params) => conn.query(text, params),
    exec: (script) => conn.exec(script),
    async transaction(fn) {
      if (depth === 0) return runTransaction(conn, fn);
      return runSavepoint(conn, depth, fn);
    },
    session: (fn) => fn(client),
    async close() {
      throw new Error('close() is not available on a transaction or session connection');
    },
  };
  return client;
}

async function runTransaction<T>(conn: Connection, fn: (tx: SqlClient) => Promise<T>): Promise<T> {
  await conn.exec('BEGIN');
  let result: T;
  try {
    result = await fn(connectionClient(conn, 1));
  } catch (err) {
    await conn.exec('ROLLBACK').catch(() => undefined);
    throw err;
  }
  const tag = await conn.commit();
  if (tag === 'ROLLBACK') {
    // The callback swallowed a failed statement; PostgreSQL rolled everything back on COMMIT.
    throw new Error('transaction was rolled back: a statement inside it failed and the error was caught');
  }
  return result;
}

async function runSavepoint<T>(conn: Connection, depth: number, fn: (tx: SqlClient) => Promise<T>): Promise<T> {
  const name = `certbound_sp_${depth}`;
  await conn.exec(`SAVEPOINT ${name}`);
  try {
    const result = await fn(connectionClient(conn, depth + 1));
    await conn.exec(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (err) {
    await conn.exec(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
    throw err;
  }
}

/** Identifiers that may be interpolated into SQL (schema names): lower-case, no quoting needed. */
export function assertSqlIdentifier(name: string, what: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`${what} must match [a-z_][a-z0-9_]{0,62}, got ${JSON.stringify(name)}`);
  }
}
