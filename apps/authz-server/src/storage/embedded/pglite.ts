// SqlClient over PGlite: PostgreSQL compiled to WASM, in process, persisted under DATA_DIR, for
// `npm start` on a bare machine. It has a single session, so this wrapper serializes work: a
// transaction (or session) owns the database until it ends, and other callers queue behind it.
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { connectionClient, type Connection, type SqlClient, type SqlResult } from '../sql.ts';

/** `dir` undefined = in-memory database (tests). */
export async function openPglite(dir: string | undefined): Promise<SqlClient> {
  if (dir !== undefined) await mkdir(dir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create(dir);
  const conn = wrap(db);
  const exclusive = createMutex();
  let closed = false;

  function guarded<T>(fn: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new Error('embedded database is closed'));
    return exclusive(fn);
  }

  return {
    query: <R>(text: string, params?: unknown[]) => guarded(() => conn.query<R>(text, params)),
    exec: (script) => guarded(() => conn.exec(script)),
    transaction: (fn) => guarded(() => connectionClient(conn).transaction(fn)),
    session: (fn) => guarded(() => fn(connectionClient(conn))),
    async close() {
      if (closed) return;
      // Let queued work finish, then close.
      await exclusive(async () => {
        closed = true;
        await db.close();
      });
    },
  };
}

function wrap(db: PGlite): Connection {
  return {
    async query<R>(text: string, params?: unknown[]): Promise<SqlResult<R>> {
      const res = await db.query<R>(text, params);
      return { rows: res.rows, rowCount: res.rowCount ?? res.affectedRows ?? res.rows.length };
    },
    async exec(script) {
      await db.exec(script);
    },
    async commit() {
      const [res] = await db.exec('COMMIT');
      return res?.command;
    },
  };
}

/** Runs async functions one at a time, in call order. */
function createMutex(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
