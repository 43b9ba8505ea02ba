// What the admin middleware chain leaves on ctx.state, typed once for every route handler, and
// the route a handler serves (router.ts matches them; the state names the one matched).
import type { Next, ParameterizedContext } from 'koa';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  method: Method;
  /** Relative to /admin/v1, with `:name` parameters: '/clients/:client_id'. */
  path: string;
  /** OpenAPI operationId. */
  name: string;
  /** false: served without an access token (the OpenAPI document only). */
  auth: boolean;
  /** Every status this route answers with; the OpenAPI document lists exactly these. */
  statuses: readonly number[];
  /** true: a POST that changes nothing (a check), not logged as an admin change */
  readOnly?: boolean;
  handler(ctx: AdminContext): Promise<void>;
}

/** The authenticated admin: who made the change, for the audit log. */
export interface AdminActor {
  clientId: string;
  /** x5t#S256 of the certificate the request presented (the token is bound to it); undefined for a console person. */
  thumbprint?: string | undefined;
  /** The person (the token's sub) for a change made through the console; undefined for a client. */
  sub?: string | undefined;
}

export interface AdminState {
  requestId: string;
  route?: Route;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
  admin?: AdminActor;
  /** Clients whose audit rows this request wrote (audit.ts recordChange): invalidated after the handler. */
  changedClients?: Set<string>;
  /** Resource servers whose audit rows this request wrote: invalidated after the handler (storage/resource-server-cache.ts). */
  changedResourceServers?: Set<string>;
}

export type AdminContext = ParameterizedContext<AdminState>;
export type AdminMiddleware = (ctx: AdminContext, next: Next) => Promise<void>;

/** Runs `middleware` in order, each awaiting the next (koa-compose in five lines). */
export function compose(middleware: readonly AdminMiddleware[]): AdminMiddleware {
  return function composed(ctx, next) {
    const step = (i: number): Promise<void> => (i === middleware.length ? next() : middleware[i](ctx, () => step(i + 1)));
    return step(0);
  };
}
