// Query parameters of the list routes: only the documented ones, each at most once, as text
// PostgreSQL can store; `limit` and the opaque `cursor` of cursor pagination.
import { invalidRequest } from './errors.ts';
import type { AdminContext } from './context.ts';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

/** The query as single string values; refuses unknown and repeated parameters. */
export function queryOf(ctx: AdminContext, allowed: readonly string[]): Record<string, string | undefined> {
  const params = new URLSearchParams(ctx.querystring);
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of params) {
    if (!allowed.includes(name)) throw invalidRequest(name.slice(0, 100), `unknown query parameter; accepted: ${allowed.join(', ') || 'none'}`);
    if (out[name] !== undefined) throw invalidRequest(name, 'given more than once');
    if (!value.isWellFormed() || value.includes('\0')) throw invalidRequest(name, 'must be well-formed Unicode without NUL characters');
    out[name] = value;
  }
  return out;
}

/** `limit`: an integer from 1 to `bounds.max` (default MAX_LIMIT), `bounds.fallback` when absent (default DEFAULT_LIMIT). */
export function limitOf(raw: string | undefined, bounds: { fallback: number; max: number } = { fallback: DEFAULT_LIMIT, max: MAX_LIMIT }): number {
  if (raw === undefined) return bounds.fallback;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > bounds.max) {
    throw invalidRequest('limit', `must be an integer from 1 to ${bounds.max}`);
  }
  return Number(raw);
}

/** A cursor is the sort key of the last item served, as base64url JSON: opaque to callers. */
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(raw: string | undefined, length: number): string[] | undefined {
  if (raw === undefined) return undefined;
  try {
    const key: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === length && key.every((k) => typeof k === 'string' && k.isWellFormed() && !k.includes('\0'))) {
      return key as string[];
    }
  } catch {
    // fall through
  }
  throw invalidRequest('cursor', 'is not a cursor this API returned');
}

/** One page: fetch limit + 1 rows to know whether there is a next page. */
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => string[]): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const served = rows.slice(0, limit);
  return { rows: served, nextCursor: encodeCursor(keyOf(served.at(-1)!)) };
}

/** RFC 3339 / ISO 8601 date-time (or date) for since/until. */
export function timeOf(name: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const at = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i.test(raw) ? new Date(raw) : undefined;
  if (at === undefined || Number.isNaN(at.getTime())) throw invalidRequest(name, 'must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z');
  return at;
}
