// A tiny router for /admin/v1. Its route table is data (method, path, the statuses each route
// can answer), so the OpenAPI document can be checked against it and the CLI can rely on it.
import { AdminError, notFound } from './errors.ts';
import type { Method, Route } from './context.ts';

// Route handlers and the admin API import the route types from here, beside createRouter.
export type { Method, Route } from './context.ts';

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export interface Router {
  readonly routes: readonly Route[];
  /** The route for this method and path (relative to /admin/v1); throws 404 or 405. */
  match(method: string, path: string): RouteMatch;
}

type Segment = { literal: string } | { param: string };

function segmentsOf(path: string): Segment[] {
  return path.split('/').slice(1).map((s) => (s.startsWith(':') ? { param: s.slice(1) } : { literal: s }));
}

/** A path parameter as text: percent-decoded, well-formed Unicode, no NUL (PostgreSQL refuses it). */
function decodeParam(raw: string): string | undefined {
  try {
    const value = decodeURIComponent(raw);
    return value !== '' && value.isWellFormed() && !value.includes('\0') ? value : undefined;
  } catch {
    return undefined;
  }
}

export function createRouter(routes: readonly Route[]): Router {
  const compiled = routes.map((route) => ({ route, segments: segmentsOf(route.path) }));
  const seen = new Set<string>();
  for (const { method, path } of routes) {
    const key = `${method} ${path.replace(/:[^/]+/g, ':')}`;
    if (seen.has(key)) throw new Error(`admin router: ${method} ${path} is registered twice`);
    seen.add(key);
  }

  function matchPath(segments: Segment[], parts: string[]): Record<string, string> | undefined {
    if (segments.length !== parts.length) return undefined;
    const params: Record<string, string> = {};
    for (const [i, segment] of segments.entries()) {
      const part = parts[i];
      if ('literal' in segment) {
        if (segment.literal !== part) return undefined;
      } else {
        const value = decodeParam(part);
        if (value === undefined) return undefined;
        params[segment.param] = value;
      }
    }
    return params;
  }

  return {
    routes: Object.freeze([...routes]),
    match(method, path) {
      const parts = path.split('/').slice(1);
      const allowed: Method[] = [];
      for (const { route, segments } of compiled) {
        const params = matchPath(segments, parts);
        if (!params) continue;
        if (route.method === method) return { route, params };
        allowed.push(route.method);
      }
      if (allowed.length > 0) {
        throw new AdminError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, {
          headers: { allow: allowed.join(', ') },
        });
      }
      throw notFound(`no admin route ${method} /admin/v1${path}`);
    },
  };
}
