// Serves the admin console on the public listener: the one shell page (index.html, also at the
// sign-in callback), its flat assets directory (listed once at start: nothing else on disk can be
// named), and config.json (the endpoints the page talks to). The pages are static; everything
// they show comes from /admin/v1 with a DPoP-bound token in headers, never a cookie, so there is
// nothing here a forged cross-site request could use. Every answer forbids inline script and
// style, framing and referrers (CSP), and is never sniffed.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Middleware } from 'koa';
import { listenerOf } from '../http/listeners.ts';
import { ADMIN_RESOURCE, ADMIN_SCOPE } from '../oidc/resource-indicators.ts';
import { CONSOLE_CLIENT_ID, CONSOLE_PATH, consoleUrls } from './registration.ts';

/** apps/authz-server/console: index.html and assets/ (helper-free: plain ES modules, no build step). */
export const CONSOLE_DIR = join(import.meta.dirname, '..', '..', 'console');

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};
const ASSET = /^[a-z0-9][a-z0-9-]{0,63}\.(js|css|svg|png|ico)$/;

interface Asset { body: Buffer; type: string }

export interface ConsoleEndpoints {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint: string;
  end_session_endpoint: string;
}

/** Reads the console's files once; a missing console directory is a broken install (thrown at start). */
export async function createConsole(options: { endpoints: ConsoleEndpoints; idleTimeoutSeconds: number; dir?: string }): Promise<Middleware> {
  const dir = options.dir ?? CONSOLE_DIR;
  const index = await readFile(join(dir, 'index.html'));
  const assets = new Map<string, Asset>();
  for (const name of await readdir(join(dir, 'assets')).catch(() => [])) {
    const match = ASSET.exec(name);
    if (match) assets.set(name, { body: await readFile(join(dir, 'assets', name)), type: TYPES[match[1]] });
  }
  const { issuer } = options.endpoints;
  const urls = consoleUrls(issuer);
  const config = Buffer.from(JSON.stringify({
    ...options.endpoints,
    client_id: CONSOLE_CLIENT_ID,
    redirect_uri: urls.callback,
    post_logout_redirect_uri: urls.home,
    admin_api: `${issuer}/admin/v1`,
    resource: ADMIN_RESOURCE,
    scope: `openid ${ADMIN_SCOPE}`,
    idle_timeout_seconds: options.idleTimeoutSeconds,
  }));

  return async function adminConsole(ctx, next) {
    // The mutual-TLS listener is for machines: the console is not there.
    if ((ctx.path !== CONSOLE_PATH && !ctx.path.startsWith(`${CONSOLE_PATH}/`)) || listenerOf(ctx.req) !== 'public') {
      await next();
      return;
    }
    ctx.set(SECURITY_HEADERS);
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      ctx.body = { error: 'invalid_request', error_description: `${ctx.method} is not allowed on the console's pages; allowed: GET, HEAD` };
      return;
    }
    const rest = ctx.path.slice(CONSOLE_PATH.length);
    if (rest === '') {
      ctx.redirect(`${CONSOLE_PATH}/`);
      ctx.status = 301;
      return;
    }
    if (rest === '/' || rest === '/callback') {
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = index;
      return;
    }
    if (rest === '/config.json') {
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/json';
      ctx.body = config;
      return;
    }
    const asset = rest.startsWith('/assets/') ? assets.get(rest.slice('/assets/'.length)) : undefined;
    if (!asset) {
      ctx.status = 404;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'not_found', error_description: `no console page ${rest.slice(0, 200)}` };
      return;
    }
    // Short: a new version of certbound must not be mixed with an old cached module for long.
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = asset.type;
    ctx.body = asset.body;
  };
}
