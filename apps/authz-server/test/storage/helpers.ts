// Shared by the storage and keys tests: real servers when TEST_DATABASE_URL / TEST_REDIS_URL are
// set (each suite in its own random schema or key prefix), a clear skip message otherwise.
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { Redis } from 'ioredis';
import type { SqlClient } from '../../src/storage/sql.ts';
import { openPostgres } from '../../src/storage/postgres/pool.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { migrate } from '../../src/storage/migrate.ts';

export const DATABASE_URL = process.env['TEST_DATABASE_URL'] || undefined;
export const REDIS_URL = process.env['TEST_REDIS_URL'] || undefined;

export const SKIP_POSTGRES: string | false = DATABASE_URL
  ? false
  : 'TEST_DATABASE_URL is not set: PostgreSQL runs skipped (e.g. postgres://postgres:postgres@127.0.0.1:5432/certbound_test)';
export const SKIP_REDIS: string | false = REDIS_URL
  ? false
  : 'TEST_REDIS_URL is not set: Redis runs skipped (e.g. redis://127.0.0.1:6379/0)';
export const SKIP_POSTGRES_AND_REDIS: string | false = SKIP_POSTGRES || SKIP_REDIS;

export function randomSchema(): string {
  return `cb_test_${randomBytes(6).toString('hex')}`;
}

export function randomKeyPrefix(): string {
  return `cb_test_${randomBytes(6).toString('hex')}:`;
}

/**
 * A fresh schema of its own; `second` opens another instance's pool on the same schema, and
 * `drop` closes those, removes the schema and closes the pool.
 */
export async function openTestPostgres(
  schema = randomSchema(),
): Promise<{ sql: SqlClient; schema: string; second: () => Promise<SqlClient>; drop: () => Promise<void> }> {
  const sql = await openPostgres(DATABASE_URL!, { schema });
  const others: SqlClient[] = [];
  return {
    sql,
    schema,
    async second() {
      const other = await openPostgres(DATABASE_URL!, { schema });
      others.push(other);
      return other;
    },
    async drop() {
      try {
        for (const other of others) await other.close();
        await sql.exec(`drop schema if exists ${schema} cascade`);
      } finally {
        await sql.close();
      }
    },
  };
}

/**
 * Declares the tests of `body` once per engine: PGlite always, PostgreSQL (a schema of its own)
 * when TEST_DATABASE_URL is set. Each engine's database is migrated before the tests and closed
 * (the schema dropped) after them; `sql()` is valid inside the tests.
 */
export function onEachEngine(title: string, body: (sql: () => SqlClient) => void): void {
  const engines: Array<[string, string | false, () => Promise<{ sql: SqlClient; close: () => Promise<void> }>]> = [
    ['PGlite', false, async () => {
      const sql = await openPglite(undefined);
      return { sql, close: () => sql.close() };
    }],
    ['PostgreSQL', SKIP_POSTGRES, async () => {
      const db = await openTestPostgres();
      return { sql: db.sql, close: () => db.drop() };
    }],
  ];
  for (const [engine, skip, open] of engines) {
    describe(`${title}: ${engine}`, { skip }, () => {
      let opened: { sql: SqlClient; close: () => Promise<void> } | undefined;
      before(async () => {
        opened = await open();
        await migrate(opened.sql);
      });
      after(async () => {
        await opened?.close();
      });
      body(() => opened!.sql);
    });
  }
}

/**
 * One PGlite for the calling test file (it takes seconds to start), closed after the file; each
 * call gives a fresh schema of its own on it. PGlite is a single session, so the search_path set
 * here holds for everything that follows.
 */
export function sharedPgliteSchemas(): () => Promise<SqlClient> {
  let pglite: Promise<SqlClient> | undefined;
  after(async () => {
    await (await pglite)?.close();
  });
  return async () => {
    pglite ??= openPglite(undefined);
    const sql = await pglite;
    const schema = randomSchema();
    await sql.exec(`create schema ${schema}; set search_path to ${schema}`);
    return sql;
  };
}

/** Moves a PostgreSQL (or PGlite) oidc_models table `seconds` closer to expiry: time travel. */
export async function advanceSql(sql: SqlClient, seconds: number): Promise<void> {
  await sql.query(
    `update oidc_models set expires_at = expires_at - $1::double precision * interval '1 second' where expires_at is not null`,
    [seconds],
  );
}

/**
 * Redis cannot be told the time, so time travel is done on the keys: every key under `prefix`
 * loses `seconds` of TTL, and a key whose TTL runs out is deleted, exactly as expiry would.
 * Keys without a TTL keep living, so a missing TTL still shows up as a failure.
 */
export function redisTimeMachine(url: string, prefix: string) {
  const raw = new Redis(url);
  async function keys(): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  }
  return {
    async advance(seconds: number): Promise<void> {
      const ms = Math.round(seconds * 1000);
      for (const key of await keys()) {
        const pttl = await raw.pttl(key);
        if (pttl < 0) continue;
        if (pttl <= ms) await raw.del(key);
        else await raw.pexpire(key, pttl - ms);
      }
    },
    /** Keys under the prefix with no expiry at all. */
    async keysWithoutTtl(): Promise<string[]> {
      const missing: string[] = [];
      for (const key of await keys()) if ((await raw.pttl(key)) === -1) missing.push(key.slice(prefix.length));
      return missing;
    },
    async pttl(key: string): Promise<number> {
      return raw.pttl(prefix + key);
    },
    async close(): Promise<void> {
      const leftovers = await keys();
      for (const key of leftovers) await raw.del(key);
      await raw.quit();
    },
  };
}
