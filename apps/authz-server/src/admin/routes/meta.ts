// GET /admin/v1/openapi.json, served without a token: it describes the API, it grants nothing.
import type { Route } from '../router.ts';
import { openApiDocument } from '../openapi.ts';
import { statuses } from './statuses.ts';

export function metaRoutes(): Route[] {
  return [{
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
