// The sweep of expired oidc_models rows (storage/postgres/sweep.ts): on embedded PGlite always, on
// PostgreSQL when TEST_DATABASE_URL is set; its schedule, its log lines and openStores' wiring.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlClient } from '../../../src/storage/sql.ts';
import { migrate } from '../../../src/storage/migrate.ts';
import { LOCK_CLASS } from '../../../src/storage/postgres/locks.ts';
import { openStores } from '../../../src/storage/index.ts';
import { scheduleModelSweep, sweepExpiredModels, type SweepLogger } from '../../../src/storage/postgres/sweep.ts';
import { SKIP_POSTGRES, openTestPostgres, sharedPgliteSchemas } from '../helpers.ts';

const pgliteSchema = sharedPgliteSchemas();

/** `expired` rows that expired a minute ago, 3 that expire in an hour, 2 that never expire. */
async function seed(sql: SqlClient, expired: number): Promise<void> {
  await sql.query(
    `insert into oidc_models (model, id, payload, expires_at)
     select 'AccessToken', 'expired-' || i, '{}'::jsonb, now() - interval '1 minute' from generate_series(1, $1::int) as i`,
    [expired],
  );
  await sql.query(
    `insert into oidc_models (model, id, payload, expires_at)
     select 'RefreshToken', 'live-' || i, '{}'::jsonb, now() + interval '1 hour' from generate_series(1, 3) as i`,
  );
  await sql.query(
    `insert into oidc_models (model, id, payload, expires_at) values ('Grant', 'forever-1', '{}', null), ('Grant', 'forever-2', '{}', null)`,
  );
}

async function remaining(sql: SqlClient): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>('select id from oidc_models order by id');
  return rows.map((r) => r.id);
}

const KEPT = ['forever-1', 'forever-2', 'live-1', 'live-2', 'live-3'];

interface Line {
  level: 'info' | 'debug' | 'error';
  obj: Record<string, unknown>;
  msg: string;
  at: number;
}
function recordingLogger(): SweepLogger & { lines: Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    info: (obj, msg) => void lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg, at: Date.now() }),
    debug: (obj, msg) => void lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg, at: Date.now() }),
    error: (obj, msg) => void lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg, at: Date.now() }),
  };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function sweepContract(
  name: string,
  skip: string | false,
  open: () => Promise<{ sql: SqlClient; second: () => Promise<SqlClient>; close: () => Promise<void> }>,
) {
  describe(`sweepExpiredModels on ${name}`, { skip }, () => {
    it('deletes expired rows in batches and keeps unexpired and never-expiring ones', async () => {
      const db = await open();
      try {
        await seed(db.sql, 7);
        assert.deepEqual(await sweepExpiredModels(db.sql, { batchSize: 3 }), { swept: true, deleted: 7, batches: 3, more: false });
        assert.deepEqual(await remaining(db.sql), KEPT);
        assert.deepEqual(await sweepExpiredModels(db.sql), { swept: true, deleted: 0, batches: 1, more: false });
      } finally {
        await db.close();
      }
    });

    it('stops at maxBatches and says rows are left; the next round takes them', async () => {
      const db = await open();
      try {
        await seed(db.sql, 5);
        assert.deepEqual(await sweepExpiredModels(db.sql, { batchSize: 2, maxBatches: 2 }), { swept: true, deleted: 4, batches: 2, more: true });
        assert.equal((await remaining(db.sql)).filter((id) => id.startsWith('expired-')).length, 1);
        assert.deepEqual(await sweepExpiredModels(db.sql, { batchSize: 2, maxBatches: 2 }), { swept: true, deleted: 1, batches: 1, more: false });
        assert.deepEqual(await remaining(db.sql), KEPT);
      } finally {
        await db.close();
      }
    });

    it('two sweepers at once: one does the work, and the lock is free afterwards', async () => {
      const db = await open();
      try {
        await seed(db.sql, 50);
        const other = await db.second();
        const results = await Promise.all([sweepExpiredModels(db.sql, { batchSize: 10 }), sweepExpiredModels(other, { batchSize: 10 })]);
        // Either the second found the lock taken and skipped, or it ran after the first and found
        // nothing: never both deleting.
        const workers = results.filter((r) => r.swept && r.deleted > 0);
        assert.equal(workers.length, 1, JSON.stringify(results));
        assert.deepEqual(workers.map((r) => r.swept && r.deleted), [50]);
        for (const r of results) assert.ok(!r.swept ? r.reason === 'locked' : r.deleted === 50 || r.deleted === 0);
        assert.deepEqual(await remaining(db.sql), KEPT);
        // Released: a later round takes the lock again.
        assert.equal((await sweepExpiredModels(other)).swept, true);
      } finally {
        await db.close();
      }
    });
  });
}

sweepContract('embedded PGlite', false, async () => {
  const sql = await pgliteSchema();
  await migrate(sql);
  await sql.exec('delete from oidc_models');
  // PGlite is one session: a second instance on it is the same database, serialized.
  return { sql, second: async () => sql, close: async () => {} };
});

sweepContract('PostgreSQL', SKIP_POSTGRES, async () => {
  const pg = await openTestPostgres();
  await migrate(pg.sql);
  return { sql: pg.sql, second: () => pg.second(), close: () => pg.drop() };
});

describe('sweepExpiredModels on PostgreSQL while another instance holds the lock', { skip: SKIP_POSTGRES }, () => {
  it('skips the round without waiting and deletes nothing', async () => {
    const pg = await openTestPostgres();
    try {
      await migrate(pg.sql);
      await seed(pg.sql, 4);
      const other = await pg.second();
      await other.session(async (conn) => {
        const lockArgs = `${LOCK_CLASS.sweepModels}, hashtext(current_schema())`;
        await conn.query(`select pg_advisory_lock(${lockArgs})`);
        try {
          assert.deepEqual(await sweepExpiredModels(pg.sql), { swept: false, reason: 'locked' });
        } finally {
          await conn.query(`select pg_advisory_unlock(${lockArgs})`);
        }
      });
      assert.equal((await remaining(pg.sql)).length, 4 + KEPT.length);
      assert.deepEqual(await sweepExpiredModels(pg.sql), { swept: true, deleted: 4, batches: 1, more: false });
    } finally {
      await pg.drop();
    }
  });
});

describe('scheduleModelSweep', () => {
  it('sweeps every interval and logs one line with the count; quiet rounds log at debug', async () => {
    const sql = await pgliteSchema();
    await migrate(sql);
    await seed(sql, 3);
    const logger = recordingLogger();
    const sweeper = scheduleModelSweep(sql, { intervalMs: 20, jitter: 0, logger });
    try {
      await until('a quiet round after the sweep', () => logger.lines.some((l) => l.level === 'debug'));
    } finally {
      await sweeper.stop();
    }
    const [first] = logger.lines;
    assert.equal(first?.level, 'info');
    assert.deepEqual(first?.obj, { event: 'oidc_models_sweep', deleted: 3, batches: 1, more: false });
    assert.match(first?.msg ?? '', /swept 3 expired oidc_models row/);
    assert.ok(logger.lines.slice(1).every((l) => l.level === 'debug' && l.obj['deleted'] === 0));
    assert.deepEqual(await remaining(sql), KEPT);
  });

  it('a backlog beyond maxBatches is taken in quick follow-up rounds, not after a full interval', async () => {
    const sql = await pgliteSchema();
    await migrate(sql);
    await seed(sql, 9);
    const logger = recordingLogger();
    const sweeper = scheduleModelSweep(sql, { intervalMs: 400, jitter: 0, batchSize: 2, maxBatches: 2, backlogDelayMs: 5, logger });
    try {
      await until('the backlog is gone', () => logger.lines.some((l) => l.obj['more'] === false));
    } finally {
      await sweeper.stop();
    }
    const rounds = logger.lines.filter((l) => l.level === 'info');
    assert.deepEqual(rounds.map((l) => [l.obj['deleted'], l.obj['more']]), [[4, true], [4, true], [1, false]]);
    assert.ok(rounds[2].at - rounds[0].at < 300, 'the follow-up rounds came before the next interval');
    assert.deepEqual(await remaining(sql), KEPT);
  });

  it('a failing store is logged once, retried every round, and its recovery logged once', async () => {
    const sql = await pgliteSchema();
    await migrate(sql);
    await seed(sql, 2);
    let failures = 4;
    const flaky: SqlClient = {
      ...sql,
      session: (fn) => (failures-- > 0 ? Promise.reject(new Error('connection refused')) : sql.session(fn)),
    };
    const logger = recordingLogger();
    const sweeper = scheduleModelSweep(flaky, { intervalMs: 10, jitter: 0, logger });
    try {
      await until('the sweep after recovery', () => logger.lines.some((l) => l.obj['event'] === 'oidc_models_sweep'));
    } finally {
      await sweeper.stop();
    }
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.obj['event'], 'oidc_models_sweep_failed');
    assert.equal((errors[0]?.obj['err'] as Error).message, 'connection refused');
    const recovered = logger.lines.filter((l) => l.obj['event'] === 'oidc_models_sweep_recovered');
    assert.deepEqual(recovered.map((l) => l.obj['failedRounds']), [4]);
    assert.deepEqual(await remaining(sql), KEPT);
  });

  it('stop() waits for a running round and no round starts afterwards', async () => {
    const sql = await pgliteSchema();
    await migrate(sql);
    await seed(sql, 1);
    let sessions = 0;
    const counting: SqlClient = { ...sql, session: (fn) => (sessions++, sql.session(fn)) };
    const sweeper = scheduleModelSweep(counting, { intervalMs: 5, jitter: 0 });
    await until('a round', () => sessions > 0);
    await sweeper.stop();
    const after = sessions;
    await sleep(50);
    assert.equal(sessions, after);
  });
});

describe('openStores schedules the sweep and stops it on close', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('embedded: expired rows go on the schedule; close() stops it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certbound-sweep-'));
    dirs.push(dir);
    const logger = recordingLogger();
    const stores = await openStores({ dataDir: dir, logger, sweep: { intervalMs: 30, jitter: 0 } });
    try {
      await seed(stores.sql, 2);
      await until('a sweep that deleted the rows', () => logger.lines.some((l) => l.obj['deleted'] === 2));
    } finally {
      await stores.close();
    }
    const count = logger.lines.length;
    await sleep(80);
    assert.equal(logger.lines.length, count, 'no round after close()');
  });
});
