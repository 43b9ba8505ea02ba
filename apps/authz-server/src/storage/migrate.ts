// Applies db/migrations/NNNN_name.sql in order, each in its own transaction, and records them in
// schema_migrations. Any number of instances may start at once: a session-level advisory lock
// is held across the whole run, so one applies and the others then find nothing left to do.
// Migrations are append-only (db/README.md): a file changed after it was applied is refused.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SqlClient } from './sql.ts';
import { LOCK_CLASS } from './postgres/locks.ts';

/** <repo>/db/migrations, from apps/authz-server/src/storage/. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../../db/migrations/', import.meta.url));

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  fileName: string;
  sql: string;
  /** sha256 hex of the file with line endings normalized, so a CRLF checkout is not an edit. */
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const fileName of entries) {
    const match = FILE_NAME.exec(fileName);
    if (!match) {
      throw new MigrationError(`${join(dir, fileName)}: migration files are named NNNN_name.sql (4 digits, lower-case name)`);
    }
    const version = Number(match[1]);
    const previous = files.at(-1);
    if (previous?.version === version) {
      throw new MigrationError(`${dir}: ${previous.fileName} and ${fileName} have the same number`);
    }
    const sql = (await readFile(join(dir, fileName), 'utf8')).replaceAll('\r\n', '\n');
    files.push({ version, name: match[2], fileName, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return files;
}

/** Returns the file names applied by this call (empty when the schema was already current). */
export async function migrate(sql: SqlClient, dir: string = DEFAULT_MIGRATIONS_DIR): Promise<string[]> {
  const files = await readMigrations(dir);
  return sql.session(async (conn) => {
    await conn.query(`select pg_advisory_lock(${LOCK_CLASS.migrate}, hashtext(current_schema()))`);
    try {
      return await applyPending(conn, files, dir);
    } finally {
      await conn.query(`select pg_advisory_unlock(${LOCK_CLASS.migrate}, hashtext(current_schema()))`);
    }
  });
}

async function applyPending(conn: SqlClient, files: MigrationFile[], dir: string): Promise<string[]> {
  await conn.exec(`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`);
  const { rows } = await conn.query<{ version: number; checksum: string }>('select version, checksum from schema_migrations');
  const applied = new Map(rows.map((r) => [r.version, r.checksum]));

  // Refuse before applying anything: an edited file means the schema is not what the code expects.
  for (const file of files) {
    const recorded = applied.get(file.version);
    if (recorded !== undefined && recorded !== file.checksum) {
      throw new MigrationError(
        `${join(dir, file.fileName)} was edited after it was applied (checksum ${file.checksum.slice(0, 12)}, ` +
          `applied ${recorded.slice(0, 12)}); migrations are append-only: restore the file and add a new numbered one`,
      );
    }
  }

  const appliedNow: string[] = [];
  for (const file of files) {
    if (applied.has(file.version)) continue;
    try {
      await conn.transaction(async (tx) => {
        await tx.exec(file.sql);
        await tx.query('insert into schema_migrations (version, name, checksum) values ($1, $2, $3)', [
          file.version,
          file.name,
          file.checksum,
        ]);
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new MigrationError(`${file.fileName} failed and was rolled back: ${reason}`, { cause: err });
    }
    appliedNow.push(file.fileName);
  }
  return appliedNow;
}
