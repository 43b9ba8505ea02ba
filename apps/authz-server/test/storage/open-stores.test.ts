// openStores: embedded by default and persisted under DATA_DIR; real servers when configured.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStores } from '../../src/storage/index.ts';
import { readMigrations } from '../../src/storage/migrate.ts';
import {
  DATABASE_URL,
  REDIS_URL,
  SKIP_POSTGRES,
  SKIP_POSTGRES_AND_REDIS,
  randomKeyPrefix,
  randomSchema,
  redisTimeMachine,
} from './helpers.ts';
import { openPostgres } from '../../src/storage/postgres/pool.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-data-'));
  dirs.push(dir);
  return dir;
}

async function dropSchema(schema: string): Promise<void> {
  const sql = await openPostgres(DATABASE_URL!);
  await sql.exec(`drop schema if exists ${schema} cascade`);
  await sql.close();
}

describe('openStores without DATABASE_URL or REDIS_URL', () => {
  it('runs embedded: PGlite under DATA_DIR/pglite, migrated, persisted across restarts', async () => {
    const dir = await dataDir();
    const grantId = randomUUID();

    const first = await openStores({ dataDir: dir });
    assert.equal(first.embedded, true);
    assert.ok((await stat(join(dir, 'pglite'))).isDirectory());
    const { rows } = await first.sql.query<{ n: number }>('select count(*)::int as n from schema_migrations');
    assert.equal(rows[0].n, (await readMigrations()).length);
    await first.adapterFactory('Grant').upsert(grantId, { jti: grantId, kind: 'Grant' }, 600);
    await first.adapterFactory('Session').upsert('s1', { jti: 's1', uid: 'u1' }, 600);
    await first.revocations.revoke('jti-1', Date.now() / 1000 + 600);
    assert.equal(await first.revocations.isRevoked('jti-1'), true);
    await first.close();

    const second = await openStores({ dataDir: dir });
    assert.equal((await second.adapterFactory('Grant').find(grantId))?.jti, grantId, 'durable state survived');
    assert.equal(await second.adapterFactory('Session').find('s1'), undefined, 'in-process state did not');
    await second.close();
  });
});

describe('openStores with DATABASE_URL only', { skip: SKIP_POSTGRES }, () => {
  it('uses PostgreSQL and the in-process TTL store, and says it is embedded', async () => {
    const schema = randomSchema();
    const stores = await openStores({ databaseUrl: DATABASE_URL!, dataDir: await dataDir(), schema });
    try {
      assert.equal(stores.embedded, true);
      const { rows } = await stores.sql.query<{ s: string }>('select current_schema() as s');
      assert.equal(rows[0].s, schema);
    } finally {
      await stores.close();
      await dropSchema(schema);
    }
  });
});

describe('openStores with DATABASE_URL and REDIS_URL', { skip: SKIP_POSTGRES_AND_REDIS }, () => {
  it('shares state through PostgreSQL and Redis: a second instance sees the first one\'s writes', async () => {
    const schema = randomSchema();
    const redisKeyPrefix = randomKeyPrefix();
    const time = redisTimeMachine(REDIS_URL!, redisKeyPrefix);
    const opts = { databaseUrl: DATABASE_URL!, redisUrl: REDIS_URL!, schema, redisKeyPrefix };
    const [a, b] = await Promise.all([openStores({ ...opts, dataDir: await dataDir() }), openStores({ ...opts, dataDir: await dataDir() })]);
    try {
      assert.equal(a.embedded, false);
      const grantId = randomUUID();
      const code = randomUUID();
      await a.adapterFactory('Grant').upsert(grantId, { jti: grantId }, 600);
      await a.adapterFactory('AuthorizationCode').upsert(code, { jti: code, grantId }, 60);
      await a.revocations.revoke('jti-2', Date.now() / 1000 + 60);
      assert.ok(await b.adapterFactory('Grant').find(grantId));
      assert.ok(await b.adapterFactory('AuthorizationCode').find(code));
      assert.equal(await b.revocations.isRevoked('jti-2'), true);
      assert.deepEqual(await time.keysWithoutTtl(), []);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await time.close();
      await dropSchema(schema);
    }
  });
});
