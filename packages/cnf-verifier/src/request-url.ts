/** The URL a request was sent to, and the RFC 9449 §4.3 htu comparison form of a URL. */
import type { IncomingHttpHeaders } from 'node:http';

export interface UrlRequest {
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  socket?: { encrypted?: boolean } | object | null | undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.split(',')[0]?.trim() || undefined;
}

/**
 * The external URL of the request: scheme from the socket, authority from `Host`. When the peer
 * is a trusted proxy, `X-Forwarded-Proto` / `X-Forwarded-Host` win. Undefined without a host.
 */
export function requestUrl(req: UrlRequest, fromTrustedProxy: boolean): string | undefined {
  const path = req.url ?? '/';
  // RFC 9112 §3.2.2 absolute-form request target: already a full URL.
  if (/^https?:\/\//i.test(path)) return path;
  const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  const proto = (fromTrustedProxy && first(req.headers['x-forwarded-proto'])) || (encrypted ? 'https' : 'http');
  const host = (fromTrustedProxy && first(req.headers['x-forwarded-host'])) || first(req.headers.host) || first(req.headers[':authority']);
  if (!host) return undefined;
  return `${proto}://${host}${path}`;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * RFC 9449 §4.3 step 9 with RFC 3986 §6.2.2 / §6.2.3 normalisation: scheme and host lowercase,
 * default port dropped, dot segments resolved, percent-encoding case-normalised with unreserved
 * characters decoded; query and fragment removed. Undefined when not an http(s) URL.
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}
