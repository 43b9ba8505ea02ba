// A fetch for clients under test (oauth4webapi's customFetch, the headless browser) over
// node:https: verifies the server against the CA it is given, never the system store, and can
// present a client certificate. One fresh TLS connection per request, like support/https.ts.
import { request as httpsRequest } from 'node:https';

export interface TlsFetchOptions {
  /** PEM that verifies the server's certificate. Verification is never turned off. */
  ca: string;
  cert?: string | undefined;
  key?: string | undefined;
}

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

async function bodyOf(body: RequestInit['body'], headers: Headers): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (body instanceof URLSearchParams) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    return Buffer.from(body.toString());
  }
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return Buffer.from(body as ArrayBuffer);
  return Buffer.from(await new Response(body).arrayBuffer());
}

export function tlsFetch(options: TlsFetchOptions): FetchFn {
  return async function fetchOverTls(input, init = {}) {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init.headers);
    const body = await bodyOf(init.body, headers);
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, {
        method: init.method ?? 'GET',
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        headers: Object.fromEntries(headers),
        agent: false,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) out.append(name, v);
          }
          const status = res.statusCode ?? 0;
          const payload = status === 204 || status === 304 || init.method === 'HEAD' ? null : Buffer.concat(chunks);
          resolve(new Response(payload, { status, statusText: res.statusMessage ?? '', headers: out }));
        });
      });
      req.on('error', reject);
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(body);
    });
  };
}
