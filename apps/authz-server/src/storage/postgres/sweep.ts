// Scheduled removal of expired oidc_models rows. Reads already ignore an expired row
// (postgres/oidc-models.ts); the sweep only keeps the table from growing. Every instance schedules it.
// Each round first tries a session-level PostgreSQL advisory lock without waiting: one instance
// sweeps, and any other instance that tries during that round skips it. Rows are deleted in
// bounded batches, one statement each, so a large backlog never holds row locks for long.
import type { SqlClient } from '../sql.ts';
import { LOCK_CLASS } from './locks.ts';
import { deleteExpiredModels } from './oidc-models.ts';

/** The part of a pino logger the sweep uses. */
export interface SweepLogger {
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SweepOptions {
  /** Rows per DELETE statement. Default 1000. */
  batchSize?: number;
  /** At most this many batches per round; the rest waits for the next round. Default 100. */
  maxBatches?: number;
}

export interface ScheduleOptions extends SweepOptions {
  /** Mean time between rounds. Default 10 minutes. */
  intervalMs?: number;
  /** Each wait is intervalMs × [1 - jitter, 1 + jitter), so instances drift apart. Default 0.2. */
  jitter?: number;
  /** Wait after a round that hit maxBatches (a backlog is left). Default 1 s. */
  backlogDelayMs?: number;
  logger?: SweepLogger;
}

export type SweepResult =
  | { swept: true; deleted: number; batches: number; /** maxBatches was reached: rows may be left. */ more: boolean }
  | { swept: false; reason: 'locked' };

const LOCK_ARGS = `${LOCK_CLASS.sweepModels}, hashtext(current_schema())`;

/** One round: under the advisory lock when it is free, else nothing. */
export async function sweepExpiredModels(sql: SqlClient, opts: SweepOptions = {}): Promise<SweepResult> {
  const batchSize = opts.batchSize ?? 1000;
  const maxBatches = opts.maxBatches ?? 100;
  return sql.session(async (conn) => {
    const { rows } = await conn.query<{ locked: boolean }>(`select pg_try_advisory_lock(${LOCK_ARGS}) as locked`);
    if (rows[0]?.locked !== true) return { swept: false, reason: 'locked' } as const;
    try {
      let deleted = 0;
      let batches = 0;
      let last: number;
      do {
        last = await deleteExpiredModels(conn, batchSize);
        deleted += last;
        batches += 1;
      } while (last === batchSize && batches < maxBatches);
      return { swept: true, deleted, batches, more: last === batchSize } as const;
    } finally {
      // If this throws, the pool destroys the connection, which releases the lock too.
      await conn.query(`select pg_advisory_unlock(${LOCK_ARGS})`);
    }
  });
}

export interface ModelSweeper {
  /** Cancels the next round and waits for a running one to finish. */
  stop(): Promise<void>;
}

/**
 * Runs sweepExpiredModels every intervalMs (with jitter) on an unref'd timer, so it never keeps
 * the process alive. Logs one line per round that swept, with the count. A failing store is
 * logged once, retried every round, and its recovery logged once.
 */
export function scheduleModelSweep(sql: SqlClient, opts: ScheduleOptions = {}): ModelSweeper {
  const intervalMs = opts.intervalMs ?? 10 * 60_000;
  const jitter = opts.jitter ?? 0.2;
  const backlogDelayMs = opts.backlogDelayMs ?? 1000;
  const log = opts.logger;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failedRounds = 0;

  const nextWait = () => intervalMs * (1 - jitter + 2 * jitter * Math.random());

  function schedule(ms: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = round().finally(() => {
        running = undefined;
      });
    }, ms);
    timer.unref();
  }

  async function round(): Promise<void> {
    let wait = nextWait();
    try {
      const result = await sweepExpiredModels(sql, opts);
      if (failedRounds > 0) {
        log?.info({ event: 'oidc_models_sweep_recovered', failedRounds }, `sweeping expired oidc_models rows works again after ${failedRounds} failed round(s)`);
        failedRounds = 0;
      }
      if (result.swept) {
        const line = { event: 'oidc_models_sweep', deleted: result.deleted, batches: result.batches, more: result.more };
        const msg = `swept ${result.deleted} expired oidc_models row(s)${result.more ? '; more left for the next round' : ''}`;
        if (result.deleted > 0) log?.info(line, msg);
        else log?.debug(line, msg);
        if (result.more) wait = backlogDelayMs;
      }
    } catch (err) {
      failedRounds += 1;
      if (failedRounds === 1) {
        log?.error({ event: 'oidc_models_sweep_failed', err }, 'sweeping expired oidc_models rows failed; retrying every round, logged again only once it works');
      }
    }
    schedule(wait);
  }

  schedule(nextWait());
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
