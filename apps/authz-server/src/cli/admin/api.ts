// /admin/v1 as the commands see it: a call names what it does ("show client \"ledger\""), gets
// the parsed JSON and the ETag back, and any refusal becomes an ApiRefusal that quotes the API's
// error and error_description. Connecting is lazy: the certificate files are read and the token
// fetched on the first call (so local checks fail first), then reused for the run.
import { CommandError, refusal } from './errors.ts';
import { exchange, type Exchange } from './https.ts';
import { fetchAdminToken } from './token.ts';
import type { Settings } from './settings.ts';

export const ADMIN_PREFIX = 'admin/v1';
/** The API's largest page (admin/query.ts MAX_LIMIT): lists are read whole, page by page. */
const PAGE_LIMIT = 200;

export interface CallOptions {
  query?: Record<string, string | undefined>;
  json?: unknown;
  /** a non-JSON body: the PEM of `certs add` */
  text?: { body: string; contentType: string };
  ifMatch?: string;
}

export interface ApiAnswer {
  status: number;
  etag: string | undefined;
  /** the parsed JSON body; undefined for 204 */
  body: unknown;
}

export interface AdminApi {
  /** `path` is relative to /admin/v1 and already percent-encoded (see `segment`). */
  call(what: string, method: Exchange['method'], path: string, options?: CallOptions): Promise<ApiAnswer>;
  /** Every item of a cursor-paged list. */
  listAll(what: string, path: string, query?: Record<string, string | undefined>): Promise<unknown[]>;
}

/**
 * A path segment, percent-encoded (admin/router.ts decodes): a client_id or resource identifier
 * may hold "/" or "?", and may even be "." or "..", which must not read as a dot segment.
 */
export function segment(value: string): string {
  return value === '.' || value === '..' ? value.replaceAll('.', '%2E') : encodeURIComponent(value);
}

/** An answer's body as the JSON object it must be; `noun` names it: "a client". */
export function answerObject(body: unknown, what: string, noun: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new CommandError(`cannot ${what}: the answer is not ${noun}`);
  return body as Record<string, unknown>;
}

export function connectAdminApi(resolveSettings: () => Promise<Settings>): AdminApi {
  let connection: Promise<{ settings: Settings; token: string }> | undefined;
  async function connect(): Promise<{ settings: Settings; token: string }> {
    const settings = await resolveSettings();
    return { settings, token: await fetchAdminToken(settings) };
  }

  async function call(what: string, method: Exchange['method'], path: string, options: CallOptions = {}): Promise<ApiAnswer> {
    const { settings, token } = await (connection ??= connect());
    const query = new URLSearchParams(Object.entries(options.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    const target = `${settings.base.pathname}${ADMIN_PREFIX}${path}${query ? `?${query}` : ''}`;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.text !== undefined) {
      body = options.text.body;
      headers['content-type'] = options.text.contentType;
    }
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    const answer = await exchange(settings.tls, { method, origin: settings.base, path: target, headers, ...(body === undefined ? {} : { body }) });
    if (answer.status < 200 || answer.status > 299) throw refusal(`cannot ${what}`, answer.status, answer.text);
    const etag = answer.headers.etag;
    let parsed: unknown;
    if (answer.text !== '') {
      try {
        parsed = JSON.parse(answer.text);
      } catch {
        throw new CommandError(`cannot ${what}: ${settings.base.origin} answered ${answer.status} with a body that is not JSON`);
      }
    }
    return { status: answer.status, etag: typeof etag === 'string' ? etag : undefined, body: parsed };
  }

  async function listAll(what: string, path: string, query: Record<string, string | undefined> = {}): Promise<unknown[]> {
    const items: unknown[] = [];
    let cursor: string | undefined;
    do {
      const { body } = await call(what, 'GET', path, { query: { ...query, limit: String(PAGE_LIMIT), cursor } });
      const page = body as { items?: unknown; next_cursor?: unknown } | undefined;
      if (!Array.isArray(page?.items)) throw new CommandError(`cannot ${what}: the answer is not a page of items`);
      items.push(...(page.items as unknown[]));
      cursor = typeof page.next_cursor === 'string' ? page.next_cursor : undefined;
    } while (cursor !== undefined);
    return items;
  }

  return { call, listAll };
}
