// /admin/v1/clients: RFC 7591 client metadata in and out, cursor pages in client_id order,
// ETag/If-Match on every change, and one audit row in the transaction of each change.
import { deleteClient, findClient, insertClient, listClientsPage, lockClient, updateClientIfVersion, type ClientRow } from '../../storage/postgres/clients.ts';
import { addClientCertificate, listClientCertificates, retireClientCertificate } from '../../storage/postgres/client-certificates.ts';
import { registeredScopes, shareResourceServers } from '../../storage/postgres/resource-servers.ts';
import type { SqlClient } from '../../storage/sql.ts';
import { x5tS256 } from '../../mtls/thumbprint.ts';
import { X509Certificate } from 'node:crypto';
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { conflict, notFound } from '../errors.ts';
import { readJsonObject } from '../body.ts';
import { queryOf, limitOf, decodeCursor, page } from '../query.ts';
import { validateClientMetadata, type ValidatedClient } from '../client-metadata.ts';
import { certificateJwk, certificateRow } from '../certificates.ts';
import { etagOf, requiredIfMatch, optionalIfMatch, checkVersion, changedSinceEtag } from '../preconditions.ts';
import { recordChange, targets } from '../audit.ts';
import { finishRevocation, revokeGrantsInTransaction } from '../revoke.ts';
import { AUTH, BODY, statuses } from './statuses.ts';
import { CONSOLE_CLIENT_ID } from '../../oidc/vocabulary.ts';

/** The client as the API shows it: its metadata, client_id and disabled. PUT accepts it back. */
export function clientView(row: ClientRow): Record<string, unknown> {
  return { ...row.metadata, client_id: row.client_id, disabled: row.disabled };
}

function answerClient(ctx: AdminContext, row: ClientRow, status = 200): void {
  ctx.status = status;
  ctx.set('ETag', etagOf(row.version));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = clientView(row);
}

export async function existingClient(sql: SqlClient, clientId: string): Promise<ClientRow> {
  const row = await findClient(sql, clientId);
  if (!row) throw notFound(`client "${clientId}" is not registered`);
  return row;
}

export function isSelfSigned(metadata: Record<string, unknown>): boolean {
  return metadata.token_endpoint_auth_method === 'self_signed_tls_client_auth';
}

/**
 * A self-signed client's certificates ARE its jwks: make the certificate rows say what the jwks
 * says (retire those no longer in it, add or reactivate the others).
 */
async function syncCertificates(tx: SqlClient, clientId: string, certificates: readonly X509Certificate[]): Promise<void> {
  const wanted = new Set(certificates.map(x5tS256));
  for (const row of await listClientCertificates(tx, clientId)) {
    if (row.status === 'active' && !wanted.has(row.x5t_s256)) await retireClientCertificate(tx, clientId, row.x5t_s256);
  }
  for (const cert of certificates) await addClientCertificate(tx, certificateRow(clientId, cert));
}

export function clientRoutes(deps: RouteDeps): Route[] {
  async function validate(body: Record<string, unknown>, mode: 'create' | 'replace', pathClientId?: string): Promise<ValidatedClient> {
    return validateClientMetadata(body, {
      mode,
      ...(pathClientId === undefined ? {} : { pathClientId }),
      resourceServers: await registeredScopes(deps.sql),
      staticScopes: deps.staticScopes,
      adminClientIds: deps.adminClientIds,
      signingAlgs: deps.signingAlgs,
      ...(deps.minRsaBits === undefined ? {} : { minRsaBits: deps.minRsaBits }),
      validateWithProvider: deps.validateWithProvider,
    });
  }

  /**
   * Inside the write's transaction: the resource servers the client is to hold still define its
   * scopes, and stay so until the commit (for share), so a concurrent scope removal or delete
   * (routes/resource-servers.ts) either waits and then sees this client, or has already won.
   */
  async function confirmResources(tx: SqlClient, client: ValidatedClient): Promise<void> {
    const resources = client.metadata.resources as Record<string, string[]>;
    const current = await shareResourceServers(tx, Object.keys(resources));
    for (const [identifier, scopes] of Object.entries(resources)) {
      const defined = current.get(identifier);
      const lost = defined === undefined ? undefined : scopes.find((s) => !defined.includes(s));
      if (defined === undefined || lost !== undefined) {
        throw conflict(`resources[${JSON.stringify(identifier)}]: the resource server ${defined === undefined ? 'was deleted' : `no longer defines "${lost}"`} while this request ran; retry`);
      }
    }
  }

  function refuseSelf(ctx: AdminContext, clientId: string, what: string): void {
    if (ctx.state.admin?.clientId === clientId) {
      throw conflict(`client_id: "${clientId}" is the client this request is authenticated as; ${what} it with another admin client`);
    }
  }

  /**
   * certbound-console is certbound's own, registered at every start from the issuer (console/
   * registration.ts): an admin client that could point its redirect URIs elsewhere or delete it
   * would take the console from its people. "Revoke all tokens" stays open (it signs everyone out).
   */
  function refuseManaged(clientId: string, what: string): void {
    if (clientId === CONSOLE_CLIENT_ID) {
      throw conflict(`client_id: "${clientId}" is the admin console's client, managed by certbound at every start; it cannot ${what} through the API (CONSOLE=off disables it)`);
    }
  }

  async function listClients(ctx: AdminContext): Promise<void> {
    const query = queryOf(ctx, ['limit', 'cursor']);
    const limit = limitOf(query.limit);
    const after = decodeCursor(query.cursor, 1)?.[0];
    const rows = await listClientsPage(deps.sql, { after, limit: limit + 1 });
    const result = page(rows, limit, (row) => [row.client_id]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: result.rows.map(clientView), next_cursor: result.nextCursor };
  }

  async function createClient(ctx: AdminContext): Promise<void> {
    const client = await validate(await readJsonObject(ctx), 'create');
    const clientId = client.metadata.client_id;
    const row = await deps.sql.transaction(async (tx) => {
      await confirmResources(tx, client);
      const created = await insertClient(tx, client.metadata, client.disabled ?? false);
      if (!created) throw conflict(`client_id: "${clientId}" is already registered`);
      for (const cert of client.certificates) await addClientCertificate(tx, certificateRow(clientId, cert));
      await recordChange(tx, ctx, { action: 'client.create', target: targets.client(clientId), clientId, before: null, after: clientView(created) });
      return created;
    });
    ctx.set('Location', `/admin/v1/clients/${encodeURIComponent(clientId)}`);
    answerClient(ctx, row, 201);
  }

  async function getClient(ctx: AdminContext): Promise<void> {
    answerClient(ctx, await existingClient(deps.sql, ctx.state.params.client_id));
  }

  async function replaceClient(ctx: AdminContext): Promise<void> {
    const clientId = ctx.state.params.client_id;
    const current = await existingClient(deps.sql, clientId);
    const expected = requiredIfMatch(ctx);
    checkVersion(current.version, expected);
    const body = await readJsonObject(ctx);
    // A self-signed client's jwks is managed through /certificates: omitted on PUT = its active
    // certificates (unchanged for a client that was self-signed already).
    if (body.jwks === undefined && body.token_endpoint_auth_method === 'self_signed_tls_client_auth') {
      body.jwks = isSelfSigned(current.metadata)
        ? current.metadata.jwks
        : { keys: (await listClientCertificates(deps.sql, clientId)).filter((c) => c.status === 'active').map((c) => certificateJwk(new X509Certificate(c.pem))) };
    }
    refuseManaged(clientId, 'be replaced');
    const client = await validate(body, 'replace', clientId);
    if (client.disabled === true) refuseSelf(ctx, clientId, 'disable');
    const { before, after } = await deps.sql.transaction(async (tx) => {
      const locked = await lockClient(tx, clientId);
      if (!locked) throw notFound(`client "${clientId}" is not registered`);
      checkVersion(locked.version, expected); // the compare-and-set: one of two concurrent PUTs gets 412
      await confirmResources(tx, client);
      const updated = await updateClientIfVersion(tx, { metadata: client.metadata, disabled: client.disabled ?? locked.disabled, version: expected });
      if (!updated) throw changedSinceEtag();
      if (isSelfSigned(updated.metadata)) await syncCertificates(tx, clientId, client.certificates);
      await recordChange(tx, ctx, { action: 'client.update', target: targets.client(clientId), clientId, before: clientView(locked), after: clientView(updated) });
      return { before: locked, after: updated };
    });
    if (after.disabled && !before.disabled) await finishRevocation(deps, clientId, { grantIds: [], grants: 0, refreshTokens: 0 });
    answerClient(ctx, after);
  }

  async function removeClient(ctx: AdminContext): Promise<void> {
    const clientId = ctx.state.params.client_id;
    const current = await existingClient(deps.sql, clientId);
    const expected = optionalIfMatch(ctx);
    checkVersion(current.version, expected);
    refuseSelf(ctx, clientId, 'delete');
    refuseManaged(clientId, 'be deleted');
    const revoked = await deps.sql.transaction(async (tx) => {
      const locked = await lockClient(tx, clientId);
      if (!locked) throw notFound(`client "${clientId}" is not registered`);
      checkVersion(locked.version, expected);
      const grants = await revokeGrantsInTransaction(tx, clientId);
      await deleteClient(tx, clientId);
      await recordChange(tx, ctx, { action: 'client.delete', target: targets.client(clientId), clientId, before: clientView(locked), after: null });
      return grants;
    });
    await finishRevocation(deps, clientId, revoked);
    ctx.status = 204;
  }

  async function revokeClient(ctx: AdminContext): Promise<void> {
    const clientId = ctx.state.params.client_id;
    await existingClient(deps.sql, clientId);
    const revoked = await deps.sql.transaction(async (tx) => {
      if (!await lockClient(tx, clientId)) throw notFound(`client "${clientId}" is not registered`);
      const grants = await revokeGrantsInTransaction(tx, clientId);
      await recordChange(tx, ctx, {
        action: 'client.revoke',
        target: targets.client(clientId), clientId,
        before: null,
        after: { revoked_grants: grants.grants, revoked_refresh_tokens: grants.refreshTokens },
      });
      return grants;
    });
    const at = await finishRevocation(deps, clientId, revoked);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      client_id: clientId,
      revoked_grants: revoked.grants,
      revoked_refresh_tokens: revoked.refreshTokens,
      tokens_issued_before: new Date((at + 1) * 1000).toISOString(),
    };
  }

  return [
    { method: 'GET', path: '/clients', name: 'listClients', auth: true, statuses: statuses(200, 400, AUTH), handler: listClients },
    { method: 'POST', path: '/clients', name: 'createClient', auth: true, statuses: statuses(201, BODY, AUTH, 409), handler: createClient },
    { method: 'GET', path: '/clients/:client_id', name: 'getClient', auth: true, statuses: statuses(200, AUTH, 404), handler: getClient },
    { method: 'PUT', path: '/clients/:client_id', name: 'replaceClient', auth: true, statuses: statuses(200, BODY, AUTH, 404, 409, 412, 428), handler: replaceClient },
    { method: 'DELETE', path: '/clients/:client_id', name: 'deleteClient', auth: true, statuses: statuses(204, AUTH, 404, 409, 412), handler: removeClient },
    { method: 'POST', path: '/clients/:client_id/revoke', name: 'revokeClient', auth: true, statuses: statuses(200, AUTH, 404), handler: revokeClient },
  ];
}
