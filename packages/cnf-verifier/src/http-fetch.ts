/**
 * A minimal fetch over node:https for a private CA and/or a client certificate (mTLS), for
 * JWKS and introspection. Peer verification stays on: this module never sets
 * rejectUnauthorized to false (DESIGN.md: no code path disables outgoing TLS verification).
 */
import { request } from 'node:https';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** An undici Dispatcher (e.g. `new Agent({ connect: { ca } })`), typed loosely so no undici types are needed. */
export type Dispatcher = object;

/** The global fetch with an undici `dispatcher` (a Node extension of RequestInit). */
export function fetchWithDispatcher(dispatcher: Dispatcher): FetchLike {
  return (url, init) => fetch(url, { ...init, dispatcher } as RequestInit);
}

export interface HttpsFetchOptions {
  /** Trust anchors for the server certificate (PEM). Replaces the default CA list. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** Client certificate (PEM) for mutual TLS. */
  cert?: string | Buffer | undefined;
  /** Client private key (PEM) for mutual TLS. */
  key?: string | Buffer | undefined;
}

const MAX_BODY = 1024 * 1024;

export function createHttpsFetch(tls: HttpsFetchOptions): FetchLike {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'https:') {
        reject(new TypeError(`refusing to send TLS credentials over ${target.protocol}`));
        return;
      }
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const req = request(
        target,
        { method: init.method ?? 'GET', headers, ca: tls.ca, cert: tls.cert, key: tls.key, signal: init.signal ?? undefined },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY) res.destroy(new Error(`response from ${target.host} exceeds ${MAX_BODY} bytes`));
            else chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
            }
            const status = res.statusCode ?? 500;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status, headers: responseHeaders }));
          });
        },
      );
      req.on('error', reject);
      if (typeof init.body === 'string') req.write(init.body);
      req.end();
    });
}
