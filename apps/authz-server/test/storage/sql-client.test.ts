// SqlClient semantics both engines must share: transactions, savepoints, sessions, schemas.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { SqlClient } from '../../src/storage/sql.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { openPostgres } from '../../src/storage/postgres/pool.ts';
import { DATABASE_URL, SKIP_POSTGRES, openTestPostgres } from './helpers.ts';

function sqlSuite(engine: string, skip: string | false, open: () => Promise<{ sql: SqlClient; close: () => Promise<void> }>) {
  describe(`SqlClient: ${engine}`, { skip }, () => {
    let sql: SqlClient;
    let close: () => Promise<void>;
    before(async () => {
      ({ sql, close } = await open());
      await sql.exec('create table counter (id int primary key, n int not null); insert into counter values (1, 0)');
    });
    after(async () => {
      await close?.();
    });
    const count = async () => (await sql.query<{ n: number }>('select n from counter where id = 1')).rows[0].n;
    const setCount = (n: number) => sql.query('update counter set n = $1 where id = 1', [n]);

    it('query returns rows and rowCount', async () => {
      const res = await sql.query<{ a: number; b: string }>('select $1::int as a, $2::text as b', [7, 'x']);
      assert.deepEqual(res.rows, [{ a: 7, b: 'x' }]);
      assert.equal(res.rowCount, 1);
      assert.equal((await sql.query('update counter set n = n where id = 1')).rowCount, 1);
    });

    it('a transaction commits what it did', async () => {
      await setCount(0);
      const result = await sql.transaction(async (tx) => {
        await tx.query('update counter set n = 5 where id = 1');
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal(await count(), 5);
    });

    it('a transaction that throws is rolled back and the error passes through', async () => {
      await setCount(0);
      await assert.rejects(
        sql.transaction(async (tx) => {
          await tx.query('update counter set n = 9 where id = 1');
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await count(), 0);
    });

    it('a nested transaction is a savepoint: its failure leaves the outer work in place', async () => {
      await setCount(0);
      await sql.transaction(async (tx) => {
        await tx.query('update counter set n = 1 where id = 1');
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.query('update counter set n = 2 where id = 1');
            throw new Error('inner');
          }),
        );
      });
      assert.equal(await count(), 1);
    });

    it('a failed statement swallowed inside a transaction makes the commit fail loudly', async () => {
      await setCount(0);
      await assert.rejects(
        sql.transaction(async (tx) => {
          await tx.query('update counter set n = 3 where id = 1');
          await tx.query('select 1 / 0').catch(() => undefined);
        }),
        /transaction was rolled back/,
      );
      assert.equal(await count(), 0);
    });

    it('concurrent read-modify-write transactions under a row lock lose no update', async () => {
      await setCount(0);
      await Promise.all(
        Array.from({ length: 10 }, () =>
          sql.transaction(async (tx) => {
            const { rows } = await tx.query<{ n: number }>('select n from counter where id = 1 for update');
            await tx.query('update counter set n = $1 where id = 1', [rows[0].n + 1]);
          }),
        ),
      );
      assert.equal(await count(), 10);
    });

    it('a session keeps one connection across statements', async () => {
      const pids = await sql.session(async (conn) => {
        const a = await conn.query<{ pid: number }>('select pg_backend_pid() as pid');
        await conn.transaction(async (tx) => tx.query('select 1'));
        const b = await conn.query<{ pid: number }>('select pg_backend_pid() as pid');
        return [a.rows[0].pid, b.rows[0].pid];
      });
      assert.equal(pids[0], pids[1]);
    });

    it('exec runs a script of several statements', async () => {
      await sql.exec('create table script_a (id int); create table script_b (id int); drop table script_a; drop table script_b;');
    });
  });
}

sqlSuite('PGlite', false, async () => {
  const sql = await openPglite(undefined);
  return { sql, close: () => sql.close() };
});

sqlSuite('PostgreSQL', SKIP_POSTGRES, async () => {
  const pg = await openTestPostgres();
  return { sql: pg.sql, close: () => pg.drop() };
});

describe('openPostgres schema option', { skip: SKIP_POSTGRES }, () => {
  let pg: Awaited<ReturnType<typeof openTestPostgres>>;
  before(async () => {
    pg = await openTestPostgres();
  });
  after(async () => {
    await pg?.drop();
  });

  it('creates the schema and puts it first on every connection of the pool', async () => {
    const paths = await Promise.all(
      Array.from({ length: 4 }, () => pg.sql.transaction(async (tx) => (await tx.query<{ s: string }>('select current_schema() as s')).rows[0].s)),
    );
    assert.deepEqual(new Set(paths), new Set([pg.schema]));
  });

  it('two pools opening one new schema at once both succeed', async () => {
    const schema = `${pg.schema}_twin`;
    const [a, b] = await Promise.all([openPostgres(DATABASE_URL!, { schema }), openPostgres(DATABASE_URL!, { schema })]);
    await a.exec(`drop schema ${schema} cascade`);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a schema name that would need quoting', async () => {
    await assert.rejects(openPostgres(DATABASE_URL!, { schema: 'x; drop table y' }), /schema must match/);
  });
});

describe('openPglite', () => {
  it('refuses work after close', async () => {
    const sql = await openPglite(undefined);
    await sql.close();
    await assert.rejects(sql.query('select 1'), /closed/);
  });
});
