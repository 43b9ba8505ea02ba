// GET /admin/v1/openapi.json, served without a token: it describes the API, it grants nothing.
// GET /admin/v1/me: who the token speaks for (the console shows the person's name).
import type { Route } from '../router.ts';
import { openApiDocument } from '../openapi.ts';
import { AUTH, statuses } from './statuses.ts';

/** The console's person as /me shows them; undefined when the account is gone. */
export type DescribePerson = (accountId: string) => Promise<{ username?: string; name?: string; roles: readonly string[] } | undefined>;

export function metaRoutes(describePerson?: DescribePerson): Route[] {
  return [{
    method: 'GET',
    path: '/me',
    name: 'getMe',
    auth: true,
    statuses: statuses(200, AUTH),
    async handler(ctx) {
      const admin = ctx.state.admin!;
      const person = admin.sub === undefined ? undefined : await describePerson?.(admin.sub);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        client_id: admin.clientId,
        ...(admin.thumbprint === undefined ? {} : { 'x5t#S256': admin.thumbprint }),
        ...(admin.sub === undefined ? {} : { sub: admin.sub }),
        ...(person?.username ? { username: person.username } : {}),
        ...(person?.name ? { name: person.name } : {}),
        ...(person ? { roles: [...person.roles] } : {}),
      };
    },
  }, {
    method: 'GET',
    path: '/openapi.json',
    name: 'getOpenApiDocument',
    auth: false,
    statuses: statuses(200),
    async handler(ctx) {
      ctx.body = openApiDocument;
    },
  }];
}
