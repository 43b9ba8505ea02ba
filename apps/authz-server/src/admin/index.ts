// The management API, /admin/v1, as one Koa middleware mounted in front of oidc-provider
// (provider.use). Each request runs the named steps below in order; the route table is exposed
// so the OpenAPI test (and anyone else) can walk it.
import type { Middleware, Next, ParameterizedContext } from 'koa';
import type { JSONWebKeySet } from 'jose';
import { createVerifier, type ProxyHeaderFormat } from '@certbound/cnf-verifier';
import type { Logger } from '../log.ts';
import { listenerOf } from '../http/listeners.ts';
import type { SqlClient } from '../storage/sql.ts';
import type { ClientMetadata } from '../storage/postgres/clients.ts';
import type { RevocationList } from '../storage/kv/revocation-list.ts';
import type { ClientRevocations } from '../storage/kv/client-revocations.ts';
import type { TrustStore } from '../mtls/trust-store.ts';
import { compose, type AdminContext, type AdminMiddleware, type AdminState } from './context.ts';
import { createRouter, type Route } from './router.ts';
import { notFound } from './errors.ts';
import { requestId } from './request-id.ts';
import { createErrorHandler } from './error-handler.ts';
import { createAdminAuthentication } from './authenticate.ts';
import { ADMIN_RESOURCE } from './bootstrap.ts';
import { clientRoutes } from './routes/clients.ts';
import { certificateRoutes } from './routes/certificates.ts';
import { resourceServerRoutes } from './routes/resource-servers.ts';
import { auditRoutes } from './routes/audit.ts';
import { metaRoutes, type DescribePerson } from './routes/meta.ts';
import { enrollmentRoutes } from './routes/enrollment.ts';
import { refusalRoutes } from './routes/refusals.ts';
import { statusRoutes } from './routes/status.ts';
import type { ConsoleRouteDeps } from './deps.ts';
import type { Issuer } from '../enrollment/issuer.ts';

export { ADMIN_CLIENT_ID, ADMIN_RESOURCE, bootstrapAdmin } from './bootstrap.ts';
export { ADMIN_SCOPE } from './authenticate.ts';
export type { Route } from './router.ts';

export const ADMIN_PREFIX = '/admin/v1';

export interface AdminApiDeps extends ConsoleRouteDeps {
  issuer: string;
  trustedProxies: readonly string[];
  /** TRUSTED_PROXY_HEADER: required when trustedProxies is non-empty */
  trustedProxyHeader?: ProxyHeaderFormat | undefined;
  /** ACCESS_TOKEN_TTL */
  defaultAccessTokenTtl: number;
  logger: Logger;
  sql: SqlClient;
  /** the public parts of the signing keys: admin tokens are verified locally */
  publicJwks: JSONWebKeySet;
  trustStore: TrustStore;
  /** CLIENT_CERT_MIN_RSA_BITS */
  minRsaBits?: number;
  revocations: RevocationList;
  clientRevocations: ClientRevocations;
  /** adapter revokeByGrantId */
  revokeGrant(grantId: string): Promise<void>;
  /** oidc-provider's client validation on metadata as oidc-provider sees it */
  validateWithProvider(metadata: ClientMetadata): Promise<void>;
  staticScopes: ReadonlySet<string>;
  /** ADMIN_CLIENT_IDS: the only clients that may hold ADMIN_RESOURCE and call /admin/v1 */
  adminClientIds: readonly string[];
  signingAlgs: readonly string[];
  /**
   * The Client adapter's cache invalidation (storage/client-cache.ts): called after each request
   * that changed a client or its certificates, once its transaction has ended.
   */
  invalidateClient?(clientId: string): Promise<void>;
  /** The same for a resource server (storage/resource-server-cache.ts). */
  invalidateResourceServer?(identifier: string): Promise<void>;
  /** The console (CONSOLE=on): who has the admin role, and the shared store remembering DPoP proofs. */
  console?: {
    isAdminPerson(accountId: string): Promise<boolean>;
    /** GET /me: the person's username, name and roles */
    describePerson?: DescribePerson;
    replay: { setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> };
  } | undefined;
  /** enrollment's issuer (enrollment/issuer.ts); undefined = enrollment off */
  enrollmentIssuer?: Issuer | undefined;
}

export interface AdminApi {
  middleware: Middleware;
  readonly routes: readonly Route[];
}

export function createAdminApi(deps: AdminApiDeps): AdminApi {
  const { logger } = deps;
  // Created once, at start (STYLE.md item 2): strict = every admin token is sender-constrained;
  // the admin authenticates with its certificate, so DPoP is off.
  const verifier = createVerifier({
    issuer: deps.issuer,
    audience: ADMIN_RESOURCE,
    jwks: deps.publicJwks,
    mode: 'strict',
    dpop: false,
    trustedProxies: [...deps.trustedProxies],
    proxyHeader: deps.trustedProxyHeader,
  });
  // The console's people (public listener): DPoP-bound tokens only, proofs for the issuer's
  // origin, each proof accepted once across every instance (the shared store remembers its jti).
  const consoleVerifier = deps.console ? createVerifier({
    issuer: deps.issuer,
    audience: ADMIN_RESOURCE,
    jwks: deps.publicJwks,
    mode: 'strict',
    origin: new URL(deps.issuer).origin,
    dpop: { replayStore: { add: (key, ttlMs) => deps.console!.replay.setIfAbsent(`admin-dpop:${key}`, '1', ttlMs) } },
  }) : undefined;
  const authenticate = createAdminAuthentication({
    verifier, consoleVerifier, ...(deps.console ? { isAdminPerson: (accountId: string) => deps.console!.isAdminPerson(accountId) } : {}),
    revocations: deps.revocations, clientRevocations: deps.clientRevocations, adminClientIds: deps.adminClientIds,
  });
  const router = createRouter([
    ...metaRoutes(deps.console?.describePerson),
    ...clientRoutes(deps),
    ...certificateRoutes(deps),
    ...resourceServerRoutes(deps),
    ...auditRoutes(deps),
    ...enrollmentRoutes(deps),
    ...refusalRoutes(deps),
    ...statusRoutes(deps),
  ]);

  /** After everything: a status the route does not declare means the OpenAPI document lies. */
  const declaredStatus: AdminMiddleware = async function declaredStatus(ctx, next) {
    await next();
    const route = ctx.state.route;
    if (route && !route.statuses.includes(ctx.status)) {
      logger.warn({ event: 'admin_undeclared_status', route: route.name, status: ctx.status, request_id: ctx.state.requestId }, `admin route ${route.name} answered undeclared status ${ctx.status}`);
    }
  };

  // The public listener does not request client certificates: the admin API is there only for
  // the console's people (DPoP-bound tokens), and not at all with CONSOLE=off.
  const listenerAllowed: AdminMiddleware = async function listenerAllowed(ctx, next) {
    if (listenerOf(ctx.req) !== 'mtls' && !deps.console) throw notFound(`the management API is served on the mutual-TLS listener only`);
    await next();
  };

  const route: AdminMiddleware = async function route(ctx, next) {
    if (!ctx.path.startsWith(`${ADMIN_PREFIX}/`)) throw notFound(`no admin route ${ctx.method} ${ctx.path}`);
    const match = router.match(ctx.method, ctx.path.slice(ADMIN_PREFIX.length));
    ctx.state.route = match.route;
    ctx.state.params = match.params;
    await next();
  };

  const authenticateRoute: AdminMiddleware = async function authenticateRoute(ctx, next) {
    if (ctx.state.route!.auth) await authenticate(ctx, next);
    else await next();
  };

  const dispatch: AdminMiddleware = async function dispatch(ctx) {
    const current = ctx.state.route!;
    try {
      await current.handler(ctx);
    } finally {
      // The handler's transaction has committed (or rolled back: one needless invalidation), so
      // no instance can reload the old client. Every audited client change passes here.
      await invalidateChangedClients(ctx);
    }
    if (current.method !== 'GET' && current.readOnly !== true) {
      logger.info({
        event: 'admin_change', request_id: ctx.state.requestId, route: current.name, status: ctx.status,
        actor: ctx.state.admin?.clientId, ...(ctx.state.admin?.sub ? { sub: ctx.state.admin.sub } : {}), path: ctx.path,
      }, `admin ${current.name}`);
    }
  };

  async function invalidateChangedClients(ctx: AdminContext): Promise<void> {
    for (const identifier of ctx.state.changedResourceServers ?? []) {
      // Redis unreachable: the publish is skipped (client-cache.ts); other instances' entries expire in ≤ 2 s.
      await deps.invalidateResourceServer?.(identifier).catch((err: unknown) => logger.error({ event: 'cache_invalidation_failed', identifier, err }, 'publishing a resource server invalidation failed'));
    }
    const changed = ctx.state.changedClients;
    if (changed === undefined || deps.invalidateClient === undefined) return;
    for (const clientId of changed) {
      try {
        await deps.invalidateClient(clientId);
      } catch (err) {
        // The change stands: the local entry is gone and other instances' entries expire in ≤ 2 s.
        logger.error({ event: 'client_cache_invalidation_failed', request_id: ctx.state.requestId, client_id: clientId, err }, 'publishing a client invalidation failed');
      }
    }
  }

  const handle = compose([requestId, declaredStatus, createErrorHandler(logger), listenerAllowed, route, authenticateRoute, dispatch]);

  return {
    routes: router.routes,
    // Everything under /admin is answered here and never reaches oidc-provider.
    middleware: async function adminApi(ctx: ParameterizedContext, next: Next): Promise<void> {
      if (ctx.path !== '/admin' && !ctx.path.startsWith('/admin/')) {
        await next();
        return;
      }
      await handle(ctx as ParameterizedContext<AdminState>, async () => undefined);
    },
  };
}
