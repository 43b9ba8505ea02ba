/**
 * The URLs a request may have been sent to, for RFC 9449 §4.3 htu, and the htu comparison form
 * of a URL. The origin comes only from configuration: the `Host` header, `X-Forwarded-Host` and
 * the authority of an absolute-form request target are chosen by whoever sends the request.
 */

/**
 * A configured external origin (`https://api.example.com[:port]`), in its serialised form;
 * undefined when the value is not an http(s) origin (a path, query, fragment or credentials).
 */
export function parseOrigin(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username || url.password || url.search || url.hash || value.includes('?') || value.includes('#')) return undefined;
  if (url.pathname !== '/' || /^[a-z]+:\/\/[^/]+\/./i.test(value)) return undefined;
  return url.origin;
}

/**
 * The path and query of a request target: origin-form as sent; absolute-form (RFC 9112 §3.2.2)
 * reduced to its path and query, its authority ignored. Undefined for any other form.
 */
export function requestPath(target: string | undefined): string | undefined {
  const value = target ?? '/';
  if (value.startsWith('/')) return value;
  if (!/^https?:\/\//i.test(value)) return undefined;
  try {
    const url = new URL(value);
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}

/** The URL the request was sent to under each configured origin. */
export function externalUrls(origins: readonly string[], path: string): string[] {
  return origins.map((origin) => `${origin}${path}`);
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
