// The log of a store outage: at most one `store_unavailable` line per second per store and cause,
// carrying how many failures were suppressed since the previous line, so a PostgreSQL or Redis
// that is down for ten seconds under load writes about ten lines instead of one per request.
// Every failure is still counted (the `count` callback: certbound_store_errors_total).

export type StoreName = 'postgres' | 'redis';

/** What the limiter writes with: the server's logger (pino's warn(object, message)). */
export interface OutageLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface OutageLogOptions {
  logger?: OutageLogger;
  /** Called for every failure, logged or not (ops/metrics.ts recordStoreError). */
  count?: (store: StoreName, cause: string) => void;
  /** Minimum time between two lines of one store and cause; default 1000 ms. */
  intervalMs?: number;
  now?: () => number;
}

export interface OutageLog {
  /** One failure of `store` for `cause` (a short stable code: refused, lost, timeout, ...); `err` describes it. */
  report(store: StoreName, cause: string, err: Error): void;
}

export function createOutageLog(opts: OutageLogOptions = {}): OutageLog {
  const intervalMs = opts.intervalMs ?? 1_000;
  const now = opts.now ?? Date.now;
  const last = new Map<string, { at: number; suppressed: number }>();
  return {
    report(store, cause, err) {
      opts.count?.(store, cause);
      const key = `${store}\0${cause}`;
      const at = now();
      const seen = last.get(key);
      if (seen !== undefined && at - seen.at < intervalMs) {
        seen.suppressed += 1;
        return;
      }
      const suppressed = seen?.suppressed ?? 0;
      last.set(key, { at, suppressed: 0 });
      // The key set is bounded by the few causes classify() names (kv/redis.ts, postgres/pool.ts).
      opts.logger?.warn(
        { event: 'store_unavailable', store, cause, suppressed, err: { name: err.name, message: err.message, code: codeOf(err) } },
        `${store} unavailable (${cause})${suppressed > 0 ? `; ${suppressed} more failures since the previous line` : ''}`,
      );
    },
  };
}

function codeOf(err: Error): string | undefined {
  const code: unknown = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
