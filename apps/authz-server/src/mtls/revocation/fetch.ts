// Fetching revocation data over plain HTTP, as RFC 5280 §4.2.1.13 and RFC 6960 Appendix A.1
// publish it: the data is signed, so TLS adds nothing, and an https fetch could itself depend on
// revocation checking. Every request has a deadline and a size cap; concurrent callers asking
// the same question share one request.
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface HttpRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly body?: Uint8Array;
  readonly contentType?: string;
  readonly accept: string;
  /** for the whole exchange, redirects included */
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export type HttpResult = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly detail: string };

/** Injectable transport (tests); must never throw. */
export type HttpFetch = (request: HttpRequest) => Promise<HttpResult>;

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_MAX_OCSP_BYTES = 1024 * 1024;
export const DEFAULT_MAX_CRL_BYTES = 10 * 1024 * 1024;
const MAX_REDIRECTS = 3;

/** Why a URL is not fetched, or undefined when it may be. */
export function unusableUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:') return `is not an http:// URL (${url.protocol} is refused: revocation data is fetched over http only)`;
  return undefined;
}

/** node:http, no proxy from the environment, redirects followed only to other http:// URLs. */
export function httpFetch(request: HttpRequest): Promise<HttpResult> {
  return new Promise((resolve) => {
    let settled = false;
    let current: { destroy(): void } | undefined;
    const finish = (result: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      current?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, detail: `unreachable (timeout after ${request.timeoutMs} ms)` }), request.timeoutMs);

    const attempt = (url: string, redirects: number) => {
      const refusal = unusableUrl(url);
      if (refusal !== undefined) return finish({ ok: false, detail: redirects === 0 ? refusal : `redirected to ${url}, which ${refusal}` });
      let req: ReturnType<typeof httpRequest>;
      try {
        req = httpRequest(url, {
          method: request.method,
          headers: { accept: request.accept, ...(request.contentType ? { 'content-type': request.contentType } : {}) },
        });
      } catch (err) {
        return finish({ ok: false, detail: `cannot be requested (${(err as Error).message})` });
      }
      current = req;
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, detail: `unreachable (${err.code ?? err.message})` }));
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location !== undefined && request.method === 'GET') {
          res.resume();
          if (redirects >= MAX_REDIRECTS) return finish({ ok: false, detail: `more than ${MAX_REDIRECTS} redirects` });
          const next = URL.parse(res.headers.location, url);
          if (next === null) return finish({ ok: false, detail: 'redirected to something that is not a URL' });
          return attempt(next.href, redirects + 1);
        }
        if (status !== 200) {
          res.resume();
          return finish({ ok: false, detail: `answered HTTP ${status}` });
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > request.maxBytes) {
          return finish({ ok: false, detail: `sent ${declared} bytes, more than the ${request.maxBytes}-byte limit` });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > request.maxBytes) return finish({ ok: false, detail: `sent more than the ${request.maxBytes}-byte limit` });
          chunks.push(chunk);
        });
        res.on('end', () => finish({ ok: true, body: Buffer.concat(chunks) }));
        res.on('error', (err: Error) => finish({ ok: false, detail: `unreachable (${err.message})` }));
      });
      req.end(request.body);
    };
    attempt(request.url, 0);
  });
}

/**
 * At most one request in flight per question: the URL for a GET (a CRL), the URL and body for
 * a POST (one OCSP CertID). Later callers get the same promise until it settles.
 */
export function singleFlight(fetch: HttpFetch, onRequest: (request: HttpRequest) => void = () => {}): HttpFetch {
  const inFlight = new Map<string, Promise<HttpResult>>();
  return (request) => {
    const key = request.body === undefined
      ? `${request.method} ${request.url}`
      : `${request.method} ${request.url} ${createHash('sha256').update(request.body).digest('base64url')}`;
    let pending = inFlight.get(key);
    if (pending === undefined) {
      onRequest(request);
      pending = fetch(request)
        .catch((err: unknown): HttpResult => ({ ok: false, detail: `failed (${(err as Error).message})` }))
        .finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}
