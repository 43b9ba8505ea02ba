// Migrations: applied once and recorded, re-run is a no-op, edits refused, concurrent starts safe.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlClient } from '../../src/storage/sql.ts';
import { DEFAULT_MIGRATIONS_DIR, MigrationError, migrate, readMigrations } from '../../src/storage/migrate.ts';
import { SKIP_POSTGRES, openTestPostgres, sharedPgliteSchemas } from './helpers.ts';

interface Fresh {
  sql: SqlClient;
  /** A second, independent client on the same empty database (another instance starting). */
  second: () => Promise<SqlClient>;
  dispose: () => Promise<void>;
}

const shippedFiles = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-migrations-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function tables(sql: SqlClient): Promise<string[]> {
  const { rows } = await sql.query<{ table_name: string }>(
    `select table_name from information_schema.tables where table_schema = current_schema() order by table_name`,
  );
  return rows.map((r) => r.table_name);
}

function migrationSuite(engine: string, skip: string | false, fresh: () => Promise<Fresh>): void {
  describe(`migrations: ${engine}`, { skip }, () => {
    const cleanup: (() => Promise<void>)[] = [];
    after(async () => {
      for (const fn of cleanup.reverse()) await fn();
    });
    async function db(): Promise<Fresh> {
      const f = await fresh();
      cleanup.push(() => f.dispose());
      return f;
    }
    async function tmp(files: Record<string, string>): Promise<string> {
      const dir = await migrationsDir(files);
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      return dir;
    }

    it('applies every shipped file in order, once, recording version, name, checksum and time', async () => {
      const { sql } = await db();
      assert.deepEqual(await migrate(sql), shippedFiles);
      const { rows } = await sql.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
        'select version, name, checksum, applied_at from schema_migrations order by version',
      );
      const files = await readMigrations();
      assert.deepEqual(
        rows.map((r) => [r.version, r.name, r.checksum]),
        files.map((f) => [f.version, f.name, f.checksum]),
      );
      assert.ok(rows.every((r) => r.applied_at instanceof Date));
      for (const table of ['oidc_models', 'clients', 'resource_servers', 'client_certificates', 'signing_keys']) {
        assert.ok((await tables(sql)).includes(table), `${table} exists`);
      }
    });

    it('is a no-op when run again', async () => {
      const { sql } = await db();
      await migrate(sql);
      assert.deepEqual(await migrate(sql), []);
      const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from schema_migrations');
      assert.equal(rows[0].n, shippedFiles.length);
    });

    it('two instances migrating one empty database at once both succeed, with one set of rows', async () => {
      const first = await db();
      const second = await first.second();
      const [a, b] = await Promise.all([migrate(first.sql), migrate(second)]);
      assert.deepEqual([...a, ...b].sort(), shippedFiles, 'each file applied by exactly one of them');
      const { rows } = await first.sql.query<{ n: number; versions: number }>(
        'select count(*)::int as n, count(distinct version)::int as versions from schema_migrations',
      );
      assert.deepEqual(rows[0], { n: shippedFiles.length, versions: shippedFiles.length });
    });

    it('refuses a file edited after it was applied, before applying anything newer', async () => {
      const { sql } = await db();
      const dir = await tmp({ '0001_first.sql': 'create table first_t (id int);\n' });
      assert.deepEqual(await migrate(sql, dir), ['0001_first.sql']);
      await writeFile(join(dir, '0001_first.sql'), 'create table first_t (id int, extra text);\n');
      await writeFile(join(dir, '0002_second.sql'), 'create table second_t (id int);\n');
      await assert.rejects(migrate(sql, dir), (err: Error) => {
        assert.ok(err instanceof MigrationError);
        assert.match(err.message, /0001_first\.sql was edited after it was applied/);
        assert.match(err.message, /append-only/);
        return true;
      });
      assert.ok(!(await tables(sql)).includes('second_t'));
    });

    it('does not count a CRLF checkout as an edit', async () => {
      const { sql } = await db();
      const dir = await tmp({ '0001_first.sql': 'create table crlf_t (id int);\ncreate index on crlf_t (id);\n' });
      await migrate(sql, dir);
      const text = await readFile(join(dir, '0001_first.sql'), 'utf8');
      await writeFile(join(dir, '0001_first.sql'), text.replaceAll('\n', '\r\n'));
      assert.deepEqual(await migrate(sql, dir), []);
    });

    it('rolls back a failing file, leaves it unrecorded, and applies it once fixed', async () => {
      const { sql } = await db();
      const dir = await tmp({
        '0001_ok.sql': 'create table ok_t (id int);\n',
        '0002_broken.sql': 'create table broken_t (id int);\nselect 1 / 0;\n',
      });
      await assert.rejects(migrate(sql, dir), (err: Error) => {
        assert.ok(err instanceof MigrationError);
        assert.match(err.message, /^0002_broken\.sql failed and was rolled back: division by zero/);
        return true;
      });
      assert.ok((await tables(sql)).includes('ok_t'));
      assert.ok(!(await tables(sql)).includes('broken_t'), 'the failing file left nothing behind');
      const { rows } = await sql.query<{ version: number }>('select version from schema_migrations order by version');
      assert.deepEqual(rows.map((r) => r.version), [1]);

      await writeFile(join(dir, '0002_broken.sql'), 'create table broken_t (id int);\n');
      assert.deepEqual(await migrate(sql, dir), ['0002_broken.sql']);
    });

    it('applies files added later in number order', async () => {
      const { sql } = await db();
      const dir = await tmp({ '0001_a.sql': 'create table a_t (id int);\n' });
      await migrate(sql, dir);
      await writeFile(join(dir, '0003_c.sql'), 'alter table a_t add column c int;\n');
      await writeFile(join(dir, '0002_b.sql'), 'alter table a_t add column b int;\n');
      assert.deepEqual(await migrate(sql, dir), ['0002_b.sql', '0003_c.sql']);
    });
  });
}

// One PGlite for the whole file, a fresh schema on it per test (helpers.ts).
const pgliteSchema = sharedPgliteSchemas();
migrationSuite('PGlite', false, async () => {
  const sql = await pgliteSchema();
  return {
    sql,
    // One embedded database has one session: a "second instance" is a concurrent caller.
    second: async () => sql,
    dispose: async () => {},
  };
});

migrationSuite('PostgreSQL', SKIP_POSTGRES, async () => {
  const pg = await openTestPostgres();
  return { sql: pg.sql, second: pg.second, dispose: pg.drop };
});

describe('migration files', () => {
  it('db/migrations holds only NNNN_name.sql files and a README stating the append-only rule', async () => {
    const entries = await readdir(DEFAULT_MIGRATIONS_DIR);
    assert.ok(entries.every((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)), entries.join(', '));
    const readme = await readFile(join(DEFAULT_MIGRATIONS_DIR, '..', 'README.md'), 'utf8');
    assert.match(readme, /append-only/i);
  });

  it('refuses a badly named .sql file and two files with one number', async () => {
    const bad = await migrationsDir({ '1_init.sql': 'select 1;', 'README.md': 'ignored' });
    const dup = await migrationsDir({ '0001_a.sql': 'select 1;', '0001_b.sql': 'select 1;' });
    try {
      await assert.rejects(readMigrations(bad), /1_init\.sql: migration files are named NNNN_name\.sql/);
      await assert.rejects(readMigrations(dup), /0001_a\.sql and 0001_b\.sql have the same number/);
    } finally {
      await rm(bad, { recursive: true, force: true });
      await rm(dup, { recursive: true, force: true });
    }
  });
});
