// How certbound's Redis connections fail during an outage (issue 14): fast, into one error the
// caller answers 503 with, instead of waiting in ioredis' offline queue for a reconnect; and
// which failures are an outage (storage/outage.ts) rather than a reply of the server.
import { ReplyError } from 'ioredis';

/**
 * A command that gets no answer within this time fails (a hung or unreachable Redis must fail
 * fast into a 503); ioredis reconnects by itself, with back-off, and resubscribes.
 */
export const COMMAND_TIMEOUT_MS = 2_000;

/**
 * Connection options of every certbound Redis connection: no offline queue (a command while
 * disconnected fails at once instead of waiting for a reconnect), one retry of a command cut by
 * a dropped connection, and a command timeout.
 */
export const FAIL_FAST = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: COMMAND_TIMEOUT_MS } as const;

// Replies of a Redis that cannot serve now (loading its data, no primary, cluster down).
const UNAVAILABLE_REPLY = /^(LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|BUSY) /;

/**
 * Why a Redis failure is an outage, or undefined when it is not one. certbound's calls reach
 * ioredis only after validating their arguments, so any failure that is not a reply of the
 * server (a wrong type...) is the connection's: closed, refused, timed out, not writeable.
 */
export function redisOutageCause(err: unknown): string | undefined {
  if (!(err instanceof Error) || err instanceof RangeError || err instanceof TypeError) return undefined;
  if (err instanceof ReplyError) return UNAVAILABLE_REPLY.test(err.message) ? 'unavailable' : undefined;
  const code: unknown = (err as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT' || /^Command timed out/.test(err.message)) return 'timeout';
  return 'lost';
}
