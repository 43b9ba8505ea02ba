// /admin/v1/resource-servers: the RFC 8707 resource indicators tokens are issued for. oidc-provider
// reads them through oidc/resource-indicators.ts (cached 2 s), so a change lands within seconds.
// Clients hold scopes per resource server (client metadata `resources`): a scope some client
// holds cannot be removed, nor a held resource server deleted (409 naming the clients), so no
// grant silently changes meaning. The admin API's own resource server is certbound's: 409.
import {
  deleteResourceServer,
  findResourceServer,
  insertResourceServer,
  listResourceServersPage,
  lockResourceServer,
  updateResourceServerIfVersion,
  type ResourceServerRow,
} from '../../storage/postgres/resource-servers.ts';
import { clientsHoldingResource } from '../../storage/postgres/clients.ts';
import type { SqlClient } from '../../storage/sql.ts';
import { ADMIN_RESOURCE } from '../../oidc/resource-indicators.ts';
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { conflict, notFound } from '../errors.ts';
import { readJsonObject } from '../body.ts';
import { decodeCursor, limitOf, page, queryOf } from '../query.ts';
import { validateResourceServer } from '../resource-server-input.ts';
import { changedSinceEtag, checkVersion, etagOf, optionalIfMatch, requiredIfMatch } from '../preconditions.ts';
import { recordChange, targets } from '../audit.ts';
import { AUTH, BODY, statuses } from './statuses.ts';

/** 'client "a"' / 'clients "a", "b"' (at most 10 are looked up; "…" says there may be more) */
function clientList(ids: readonly string[]): string {
  const names = ids.map((id) => `"${id}"`).join(', ');
  return `client${ids.length > 1 ? 's' : ''} ${names}${ids.length >= 10 ? ', …' : ''}`;
}

/** Inside the transaction holding the row lock: a client registered meanwhile is seen. */
async function refuseHeldScopes(tx: SqlClient, identifier: string, removed: readonly string[]): Promise<void> {
  if (removed.length === 0) return;
  const holders = await clientsHoldingResource(tx, identifier, { scopes: removed });
  if (holders.length === 0) return;
  throw conflict(`scopes: ${removed.map((s) => `"${s}"`).join(', ')} of resource server "${identifier}" ${removed.length > 1 ? 'are' : 'is'} held by ${clientList(holders)}; remove ${removed.length > 1 ? 'them' : 'it'} from their resources first`);
}

function refuseAdminResource(identifier: string, what: string): void {
  if (identifier === ADMIN_RESOURCE) throw conflict(`resource server "${ADMIN_RESOURCE}" is the admin API, registered and managed by certbound; it cannot be ${what}`);
}

export function resourceServerView(row: ResourceServerRow): Record<string, unknown> {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes,
    token_format: row.token_format,
    access_token_ttl: row.access_token_ttl,
    sender_constraint_required: row.sender_constraint_required,
  };
}

function answer(ctx: AdminContext, row: ResourceServerRow, status = 200): void {
  ctx.status = status;
  ctx.set('ETag', etagOf(row.version));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = resourceServerView(row);
}

export function resourceServerRoutes(deps: RouteDeps): Route[] {
  async function existing(identifier: string): Promise<ResourceServerRow> {
    const row = await findResourceServer(deps.sql, identifier);
    if (!row) throw notFound(`resource server "${identifier}" is not registered`);
    return row;
  }

  async function listResourceServers(ctx: AdminContext): Promise<void> {
    const query = queryOf(ctx, ['limit', 'cursor']);
    const limit = limitOf(query.limit);
    const rows = await listResourceServersPage(deps.sql, { after: decodeCursor(query.cursor, 1)?.[0], limit: limit + 1 });
    const result = page(rows, limit, (row) => [row.identifier]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: result.rows.map(resourceServerView), next_cursor: result.nextCursor };
  }

  async function createResourceServer(ctx: AdminContext): Promise<void> {
    const values = validateResourceServer(await readJsonObject(ctx), { mode: 'create', staticScopes: deps.staticScopes });
    const row = await deps.sql.transaction(async (tx) => {
      const created = await insertResourceServer(tx, values);
      if (!created) throw conflict(`identifier: "${values.identifier}" is already registered`);
      await recordChange(tx, ctx, { action: 'resource_server.create', target: targets.resourceServer(values.identifier), before: null, after: resourceServerView(created) });
      return created;
    });
    ctx.set('Location', `/admin/v1/resource-servers/${encodeURIComponent(values.identifier)}`);
    answer(ctx, row, 201);
  }

  async function getResourceServer(ctx: AdminContext): Promise<void> {
    answer(ctx, await existing(ctx.state.params.identifier));
  }

  async function replaceResourceServer(ctx: AdminContext): Promise<void> {
    const identifier = ctx.state.params.identifier;
    const current = await existing(identifier);
    refuseAdminResource(identifier, 'changed');
    const expected = requiredIfMatch(ctx);
    checkVersion(current.version, expected);
    const values = validateResourceServer(await readJsonObject(ctx), { mode: 'replace', pathIdentifier: identifier, staticScopes: deps.staticScopes });
    const row = await deps.sql.transaction(async (tx) => {
      const locked = await lockResourceServer(tx, identifier);
      if (!locked) throw notFound(`resource server "${identifier}" is not registered`);
      checkVersion(locked.version, expected);
      await refuseHeldScopes(tx, identifier, locked.scopes.filter((s) => !values.scopes.includes(s)));
      const updated = await updateResourceServerIfVersion(tx, { ...values, version: expected });
      if (!updated) throw changedSinceEtag();
      await recordChange(tx, ctx, { action: 'resource_server.update', target: targets.resourceServer(identifier), before: resourceServerView(locked), after: resourceServerView(updated) });
      return updated;
    });
    answer(ctx, row);
  }

  async function removeResourceServer(ctx: AdminContext): Promise<void> {
    const identifier = ctx.state.params.identifier;
    const current = await existing(identifier);
    refuseAdminResource(identifier, 'deleted');
    const expected = optionalIfMatch(ctx);
    checkVersion(current.version, expected);
    await deps.sql.transaction(async (tx) => {
      const locked = await lockResourceServer(tx, identifier);
      if (!locked) throw notFound(`resource server "${identifier}" is not registered`);
      checkVersion(locked.version, expected);
      // Inside the transaction: a client registered meanwhile with this resource is seen.
      const holders = await clientsHoldingResource(tx, identifier);
      if (holders.length > 0) {
        throw conflict(`resource server "${identifier}" is held by ${clientList(holders)}; remove it from their resources first`);
      }
      await deleteResourceServer(tx, identifier);
      await recordChange(tx, ctx, { action: 'resource_server.delete', target: targets.resourceServer(identifier), before: resourceServerView(locked), after: null });
    });
    ctx.status = 204;
  }

  return [
    { method: 'GET', path: '/resource-servers', name: 'listResourceServers', auth: true, statuses: statuses(200, 400, AUTH), handler: listResourceServers },
    { method: 'POST', path: '/resource-servers', name: 'createResourceServer', auth: true, statuses: statuses(201, BODY, AUTH, 409), handler: createResourceServer },
    { method: 'GET', path: '/resource-servers/:identifier', name: 'getResourceServer', auth: true, statuses: statuses(200, AUTH, 404), handler: getResourceServer },
    { method: 'PUT', path: '/resource-servers/:identifier', name: 'replaceResourceServer', auth: true, statuses: statuses(200, BODY, AUTH, 404, 409, 412, 428), handler: replaceResourceServer },
    { method: 'DELETE', path: '/resource-servers/:identifier', name: 'deleteResourceServer', auth: true, statuses: statuses(204, AUTH, 404, 409, 412), handler: removeResourceServer },
  ];
}
