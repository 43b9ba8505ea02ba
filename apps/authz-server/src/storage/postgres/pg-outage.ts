// How certbound's PostgreSQL pool fails during an outage (issue 14): a new connection gives up
// after CONNECT_TIMEOUT_MS (pool.ts), and postgresOutageCause tells an outage (refused, lost,
// timed out) from a failure of the statement itself, for storage/outage.ts.
import pg from 'pg';

/**
 * How long a new connection may take before the query fails (an outage must fail fast into a 503,
 * not hold the request); pg.Pool opens new connections on demand, so it reconnects by itself.
 */
export const CONNECT_TIMEOUT_MS = 3_000;

const REFUSED = new Set(['ECONNREFUSED', '57P03', '53300']); // not accepting: down, starting up, too many connections
const LOST = new Set(['ECONNRESET', 'EPIPE', '57P01', '57P02']); // terminated: server stopped or crashed
const UNREACHABLE = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// pg's own client-side failures carry no code: its fixed messages (node-postgres lib/client.js, pg-pool).
const PG_CLIENT_LOST = [/^Connection terminated/, /^Client has encountered a connection error/, /^Cannot use a pool after calling end/];
const PG_CLIENT_TIMEOUT = [/^timeout exceeded when trying to connect/, /^Query read timeout/];

/**
 * Why a PostgreSQL failure is an outage (storage/outage.ts), or undefined when it is not one (a
 * constraint, a syntax error: a DatabaseError with any other SQLSTATE).
 */
export function postgresOutageCause(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code: unknown = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (REFUSED.has(code)) return 'refused';
    if (LOST.has(code) || code.startsWith('08')) return 'lost';
    if (UNREACHABLE.has(code)) return 'unreachable';
  }
  if (err instanceof pg.DatabaseError) return undefined;
  if (PG_CLIENT_LOST.some((re) => re.test(err.message))) return 'lost';
  if (PG_CLIENT_TIMEOUT.some((re) => re.test(err.message))) return 'timeout';
  return undefined;
}
