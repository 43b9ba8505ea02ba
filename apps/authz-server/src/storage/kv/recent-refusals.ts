// The recent OAuth refusals the admin console shows (GET /admin/v1/refusals, /status): every
// refusal the reporter (oidc/errors.ts) logs that names a client, kept in the KvStore in capped
// lists whose items are dropped after 24 h — one list per registered client (its 100 newest), so a
// noisy client never evicts another's, and one global list (the 2 000 newest) for the overview's
// counts. A client id is chosen by whoever sends the request: in a key it is only ever a hash, and
// an id no registered client has goes to the global list only (no key per invented id).
// Recording never slows or fails the refused request: it is fire-and-forget, a bounded number of
// writes are in flight, and failures are counted and logged at most once a second (a store outage
// by the outage log, storage/outage-log.ts; anything else here).
import { createHash } from 'node:crypto';
import type { KvStore } from './kv.ts';
import { isStoreUnavailable } from '../outage.ts';

/** One refusal as stored and as GET /admin/v1/refusals answers it. */
export interface RefusalRecord {
  /** ISO 8601 */
  at: string;
  client_id: string;
  /** the OAuth error code */
  error: string;
  /** the failed check's stable code (oidc/errors.ts checkOf), else the OAuth error: the metrics' `reason` */
  reason: string;
  /** the error_description the client read */
  description: string;
  /** public or mtls (undefined before a listener was known) */
  listener: string | null;
}

export interface RefusalInput {
  at?: Date;
  clientId: string;
  /** true when the refusal concerns a client the server found (a registered client): only then a list of its own */
  registered: boolean;
  error: string;
  reason: string;
  description: string;
  listener: string | undefined;
}

export interface RecentRefusals {
  /** Records one refusal; returns at once and never throws. */
  record(refusal: RefusalInput): void;
  /** The client's refusals at or after `since`, newest first, at most `limit` (≤ PER_CLIENT). */
  forClient(clientId: string, query: { since: Date; limit: number }): Promise<RefusalRecord[]>;
  /** Every client's refusals at or after `since`, newest first, at most `limit` (≤ GLOBAL). */
  recent(query: { since: Date; limit: number }): Promise<RefusalRecord[]>;
  /** Resolves once every write started so far has settled (tests, shutdown). */
  settled(): Promise<void>;
}

export const PER_CLIENT = 100;
export const GLOBAL = 2_000;
/** How long a refusal is kept. */
export const KEEP_SECONDS = 24 * 3600;
/** Longest client_id / description stored: a refusal names them, it does not archive them. */
const MAX_CLIENT_ID = 256;
const MAX_DESCRIPTION = 500;
const MAX_CODE = 64;
/** Writes in flight beyond this are dropped (and counted): a slow Redis does not pile up promises. */
const MAX_IN_FLIGHT = 256;

const GLOBAL_KEY = 'refusals:all';
/** Per client: the SHA-256 of the id, so any id gives a short key of one shape. */
export function clientKey(clientId: string): string {
  return `refusals:client:${createHash('sha256').update(clientId).digest('base64url')}`;
}

export interface RecentRefusalsOptions {
  /** Where failed writes are reported: at most one line a second, with how many were suppressed. */
  logger?: { warn(fields: Record<string, unknown>, message: string): void };
  /** Called for every write that failed or was dropped (tests, metrics). */
  onDropped?: (why: 'failed' | 'overloaded') => void;
  now?: () => number;
  perClient?: number;
  global?: number;
  logIntervalMs?: number;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A stored item read back: the store is not trusted to hold what was written. */
function parseRecord(raw: string): RefusalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const text = (name: string) => typeof v[name] === 'string';
  if (!text('at') || !text('client_id') || !text('error') || !text('reason') || !text('description')) return undefined;
  if (Number.isNaN(Date.parse(v.at as string))) return undefined;
  if (v.listener !== null && typeof v.listener !== 'string') return undefined;
  return {
    at: v.at as string, client_id: v.client_id as string, error: v.error as string, reason: v.reason as string,
    description: v.description as string, listener: v.listener,
  };
}

export function createRecentRefusals(kv: KvStore, opts: RecentRefusalsOptions = {}): RecentRefusals {
  const now = opts.now ?? Date.now;
  const perClient = opts.perClient ?? PER_CLIENT;
  const global = opts.global ?? GLOBAL;
  const logIntervalMs = opts.logIntervalMs ?? 1_000;
  const inFlight = new Set<Promise<void>>();
  let lastLog = -Infinity;
  let suppressed = 0;

  function dropped(why: 'failed' | 'overloaded', err?: unknown): void {
    opts.onDropped?.(why);
    // An outage of a guarded store is logged (once a second per cause) and counted by the outage log already.
    if (isStoreUnavailable(err)) return;
    const at = now();
    if (at - lastLog < logIntervalMs) {
      suppressed++;
      return;
    }
    lastLog = at;
    const previous = suppressed;
    suppressed = 0;
    opts.logger?.warn(
      { event: 'recent_refusals_write_failed', why, suppressed: previous, err: err instanceof Error ? { name: err.name, message: err.message } : undefined },
      `a refusal was not recorded for the console (${why === 'failed' ? (err as Error | undefined)?.message ?? 'store error' : `more than ${MAX_IN_FLIGHT} writes in flight`})${previous > 0 ? `; ${previous} more since the previous line` : ''}`,
    );
  }

  async function read(key: string, count: number, since: Date): Promise<RefusalRecord[]> {
    const floor = Math.max(since.getTime(), now() - KEEP_SECONDS * 1000);
    const out: RefusalRecord[] = [];
    for (const raw of await kv.listHead(key, count)) {
      const record = parseRecord(raw);
      // Newest first, but instances' clocks and writes interleave: every item is looked at.
      if (record === undefined || Date.parse(record.at) < floor) continue;
      out.push(record);
    }
    return out;
  }

  return {
    record(input) {
      if (inFlight.size >= MAX_IN_FLIGHT) {
        dropped('overloaded');
        return;
      }
      const record: RefusalRecord = {
        at: (input.at ?? new Date(now())).toISOString(),
        client_id: clip(input.clientId, MAX_CLIENT_ID),
        error: clip(input.error, MAX_CODE),
        reason: clip(input.reason, MAX_CODE),
        description: clip(input.description, MAX_DESCRIPTION),
        listener: input.listener ?? null,
      };
      const item = JSON.stringify(record);
      let write: Promise<void>;
      try {
        write = Promise.all([
          kv.pushCapped(GLOBAL_KEY, item, global, KEEP_SECONDS),
          ...(input.registered ? [kv.pushCapped(clientKey(input.clientId), item, perClient, KEEP_SECONDS)] : []),
        ]).then(() => undefined, (err: unknown) => dropped('failed', err));
      } catch (err) {
        // A store that throws instead of rejecting (closed): still never the request's problem.
        dropped('failed', err);
        return;
      }
      inFlight.add(write);
      void write.finally(() => inFlight.delete(write));
    },
    forClient(clientId, query) {
      // The key is a hash: an item of another id (a collision, or a store not to be trusted) is left out.
      const stored = clip(clientId, MAX_CLIENT_ID);
      return read(clientKey(clientId), Math.min(query.limit, perClient), query.since).then((rows) => rows.filter((r) => r.client_id === stored));
    },
    recent(query) {
      return read(GLOBAL_KEY, Math.min(query.limit, global), query.since);
    },
    async settled() {
      await Promise.all([...inFlight]);
    },
  };
}
